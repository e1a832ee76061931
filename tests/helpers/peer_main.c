#include "peer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char big_head[] = "{\"method\":\"test/payload\",\"params\":\"";
static const char big_tail[] = "\"}";

struct peer_job {
	struct peer_job *next;
	bool binary;
	size_t total, off, frag;
	unsigned char *data; /* NULL: generated */
};

void peer_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

const char *peer_arg(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], name) == 0) {
			return argv[i + 1];
		}
	}
	return def;
}

long peer_num(const char *s)
{
	return s ? strtol(s, NULL, 10) : 0;
}

static unsigned char gen_byte(bool binary, size_t total, size_t i)
{
	size_t hl = sizeof(big_head) - 1, tl = sizeof(big_tail) - 1;

	if (binary) {
		return (unsigned char)((i * 31 + 7) & 0xff);
	}
	if (total < hl + tl) {
		return 'x';
	}
	if (i < hl) {
		return (unsigned char)big_head[i];
	}
	if (i >= total - tl) {
		return (unsigned char)big_tail[i - (total - tl)];
	}
	return (unsigned char)('a' + (i % 26));
}

void peer_gen(bool binary, size_t total, size_t off, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = gen_byte(binary, total, off + i);
	}
}

void peer_gen_sha256(bool binary, size_t total, unsigned char out[32])
{
	static unsigned char chunk[PEER_CHUNK];
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t off = 0; off < total; off += PEER_CHUNK) {
		size_t n = total - off < PEER_CHUNK ? total - off : PEER_CHUNK;

		peer_gen(binary, total, off, chunk, n);
		EVP_DigestUpdate(md, chunk, n);
	}
	EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
}

int peer_tx_add(struct peer_tx *tx, bool binary, const void *data, size_t len, size_t frag)
{
	struct peer_job *j = calloc(1, sizeof(*j));

	if (!j) {
		return -ENOMEM;
	}
	j->binary = binary;
	j->total = len;
	j->frag = frag ? frag : PEER_CHUNK;
	if (data) {
		j->data = malloc(len ? len : 1);
		if (!j->data) {
			free(j);
			return -ENOMEM;
		}
		memcpy(j->data, data, len);
	}
	if (tx->tail) {
		tx->tail->next = j;
	} else {
		tx->head = j;
	}
	tx->tail = j;
	return 0;
}

static void pop(struct peer_tx *tx)
{
	struct peer_job *j = tx->head;

	tx->head = j->next;
	if (!tx->head) {
		tx->tail = NULL;
	}
	free(j->data);
	free(j);
}

int peer_tx_write(struct peer_tx *tx, struct lws *wsi)
{
	static unsigned char buf[LWS_PRE + PEER_CHUNK];
	struct peer_job *j = tx->head;
	size_t n;
	int flags;

	if (!j) {
		return 0;
	}
	n = j->total - j->off;
	if (n > j->frag) {
		n = j->frag;
	}
	if (n > PEER_CHUNK) {
		n = PEER_CHUNK;
	}
	if (j->data) {
		memcpy(buf + LWS_PRE, j->data + j->off, n);
	} else {
		peer_gen(j->binary, j->total, j->off, buf + LWS_PRE, n);
	}
	flags = lws_write_ws_flags(j->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, j->off == 0,
	                           j->off + n == j->total);
	if (lws_write(wsi, buf + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n) {
		return -1;
	}
	j->off += n;
	if (j->off == j->total) {
		pop(tx);
	}
	return 0;
}

bool peer_tx_pending(const struct peer_tx *tx)
{
	return tx->head != NULL;
}

void peer_tx_clear(struct peer_tx *tx)
{
	while (tx->head) {
		pop(tx);
	}
}

bool peer_rx_chunk(struct peer_rx *rx, struct lws *wsi, const void *in, size_t len)
{
	size_t room;

	if (lws_is_first_fragment(wsi)) {
		if (!rx->md) {
			rx->md = EVP_MD_CTX_new();
		}
		EVP_DigestInit_ex(rx->md, EVP_sha256(), NULL);
		rx->binary = lws_frame_is_binary(wsi);
		rx->len = 0;
		rx->plen = 0;
	}
	EVP_DigestUpdate(rx->md, in, len);
	rx->len += len;
	room = sizeof(rx->prefix) - 1 - rx->plen;
	if (room > len) {
		room = len;
	}
	memcpy(rx->prefix + rx->plen, in, room);
	rx->plen += room;
	rx->prefix[rx->plen] = '\0';
	if (!lws_is_final_fragment(wsi)) {
		return false;
	}
	EVP_DigestFinal_ex(rx->md, rx->sha, NULL);
	return true;
}

void peer_rx_release(struct peer_rx *rx)
{
	EVP_MD_CTX_free(rx->md);
	rx->md = NULL;
}

int main(int argc, char **argv)
{
	lws_set_log_level(LLL_ERR, NULL);
	if (argc >= 2 && strcmp(argv[1], "app") == 0) {
		return peer_app_main(argc, argv);
	}
	if (argc >= 2 && strcmp(argv[1], "client") == 0) {
		return peer_client_main(argc, argv);
	}
	if (argc >= 2 && strcmp(argv[1], "proxy") == 0) {
		return peer_proxy_main(argc, argv);
	}
	fprintf(stderr, "usage: cs-test-peer app|client|proxy [options]\n");
	return 2;
}
