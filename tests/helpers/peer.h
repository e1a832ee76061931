/*
 * cs-test-peer: the WebSocket peers of the proxy tests, in one binary with three modes:
 *   app    a fake `codex app-server` (bearer check, echo, scripted commands)
 *   client a scripted fake TUI
 *   proxy  the real proxy (src/proxy.c) with test hooks, driven through stdin
 * Every mode prints its events as lines on stdout for the driving test to read.
 */
#ifndef CS_TEST_PEER_H
#define CS_TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <openssl/evp.h>

#define PEER_CHUNK (64 * 1024)

void peer_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The value after `name` in argv, or def. */
const char *peer_arg(int argc, char **argv, const char *name, const char *def);
long peer_num(const char *s);

/* Deterministic message contents: a JSON text message or binary bytes of any size. */
void peer_gen(bool binary, size_t total, size_t off, unsigned char *out, size_t n);
void peer_gen_sha256(bool binary, size_t total, unsigned char out[32]);

/* Outgoing messages, written one frame per WRITEABLE. */
struct peer_job;
struct peer_tx {
	struct peer_job *head, *tail;
};
/* Queues a message: a copy of data, or generated contents when data is NULL; frag is the
 * fragment size. */
int peer_tx_add(struct peer_tx *tx, bool binary, const void *data, size_t len, size_t frag);
/* Writes one frame; -1 when lws failed. */
int peer_tx_write(struct peer_tx *tx, struct lws *wsi);
bool peer_tx_pending(const struct peer_tx *tx);
void peer_tx_clear(struct peer_tx *tx);

/* A received message, digested as it streams in. */
struct peer_rx {
	EVP_MD_CTX *md;
	bool binary;
	size_t len;
	unsigned char sha[32];
	char prefix[4096];
	size_t plen;
};
/* Feeds one RECEIVE chunk; true when it completed a message. */
bool peer_rx_chunk(struct peer_rx *rx, struct lws *wsi, const void *in, size_t len);
void peer_rx_release(struct peer_rx *rx);

int peer_app_main(int argc, char **argv);
int peer_client_main(int argc, char **argv);
int peer_proxy_main(int argc, char **argv);

#endif
