/*
 * Internals shared by proxy.c (context, listener, auth, fds, control connection) and
 * proxy_relay.c (the per-connection relay). Not for other modules.
 */
#ifndef CS_PROXY_INT_H
#define CS_PROXY_INT_H

#include <stdint.h>

#include <libwebsockets.h>

#include "buf.h"
#include "proxy.h"
#include "wsframe.h"
#include "wsq.h"

/* Sides of a conn: the TUI (lws server side) and the app-server (lws client side). */
enum { SIDE_DOWN = 0, SIDE_UP = 1 };

#define PROXY_TX_CHUNK (64 * 1024)
/* Frames up to this size are copied and coalesced into one write; larger ones go out in place. */
#define PROXY_COALESCE_MAX (8 * 1024)
#define PROXY_REASON_MAX   123 /* a close payload is at most 125 bytes, 2 of them the code */

enum rx_mode {
	RX_IDLE,     /* between messages */
	RX_HEAD,     /* collecting the first bytes of a text message to classify it */
	RX_STREAM,   /* forwarding fragment by fragment */
	RX_ASSEMBLE, /* reassembling an intercepted message for a hook */
	RX_DISCARD,  /* dropping the rest of a message nobody will read */
};

/* Receive state of one side: the message being read from it. */
struct rxstate {
	enum rx_mode mode;
	bool binary;
	bool started;   /* a fragment of this message was queued toward the other side */
	bool discard;   /* the side is being closed for a too large message: drop the rest */
	size_t total;   /* bytes of this message so far */
	struct buf acc; /* head prefix or reassembled message */
};

/* The upstream's own WebSocket state (proxy_up.c). */
struct upstate {
	struct wsframe_rx fr;
	char key[WSFRAME_KEY_LEN + 1];
	char *req; /* the upgrade request until it is written (holds the token) */
	size_t req_len;
	struct buf head; /* the response head while the handshake runs */
	unsigned char pong[WSFRAME_CTRL_MAX];
	size_t pong_len;
	bool pong_pending;
	bool close_sent; /* our close frame is out: waiting for the server's reply */
	bool close_echo; /* the server closed: echo its code, then hang up */
	unsigned char echo[2];
	size_t echo_len;
	uint64_t rng;       /* frame masks */
	unsigned char *out; /* framed bytes being sent (UP_OUT_CAP), out_off of out_len sent */
	size_t out_off, out_len;
};

struct close_info {
	bool set;
	int code;
	char reason[PROXY_REASON_MAX + 1];
};

struct proxy_conn {
	struct proxy *p;
	struct proxy_conn *next;
	bool control;
	bool opened; /* conn_opened was called */
	struct lws *wsi[2];
	bool up_established;
	bool connecting;      /* inside lws_client_connect_via_info() */
	bool connect_failed;  /* an error callback came while connecting */
	struct wsq q[2];      /* q[S]: toward side S */
	struct rxstate rx[2]; /* rx[S]: from side S */
	bool rx_paused[2];
	bool flush[2]; /* data was queued toward S during this read: write it at the end */
	struct upstate up;
	struct close_info closing[2]; /* close requested toward S, after its queue drains */
	struct close_info gone[2];    /* why side S went away, passed on to the other side */
	lws_sorted_usec_list_t sul;   /* control connect retries */
	bool retry_pending;
	lws_usec_t deadline_us;
	unsigned backoff_ms;
};

struct proxy_watch {
	struct proxy_watch *next;
	int fd;
	void *ctx;
	struct lws *wsi;
	bool unwatched;
	bool in_callback;
};

struct proxy {
	struct proxy_config cfg;
	struct lws_context *cx;
	struct lws_vhost *down_vh, *up_vh;
	int port;
	char *bearer; /* "Bearer <token>", for the upstream handshake */
	struct proxy_conn *conns;
	struct proxy_conn *control; /* the control conn from proxy_control_open() until closed */
	struct proxy_watch *watches;
	unsigned char *txbuf; /* LWS_PRE + PROXY_TX_CHUNK: small frames coalesced into one write */
	bool destroying;
};

/* proxy_relay.c */
struct proxy_conn *proxy_relay_new(struct proxy *p, bool control);
void proxy_relay_up_established(struct proxy_conn *c);
void proxy_relay_up_error(struct proxy_conn *c, const char *why);
/* One slice of the message being read from side (final: its last). */
int proxy_relay_receive(struct proxy_conn *c, int side, const void *in, size_t len, bool binary,
                        bool final);
/* Writes what the current read queued, at once when the socket allows (end of every read). */
void proxy_relay_flush(struct proxy_conn *c);
int proxy_relay_writeable(struct proxy_conn *c, int side, struct lws *wsi);
void proxy_relay_peer_close(struct proxy_conn *c, int side, const void *in, size_t len);
void proxy_relay_side_gone(struct proxy_conn *c, int side);
void proxy_relay_close_side(struct proxy_conn *c, int side, int code, const char *reason);
void proxy_relay_maybe_free(struct proxy_conn *c);
void proxy_relay_free(struct proxy_conn *c);

/* proxy_up.c */
int proxy_up_connect(struct proxy_conn *c);
int proxy_up_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
/* Frames what q[SIDE_UP] holds into up.out and sends it (the rest on POLLOUT). */
int proxy_up_write_queued(struct proxy_conn *c, struct lws *wsi);
/* Appends the frame for p[0..n) with lws_write flags to out (room: WSFRAME_HDR_MAX + n), masked
 * with a fresh mask when toward the app-server; its length. */
size_t proxy_up_put_frame(struct proxy_conn *c, int side, unsigned char *out,
                          const unsigned char *p, size_t n, int flags);
/* Sends our close frame; the socket closes when the server replies (or after a timeout). */
int proxy_up_send_close(struct proxy_conn *c, struct lws *wsi, int code, const char *reason);
void proxy_up_release(struct proxy_conn *c);
/* No control frame of our own is waiting or sent: data may be written outside WRITEABLE. */
bool proxy_up_idle(const struct proxy_conn *c);

/* proxy.c */
void proxy_control_connect_failed(struct proxy_conn *c, const char *why);

#endif
