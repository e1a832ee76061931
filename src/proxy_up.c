/*
 * The upstream side of a conn: a raw lws socket to the app-server on which we speak the client
 * end of WebSocket ourselves (wsframe.c), because the lws 4.1.6 client role parses what it
 * receives one byte per call and capped the proxy near 200 MB/s toward the TUI. lws still owns
 * the socket, the poll loop, timeouts, flow control and partial sends.
 */
#include "proxy_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "util.h"

/* The whole handshake, and the wait for the server's close reply, are bounded. */
#define HANDSHAKE_SECS    10
#define CLOSE_REPLY_SECS  5
#define RESPONSE_HEAD_MAX (16 * 1024)
/* What one WRITEABLE sends toward the app-server (frames are copied and masked here). */
#define UP_OUT_CAP (PROXY_TX_CHUNK + 2 * WSFRAME_HDR_MAX + 2 * WSFRAME_CTRL_MAX)

static uint64_t next_rand(struct upstate *u)
{
	/* xorshift64*: masks need to be unpredictable to a browser, not cryptographic. */
	u->rng ^= u->rng >> 12;
	u->rng ^= u->rng << 25;
	u->rng ^= u->rng >> 27;
	return u->rng * 2685821657736338717ULL;
}

static void new_mask(struct upstate *u, unsigned char mask[4])
{
	uint64_t r = next_rand(u);

	memcpy(mask, &r, 4);
}

void proxy_up_release(struct proxy_conn *c)
{
	util_free_secret(c->up.req);
	c->up.req = NULL;
	buf_release(&c->up.head);
	free(c->up.out);
	c->up.out = NULL;
	c->up.out_off = c->up.out_len = 0;
}

/*
 * Sends what waits in up.out with send() ourselves, never through lws_write(): when lws holds
 * unsent bytes of a raw socket, it stops reading that socket until they drain (raw-skt POLLIN
 * gives "pending truncated sends" priority). An app-server that stops reading while it cannot
 * write to us would then deadlock with us. Returns 0 when all was sent, 1 when the rest waits
 * for POLLOUT, -1 on error.
 */
static int out_flush(struct proxy_conn *c, struct lws *wsi)
{
	struct upstate *u = &c->up;

	while (u->out_off < u->out_len) {
		ssize_t n = send(lws_get_socket_fd(wsi), u->out + u->out_off,
		                 u->out_len - u->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			lws_callback_on_writable(wsi);
			return 1;
		}
		if (n <= 0) {
			return -1;
		}
		u->out_off += (size_t)n;
	}
	u->out_off = u->out_len = 0;
	return 0;
}

/* Room for more bytes in up.out (allocated on first use). */
static unsigned char *out_room(struct upstate *u, size_t need)
{
	if (!u->out) {
		u->out = malloc(UP_OUT_CAP);
		if (!u->out) {
			return NULL;
		}
	}
	return u->out_len + need <= UP_OUT_CAP ? u->out + u->out_len : NULL;
}

bool proxy_up_idle(const struct proxy_conn *c)
{
	return !c->up.pong_pending && !c->up.close_echo && !c->up.close_sent && !c->up.out_len;
}

static enum wsframe_op op_of(int flags)
{
	int kind = flags & 0x0f;

	return kind == LWS_WRITE_CONTINUATION ? WSFRAME_CONT
	       : kind == LWS_WRITE_BINARY     ? WSFRAME_BINARY
	                                      : WSFRAME_TEXT;
}

size_t proxy_up_put_frame(struct proxy_conn *c, int side, unsigned char *out,
                          const unsigned char *p, size_t n, int flags)
{
	unsigned char mask[4];
	size_t hl;

	if (side == SIDE_DOWN) {
		hl = wsframe_header(out, op_of(flags), !(flags & LWS_WRITE_NO_FIN), n, NULL);
		memcpy(out + hl, p, n);
		return hl + n;
	}
	new_mask(&c->up, mask);
	hl = wsframe_header(out, op_of(flags), !(flags & LWS_WRITE_NO_FIN), n, mask);
	memcpy(out + hl, p, n);
	wsframe_mask(out + hl, n, mask);
	return hl + n;
}

int proxy_up_write_queued(struct proxy_conn *c, struct lws *wsi)
{
	struct upstate *u = &c->up;
	unsigned char *p;
	size_t n;
	int flags;

	if (u->out_len) {
		return out_flush(c, wsi) < 0 ? -1 : 0;
	}
	if (!out_room(u, 0)) {
		return -1;
	}
	/* Whole small frames, then at most what is left of the buffer of a large one. */
	while (UP_OUT_CAP - u->out_len > WSFRAME_HDR_MAX + 256 &&
	       wsq_peek(&c->q[SIDE_UP], UP_OUT_CAP - u->out_len - WSFRAME_HDR_MAX, &p, &n,
	                &flags)) {
		u->out_len += proxy_up_put_frame(c, SIDE_UP, u->out + u->out_len, p, n, flags);
		wsq_consume(&c->q[SIDE_UP], n);
	}
	return out_flush(c, wsi) < 0 ? -1 : 0;
}

/* Queues a control frame (payload at most 125 bytes) after what up.out holds. */
static int put_control(struct proxy_conn *c, enum wsframe_op op, const void *payload, size_t len)
{
	unsigned char *o = out_room(&c->up, WSFRAME_HDR_MAX + WSFRAME_CTRL_MAX);
	unsigned char mask[4];
	size_t hl;

	if (!o) {
		return -1;
	}
	if (len > WSFRAME_CTRL_MAX) {
		len = WSFRAME_CTRL_MAX;
	}
	new_mask(&c->up, mask);
	hl = wsframe_header(o, op, true, len, mask);
	memcpy(o + hl, payload, len);
	wsframe_mask(o + hl, len, mask);
	c->up.out_len += hl + len;
	return 0;
}

int proxy_up_send_close(struct proxy_conn *c, struct lws *wsi, int code, const char *reason)
{
	unsigned char b[2 + PROXY_REASON_MAX];
	size_t rl = strlen(reason);

	if (c->up.close_sent) {
		return out_flush(c, wsi) < 0 ? -1 : 0;
	}
	if (rl > PROXY_REASON_MAX) {
		rl = PROXY_REASON_MAX;
	}
	b[0] = (unsigned char)(code >> 8);
	b[1] = (unsigned char)code;
	memcpy(b + 2, reason, rl);
	c->up.close_sent = true;
	if (put_control(c, WSFRAME_CLOSE, b, 2 + rl) < 0 || out_flush(c, wsi) < 0) {
		return -1;
	}
	/* RFC 6455: the server closes the TCP connection after its close reply. */
	lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_REPLY_SECS);
	return 0;
}

static int on_connected(struct proxy_conn *c, struct lws *wsi)
{
	char *auth = util_printf("Authorization: %s\r\n", c->p->bearer);

	if (!auth || wsframe_new_key(c->up.key) < 0) {
		util_free_secret(auth);
		return -1;
	}
	c->up.req = wsframe_request("127.0.0.1", c->p->cfg.upstream_port, "/", c->up.key, auth);
	util_free_secret(auth);
	if (!c->up.req) {
		return -1;
	}
	c->up.req_len = strlen(c->up.req);
	lws_callback_on_writable(wsi);
	return 0;
}

/* The upgrade request (< 1 KiB, holds the token) goes through up.out like everything else. */
static int write_request(struct proxy_conn *c, struct lws *wsi)
{
	unsigned char *o;
	int r;

	if (!c->up.req) {
		return out_flush(c, wsi) < 0 ? -1 : 0;
	}
	o = out_room(&c->up, c->up.req_len);
	if (!o) {
		return -1;
	}
	memcpy(o, c->up.req, c->up.req_len);
	c->up.out_len += c->up.req_len;
	util_free_secret(c->up.req);
	c->up.req = NULL;
	r = out_flush(c, wsi);
	if (r == 0) {
		lws_explicit_bzero(c->up.out, UP_OUT_CAP);
	}
	return r < 0 ? -1 : 0;
}

static int on_writeable(struct proxy_conn *c, struct lws *wsi)
{
	struct upstate *u = &c->up;
	int r;

	if (!c->up_established) {
		return write_request(c, wsi);
	}
	r = out_flush(c, wsi);
	if (r != 0) {
		return r < 0 ? -1 : 0;
	}
	if (u->close_echo) {
		/* The server closed: answer with its code (RFC 6455 5.5.1), then hang up. */
		put_control(c, WSFRAME_CLOSE, u->echo, u->echo_len);
		out_flush(c, wsi);
		return -1;
	}
	if (u->pong_pending) {
		u->pong_pending = false;
		if (put_control(c, WSFRAME_PONG, u->pong, u->pong_len) < 0 ||
		    out_flush(c, wsi) < 0) {
			return -1;
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	return proxy_relay_writeable(c, SIDE_UP, wsi);
}

static int on_control(struct proxy_conn *c, struct lws *wsi, const struct wsframe_event *ev)
{
	struct upstate *u = &c->up;

	switch (ev->op) {
	case WSFRAME_PING:
		memcpy(u->pong, ev->data, ev->len);
		u->pong_len = ev->len;
		u->pong_pending = true;
		lws_callback_on_writable(wsi);
		return 0;
	case WSFRAME_CLOSE:
		if (u->close_sent) {
			return -1; /* the reply to our close: done */
		}
		proxy_relay_peer_close(c, SIDE_UP, ev->data, ev->len);
		u->close_echo = true;
		u->echo_len = ev->len >= 2 ? 2 : 0;
		memcpy(u->echo, ev->data, u->echo_len);
		lws_rx_flow_control(wsi, 1);
		lws_callback_on_writable(wsi);
		return 0;
	default:
		return 0; /* pong */
	}
}

static int on_frames(struct proxy_conn *c, struct lws *wsi, unsigned char *in, size_t len)
{
	struct wsframe_event ev;
	bool have;

	while (len) {
		long n = wsframe_parse(&c->up.fr, in, len, &ev, &have);

		if (n < 0) {
			log_warn("closing the app-server connection: invalid WebSocket framing");
			return -1;
		}
		in += n;
		len -= (size_t)n;
		if (!have || c->up.close_echo) {
			continue;
		}
		if (ev.op >= WSFRAME_CLOSE) {
			if (on_control(c, wsi, &ev) < 0) {
				return -1;
			}
		} else if (proxy_relay_receive(c, SIDE_UP, ev.data, ev.len, ev.op == WSFRAME_BINARY,
		                               ev.final) < 0) {
			return -1;
		}
	}
	proxy_relay_flush(c);
	return 0;
}

/* Collects the response head; the bytes after it are already frames. */
static int on_handshake(struct proxy_conn *c, struct lws *wsi, const void *in, size_t len)
{
	struct upstate *u = &c->up;
	int status = 0;
	long head;
	char why[64];

	if (buf_append(&u->head, in, len) < 0) {
		return -1;
	}
	head = wsframe_response(u->head.data, u->head.len, u->key, &status);
	if (head == -EAGAIN) {
		return 0;
	}
	if (head < 0) {
		snprintf(why, sizeof(why), "the app-server refused the upgrade (HTTP %d)", status);
		lws_set_opaque_user_data(wsi, NULL);
		proxy_relay_up_error(c, why);
		return -1;
	}
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	c->wsi[SIDE_UP] = wsi;
	proxy_relay_up_established(c);
	if (!c->wsi[SIDE_UP]) {
		return -1;
	}
	if (on_frames(c, wsi, (unsigned char *)u->head.data + head, u->head.len - (size_t)head)) {
		return -1;
	}
	buf_release(&u->head);
	return 0;
}

/* The upstream went away (error or close); the wsi must not reach this conn again. */
static void up_gone(struct proxy_conn *c, struct lws *wsi, const char *why)
{
	lws_set_opaque_user_data(wsi, NULL);
	if (c->up_established) {
		proxy_relay_side_gone(c, SIDE_UP);
	} else {
		proxy_relay_up_error(c, why);
	}
}

int proxy_up_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
	struct proxy_conn *c = lws_get_opaque_user_data(wsi);

	if (!c) {
		return 0;
	}
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
		return on_connected(c, wsi);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_RAW_RX:
		if (!c->up_established) {
			return on_handshake(c, wsi, in, len);
		}
		return on_frames(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		up_gone(c, wsi, in ? (const char *)in : "connection error");
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		up_gone(c, wsi, "connection closed during the handshake");
		return 0;
	default:
		return 0;
	}
}

int proxy_up_connect(struct proxy_conn *c)
{
	struct lws_client_connect_info i;
	struct lws *wsi;

	memset(&i, 0, sizeof(i));
	i.context = c->p->cx;
	i.vhost = c->p->up_vh;
	i.address = "127.0.0.1"; /* numeric: a name would mean a blocking getaddrinfo() */
	i.port = c->p->cfg.upstream_port;
	i.path = "/";
	i.host = "127.0.0.1";
	i.method = "RAW";
	i.local_protocol_name = "codex-switch-up";
	i.opaque_user_data = c;
	wsframe_rx_init(&c->up.fr, false);
	c->up.close_sent = c->up.close_echo = c->up.pong_pending = false;
	buf_release(&c->up.head);
	buf_init(&c->up.head, RESPONSE_HEAD_MAX);
	c->connecting = true;
	c->connect_failed = false;
	wsi = lws_client_connect_via_info(&i);
	c->connecting = false;
	/* An error callback during the call may already have freed wsi: do not touch it then. */
	if (!wsi || c->connect_failed) {
		c->wsi[SIDE_UP] = NULL;
		return -ECONNREFUSED;
	}
	c->wsi[SIDE_UP] = wsi;
	lws_set_timeout(wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, HANDSHAKE_SECS);
	return 0;
}
