/*
 * The client end of RFC 6455 for connections whose bytes we read and write ourselves: the
 * opening handshake and a streaming frame parser and writer.
 *
 * Why not the lws client role: libwebsockets 4.1.6 parses every byte a client receives through
 * its state machine one call at a time (lws_ws_client_rx_sm), which caps a client near
 * 200 MB/s of CPU. The parser here hands out payload slices straight from the read buffer, so a
 * 64 KiB read costs one header parse and no copy.
 *
 * Only what a client of the codex app-server needs: no extensions (reserved bits are an error),
 * server frames unmasked, control frames at most 125 bytes.
 */
#ifndef CS_WSFRAME_H
#define CS_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSFRAME_HDR_MAX  14 /* 2 + 8 (64-bit length) + 4 (mask) */
#define WSFRAME_CTRL_MAX 125
#define WSFRAME_KEY_LEN  24 /* base64 of 16 random bytes */

enum wsframe_op {
	WSFRAME_CONT = 0,
	WSFRAME_TEXT = 1,
	WSFRAME_BINARY = 2,
	WSFRAME_CLOSE = 8,
	WSFRAME_PING = 9,
	WSFRAME_PONG = 10,
};

/* ---- opening handshake ---- */

/* A fresh Sec-WebSocket-Key (NUL-terminated). 0 or -errno. */
int wsframe_new_key(char key[WSFRAME_KEY_LEN + 1]);

/* The upgrade request for GET path on host:port with the given extra header lines (each ending
 * in "\r\n", may be NULL). Caller frees (util_free_secret when it holds a token); NULL on
 * -ENOMEM. */
char *wsframe_request(const char *host, int port, const char *path, const char *key,
                      const char *extra_headers);

/*
 * Checks the response head in data[0..len). Returns the head's length (the bytes after it are
 * frames), -EAGAIN when the head is not complete yet, -E2BIG past 16 KiB without an end,
 * -ECONNREFUSED when the status is not 101 (*status holds it), -EPROTO when the upgrade or
 * Sec-WebSocket-Accept is wrong.
 */
long wsframe_response(const char *data, size_t len, const char *key, int *status);

/* ---- frames from the server ---- */

struct wsframe_rx {
	unsigned char hdr[WSFRAME_HDR_MAX];
	size_t hlen;   /* header bytes collected */
	uint64_t left; /* payload bytes left in the current frame */
	bool in_payload;
	unsigned op; /* opcode of the current frame */
	bool fin;
	bool in_message;  /* a data message is open (its final frame not seen yet) */
	bool msg_binary;  /* of the open message */
	bool msg_started; /* a slice of the open message was handed out */
	unsigned char ctrl[WSFRAME_CTRL_MAX];
	size_t clen;
};

struct wsframe_event {
	enum wsframe_op op;        /* WSFRAME_TEXT/BINARY for data, else the control opcode */
	const unsigned char *data; /* borrowed: into the input (data) or into rx (control) */
	size_t len;
	bool first; /* data: the first slice of its message */
	bool final; /* data: the last slice of its message */
};

void wsframe_rx_init(struct wsframe_rx *rx);

/*
 * Consumes bytes of in[0..len) up to the next event. Returns the bytes consumed and sets *have
 * when *ev holds an event (a data slice, or a whole control frame), or -EPROTO on a framing error
 * (a masked server frame, reserved bits, a control frame over 125 bytes or fragmented, a
 * continuation without a message, a new message inside one). Call it in a loop until the input
 * is used up; a slice never spans two reads.
 */
long wsframe_parse(struct wsframe_rx *rx, const unsigned char *in, size_t len,
                   struct wsframe_event *ev, bool *have);

/* ---- frames to the server ---- */

/* Writes a frame header for a payload of len bytes into out (WSFRAME_HDR_MAX bytes of room) and
 * returns its length: masked with mask (a client frame), or unmasked when mask is NULL (a server
 * frame). */
size_t wsframe_header(unsigned char *out, enum wsframe_op op, bool fin, uint64_t len,
                      const unsigned char mask[4]);

/* XORs p[0..n) with the mask, as if the payload started at mask offset 0. */
void wsframe_mask(unsigned char *p, size_t n, const unsigned char mask[4]);

#endif
