/*
 * RFC 6455 for connections whose bytes we read and write ourselves, both ends: the opening
 * handshake (client request and server response), a streaming frame parser and the writer.
 *
 * Why not the lws client role: libwebsockets 4.1.6 parses every byte a client receives through
 * its state machine one call at a time (lws_ws_client_rx_sm), which caps a client near
 * 200 MB/s of CPU. The parser here hands out payload slices straight from the read buffer, so a
 * 64 KiB read costs one header parse and no copy.
 *
 * No extensions (reserved bits are an error), client frames masked and server frames not,
 * control frames at most 125 bytes.
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

/* ---- opening handshake, server end ---- */

/* What an HTTP request head says about a WebSocket upgrade. Pointers point into the head. */
struct wsframe_upgrade {
	bool get;         /* the method is GET */
	bool upgrade;     /* GET with HTTP/1.1 or a later 1.x, Upgrade: websocket, Connection
	                     lists "upgrade" (any case), version 13 and a Sec-WebSocket-Key of 24
	                     base64 characters (22 and "==", 16 bytes) */
	bool origin;      /* an Origin header is present */
	const char *key;  /* the Sec-WebSocket-Key value (WSFRAME_KEY_LEN bytes) when upgrade */
	const char *auth; /* the Authorization value, spaces around it trimmed; NULL if absent */
	size_t auth_len;
};

/*
 * Parses the request head in data[0..len). Returns the head's length (the bytes after it are
 * frames), -EAGAIN when the head is not complete yet, -E2BIG when max bytes hold no end of head,
 * -EPROTO when it does not start with an HTTP/1.x request line (known as soon as that line is
 * in, even before the head is complete). Header names are matched case-insensitively, the first
 * of each counts; a line may end in "\n" alone. *u is zeroed first and filled on success.
 */
long wsframe_parse_upgrade(const char *data, size_t len, size_t max, struct wsframe_upgrade *u);

/* The "101 Switching Protocols" response for key (WSFRAME_KEY_LEN bytes) into out, with a NUL.
 * Its length, or -ENOSPC (outsz < 160 may not do) or -EIO (the digest failed). */
long wsframe_accept_response(const char *key, char *out, size_t outsz);

/* ---- frames from the peer ---- */

struct wsframe_rx {
	unsigned char hdr[WSFRAME_HDR_MAX];
	size_t hlen;   /* header bytes collected */
	uint64_t left; /* payload bytes left in the current frame */
	bool in_payload;
	unsigned op; /* opcode of the current frame */
	bool fin;
	bool in_message;     /* a data message is open (its final frame not seen yet) */
	bool msg_binary;     /* of the open message */
	bool msg_started;    /* a slice of the open message was handed out */
	uint32_t msg_frames; /* frames of the open message so far */
	uint32_t max_frames; /* more frames in one message: -EMSGSIZE (0: no limit) */
	uint64_t max_len;    /* a data frame longer than this: -EMSGSIZE (0: no limit) */
	unsigned char ctrl[WSFRAME_CTRL_MAX];
	size_t clen;
	bool from_client;     /* frames must be masked */
	bool keep_mask;       /* data payload from a client stays masked: events carry the mask */
	unsigned char key[4]; /* mask of the current frame */
	size_t moff;          /* payload bytes of the current frame handed out so far */
};

struct wsframe_event {
	enum wsframe_op op;        /* WSFRAME_TEXT/BINARY for data, else the control opcode */
	const unsigned char *data; /* borrowed: into the input (data) or into rx (control) */
	size_t len;
	bool first;            /* data: the first slice of its message */
	bool final;            /* data: the last slice of its message */
	bool masked;           /* data read with keep_mask: still masked, with mask */
	unsigned char mask[4]; /* the mask of data[0..len), as if data[0] were at offset 0 */
};

/* from_client: the frames come from a client, so every one must be masked (a server's never
 * are); their payload is unmasked in place, unless keep_mask is set after (then each data event
 * says how its bytes are masked: a relay can pass them on masked, unread). No limits: set
 * max_frames and max_len after. */
void wsframe_rx_init(struct wsframe_rx *rx, bool from_client);

/*
 * Consumes bytes of in[0..len) up to the next event. Returns the bytes consumed and sets *have
 * when *ev holds an event (a data slice, or a whole control frame); -EPROTO on a framing error
 * (a frame masked or not against the rule of wsframe_rx_init, reserved bits, an unknown opcode,
 * a control frame with more than 125 bytes, an extended length or no FIN, a continuation
 * without a message, a new message inside one, a length not in its minimal form), answered
 * with close 1002; -EMSGSIZE for a 64-bit length with its top bit set, a data frame over
 * max_len or a message of more than max_frames frames, answered with close 1009.
 * Call it in a loop until the input is used up; a slice never spans two reads. Payload from a
 * client is unmasked in place in in[] (data payload left masked with keep_mask; control payload
 * is always unmasked, in rx's copy).
 */
long wsframe_parse(struct wsframe_rx *rx, unsigned char *in, size_t len, struct wsframe_event *ev,
                   bool *have);

/* Close codes a peer may send (RFC 6455 7.4): 1000-1014 but 1004-1006, and 3000-4999. */
bool wsframe_close_code_ok(int code);
/* p[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool wsframe_utf8_ok(const unsigned char *p, size_t n);

/* Close codes (RFC 6455 7.4.1) this side sends. */
enum wsframe_close_code {
	WSFRAME_CLOSE_NORMAL = 1000,
	WSFRAME_CLOSE_GOING_AWAY = 1001,
	WSFRAME_CLOSE_PROTOCOL = 1002,
	WSFRAME_CLOSE_INVALID_DATA = 1007,
	WSFRAME_CLOSE_POLICY = 1008,
	WSFRAME_CLOSE_TOO_LARGE = 1009,
	WSFRAME_CLOSE_UNEXPECTED = 1011,
};

/* Checks a received close frame's payload: 0 when it may be answered with its own code,
 * WSFRAME_CLOSE_PROTOCOL for one byte or a code no peer may send, WSFRAME_CLOSE_INVALID_DATA
 * when the reason is not UTF-8. */
int wsframe_close_check(const unsigned char *p, size_t n);

/* ---- frames to the peer ---- */

/* Writes a frame header for a payload of len bytes into out (WSFRAME_HDR_MAX bytes of room) and
 * returns its length: masked with mask (a client frame), or unmasked when mask is NULL (a server
 * frame). */
size_t wsframe_header(unsigned char *out, enum wsframe_op op, bool fin, uint64_t len,
                      const unsigned char mask[4]);

/* XORs p[0..n) with the mask, as if the payload started at mask offset 0. */
void wsframe_mask(unsigned char *p, size_t n, const unsigned char mask[4]);
/* The same for bytes that start at payload offset off (the mask rotates by off % 4). */
void wsframe_mask_at(unsigned char *p, size_t n, const unsigned char mask[4], size_t off);
/* The mask of the payload bytes that start off bytes into a payload masked with mask: the mask
 * of a frame that carries only those bytes, unchanged on the wire. */
void wsframe_mask_shift(unsigned char out[4], const unsigned char mask[4], size_t off);

#endif
