/*
 * One WebSocket end of a conn, over a socket we read and write ourselves: toward the TUI we are
 * the server (its upgrade request in, masked frames in), toward the app-server the client (our
 * request out, masked frames out); the handshakes are in proxy_hs.c. Every read lands in the
 * proxy's one receive buffer and is parsed where it lies (wsframe.c). The TUI's payload stays
 * masked: it goes on toward the app-server in frames that carry the TUI's own masks, so its
 * bytes are never transformed. What one read brings for the other side is gathered in that
 * end's out buffer (headers, small frames copied) and sent in one sendmsg() when the read
 * ends, large payloads straight from the receive buffer (proxy_ws_pass); what the socket
 * refuses, and everything behind it, waits in out and then in the queue.
 *
 * A socket is never closed inside a callback that may still use its conn: proxy_ws_kill()
 * stops its events and closes it from a zero timer, which then tells the relay.
 */
#define _GNU_SOURCE /* explicit_bzero */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

/* The whole handshake, and the wait for the peer's close reply, are bounded. */
#define HANDSHAKE_SECS   10
#define CLOSE_REPLY_SECS 5
/* A chunk of frames plus a control frame of each kind. */
#define OUT_CAP (PROXY_TX_CHUNK + 2 * WSFRAME_HDR_MAX + 2 * (WSFRAME_HDR_MAX + WSFRAME_CTRL_MAX))
/* Data frames fill out up to here: our close frame may follow them. */
#define DATA_CAP (OUT_CAP - WSFRAME_HDR_MAX - WSFRAME_CTRL_MAX)

static const char *side_name(int side)
{
	return side == SIDE_DOWN ? "client" : "app-server";
}

static struct ev *loop_of(const struct wsend *w)
{
	return w->c->p->ev;
}

static uint64_t next_rand(struct wsend *w)
{
	/* xorshift64*: masks need to be unpredictable to a browser, not cryptographic. */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ULL;
}

void proxy_ws_init(struct proxy_conn *c, int side)
{
	struct wsend *w = &c->ws[side];

	memset(w, 0, sizeof(*w));
	w->c = c;
	w->side = side;
	w->io.fd = -1;
	buf_init(&w->head, PROXY_HEAD_MAX);
	if (side == SIDE_UP && (util_random_bytes(&w->rng, sizeof(w->rng)) || !w->rng)) {
		w->rng = (uint64_t)ev_now_us() | 1;
	}
}

bool proxy_ws_live(const struct proxy_conn *c, int side)
{
	return c->ws[side].state != WS_CLOSED;
}

void proxy_ws_wipe_head(struct wsend *w)
{
	if (w->head.data) {
		explicit_bzero(w->head.data, w->head.len);
	}
	buf_release(&w->head);
	buf_init(&w->head, PROXY_HEAD_MAX);
}

void proxy_ws_release(struct proxy_conn *c, int side)
{
	struct wsend *w = &c->ws[side];

	ev_timer_stop(loop_of(w), &w->tm);
	if (w->io.fd >= 0) {
		ev_io_stop(loop_of(w), &w->io);
		close(w->io.fd);
		w->io.fd = -1;
	}
	proxy_ws_wipe_head(w);
	if (w->out && w->wipe_out) {
		explicit_bzero(w->out, w->out_len);
	}
	free(w->out);
	w->out = NULL;
	w->out_off = w->out_len = 0;
	w->nref = 0;
	w->ref_bytes = 0;
	w->gathering = false;
	w->state = WS_CLOSED;
	w->paused = w->hangup = w->wipe_out = false;
	w->close_sent = w->close_echo = w->pong_pending = w->failed = false;
}

/* The socket is closed: tell whoever waits for it. c may be freed inside. */
static void report(struct proxy_conn *c, int side, bool opened)
{
	struct wsend *w = &c->ws[side];

	if (side == SIDE_UP && !opened) {
		proxy_relay_up_error(c, w->why[0] ? w->why : "connection closed");
	} else if (side == SIDE_DOWN && !opened) {
		proxy_relay_maybe_free(c); /* a refused or abandoned upgrade: nothing to tell */
	} else {
		proxy_relay_side_gone(c, side);
	}
}

static void close_and_report(struct wsend *w)
{
	struct proxy_conn *c = w->c;
	int side = w->side;
	bool opened = w->opened;

	proxy_ws_release(c, side);
	report(c, side, opened);
}

static void kill_fired(struct ev_timer *t)
{
	close_and_report(EV_CONTAINER_OF(t, struct wsend, tm));
}

void proxy_ws_kill(struct proxy_conn *c, int side, const char *why)
{
	struct wsend *w = &c->ws[side];

	if (w->state == WS_CLOSED || w->state == WS_DYING) {
		return;
	}
	if (why && !w->why[0]) {
		snprintf(w->why, sizeof(w->why), "%s", why);
	}
	w->state = WS_DYING;
	ev_io_stop(loop_of(w), &w->io);
	ev_timer_start(loop_of(w), &w->tm, kill_fired, 0);
}

static void deadline_fired(struct ev_timer *t)
{
	struct wsend *w = EV_CONTAINER_OF(t, struct wsend, tm);

	if (!w->why[0] && w->state != WS_OPEN) {
		snprintf(w->why, sizeof(w->why), "the handshake timed out");
	}
	close_and_report(w);
}

void proxy_ws_deadline(struct proxy_conn *c, int side, int secs)
{
	struct wsend *w = &c->ws[side];

	if (w->state != WS_CLOSED && w->state != WS_DYING) {
		ev_timer_start(loop_of(w), &w->tm, deadline_fired, (int64_t)secs * 1000000);
	}
}

/* ---- writing ---- */

static bool wants_out(const struct wsend *w)
{
	const struct proxy_conn *c = w->c;

	if (w->state == WS_CONNECTING || w->out_len) {
		return true;
	}
	if (w->state != WS_OPEN) {
		return false;
	}
	if (w->close_echo || w->pong_pending) {
		return true;
	}
	return !w->close_sent && (wsq_ready(&c->q[w->side]) || c->closing[w->side].set);
}

static void update_interest(struct wsend *w)
{
	uint32_t want =
	        w->paused || w->hangup || w->failed || w->state == WS_CONNECTING ? 0 : EPOLLIN;

	if (w->state == WS_CLOSED || w->state == WS_DYING) {
		return;
	}
	if (wants_out(w)) {
		want |= EPOLLOUT;
	}
	if (ev_io_set(loop_of(w), &w->io, want) < 0) {
		proxy_ws_kill(w->c, w->side, "epoll failed");
	}
}

void proxy_ws_pause(struct proxy_conn *c, int side, bool pause)
{
	c->ws[side].paused = pause;
	update_interest(&c->ws[side]);
}

/* Room for need more bytes in out (allocated on first use). */
unsigned char *proxy_ws_out_room(struct wsend *w, size_t need)
{
	if (!w->out) {
		w->out = malloc(OUT_CAP);
		if (!w->out) {
			return NULL;
		}
	}
	return w->out_len + need <= OUT_CAP ? w->out + w->out_len : NULL;
}

/* Entries of out's iovec: its own bytes around each borrowed payload. */
#define OUT_IOV (2 * PROXY_REFS_MAX + 1)

/* out from out_off as an iovec, borrowed payload in its place; own[i]: iov[i] is in out. */
static int out_iov(const struct wsend *w, struct iovec *iov, bool *own)
{
	size_t at = w->out_off;
	int k = 0;

	for (unsigned i = 0; i < w->nref; i++) {
		if (w->ref[i].at > at) {
			own[k] = true;
			iov[k++] = (struct iovec){w->out + at, w->ref[i].at - at};
			at = w->ref[i].at;
		}
		own[k] = false;
		iov[k++] = (struct iovec){(void *)w->ref[i].p, w->ref[i].n};
	}
	if (w->out_len > at) {
		own[k] = true;
		iov[k++] = (struct iovec){w->out + at, w->out_len - at};
	}
	return k;
}

/*
 * What sendmsg() did not take of iov[0..k) (out_iov) moves to the start of out, borrowed
 * payload copied in: nothing is borrowed any more. out's own pieces only move left, then
 * right, by the borrowed bytes before them: the first pass goes forward, the second backward,
 * so that none overwrites another before it moved; borrowed payload fills the gaps last.
 */
static void out_keep(struct wsend *w, struct iovec *iov, const bool *own, int k, size_t sent)
{
	size_t dst[OUT_IOV], pos = 0;
	int i = 0;

	for (; i < k && sent >= iov[i].iov_len; i++) {
		sent -= iov[i].iov_len;
	}
	if (i < k) {
		iov[i].iov_base = (unsigned char *)iov[i].iov_base + sent;
		iov[i].iov_len -= sent;
	}
	for (int j = i; j < k; j++) {
		dst[j] = pos;
		pos += iov[j].iov_len;
	}
	for (int j = i; j < k; j++) {
		if (own[j] && w->out + dst[j] <= (unsigned char *)iov[j].iov_base) {
			memmove(w->out + dst[j], iov[j].iov_base, iov[j].iov_len);
		}
	}
	for (int j = k - 1; j >= i; j--) {
		if (own[j] && w->out + dst[j] > (unsigned char *)iov[j].iov_base) {
			memmove(w->out + dst[j], iov[j].iov_base, iov[j].iov_len);
		}
	}
	for (int j = i; j < k; j++) {
		if (!own[j]) {
			memcpy(w->out + dst[j], iov[j].iov_base, iov[j].iov_len);
		}
	}
	w->out_off = 0;
	w->out_len = pos;
	w->nref = 0;
	w->ref_bytes = 0;
}

/* 0: out is written, 1: the rest waits for EPOLLOUT (kept in out), -1: the socket failed. */
static int out_send(struct wsend *w)
{
	while (w->out_off < w->out_len || w->nref) {
		struct iovec iov[OUT_IOV];
		bool own[OUT_IOV];
		int k = out_iov(w, iov, own);
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)k};
		ssize_t n = sendmsg(w->io.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (w->nref) {
				out_keep(w, iov, own, k, 0);
			}
			return 1;
		}
		if (n <= 0) {
			w->nref = 0;
			w->ref_bytes = 0;
			return -1;
		}
		if (w->nref) {
			out_keep(w, iov, own, k, (size_t)n);
		} else {
			w->out_off += (size_t)n;
		}
	}
	if (w->wipe_out) {
		explicit_bzero(w->out, w->out_len);
		w->wipe_out = false;
	}
	w->out_off = w->out_len = 0;
	return 0;
}

/* Borrows n bytes at p as the payload after what out holds: sent from where they are. */
static void borrow(struct wsend *w, const unsigned char *p, size_t n)
{
	w->ref[w->nref++] = (struct wsref){p, n, w->out_len};
	w->ref_bytes += n;
}

/* One frame into o: plain toward the TUI; toward the app-server with the mask its payload
 * already has, or masked here with a fresh one. */
static size_t put_frame(struct wsend *w, unsigned char *o, const struct wsq_frame *fr,
                        const unsigned char *p, size_t n)
{
	uint64_t r;
	unsigned char mask[4];
	size_t hl;

	if (w->side == SIDE_DOWN || fr->masked) {
		hl = wsframe_header(o, fr->op, fr->fin, n, w->side == SIDE_DOWN ? NULL : fr->mask);
		memcpy(o + hl, p, n);
		return hl + n;
	}
	r = next_rand(w);
	memcpy(mask, &r, sizeof(mask));
	hl = wsframe_header(o, fr->op, fr->fin, n, mask);
	memcpy(o + hl, p, n);
	wsframe_mask(o + hl, n, mask);
	return hl + n;
}

static int put_control(struct wsend *w, enum wsframe_op op, const void *payload, size_t len)
{
	unsigned char *o = proxy_ws_out_room(w, WSFRAME_HDR_MAX + WSFRAME_CTRL_MAX);
	struct wsq_frame fr = {.op = op, .fin = true};

	if (!o) {
		return -1;
	}
	w->out_len += put_frame(w, o, &fr, payload, len < 125 ? len : 125);
	return 0;
}

/* A frame that goes on the wire as its bytes lie: plain toward the TUI, or already masked
 * toward the app-server. */
static bool as_is(const struct wsend *w, const struct wsq_frame *fr)
{
	return w->side == SIDE_DOWN || fr->masked;
}

/* The header of a frame that goes as it lies, into out. */
static void put_header(struct wsend *w, const struct wsq_frame *fr, size_t n)
{
	w->out_len += wsframe_header(w->out + w->out_len, fr->op, fr->fin, n,
	                             w->side == SIDE_DOWN ? NULL : fr->mask);
}

/* Queued data into out: small frames are copied there; a large one that goes as it lies is
 * sent from the queue itself, behind them, in the same sendmsg(). At most a chunk of payload
 * at a time. */
static int write_data(struct wsend *w)
{
	struct wsq *q = &w->c->q[w->side];
	struct wsq_frame fr;
	unsigned char *p;
	size_t n, room;
	int r;

	if (!proxy_ws_out_room(w, 0)) {
		return -1;
	}
	while ((room = DATA_CAP - w->out_len) > WSFRAME_HDR_MAX + 256) {
		room -= WSFRAME_HDR_MAX;
		if (!wsq_peek(q, room < PROXY_TX_CHUNK ? room : PROXY_TX_CHUNK, &p, &n, &fr)) {
			break;
		}
		if (n > PROXY_COALESCE_MAX && as_is(w, &fr)) {
			/* out_send() copies what the socket refuses: the queue lets go of it. */
			put_header(w, &fr, n);
			borrow(w, p, n);
			r = out_send(w);
			wsq_consume(q, n);
			return r < 0 ? -1 : 0;
		}
		w->out_len += put_frame(w, w->out + w->out_len, &fr, p, n);
		wsq_consume(q, n);
	}
	return 0;
}

int proxy_ws_pass(struct proxy_conn *c, int side, const unsigned char *p, size_t n, bool lent,
                  const struct wsq_frame *fr)
{
	struct wsend *w = &c->ws[side];
	bool lend = lent && n > PROXY_COALESCE_MAX && as_is(w, fr);

	/* out holding bytes from before this read means the socket is full (or a handshake or
	 * control frame waits): the queue takes it. So it does when anything is queued. */
	if (w->state != WS_OPEN || w->close_sent || w->close_echo || w->hangup || w->failed ||
	    w->wipe_out || (w->out_len && !w->gathering) || wsq_ready(&c->q[side]) ||
	    (lend && w->nref == PROXY_REFS_MAX) || !proxy_ws_out_room(w, 0) ||
	    w->out_len + w->ref_bytes + WSFRAME_HDR_MAX + n > DATA_CAP) {
		return 0;
	}
	if (lend) {
		put_header(w, fr, n);
		borrow(w, p, n);
	} else {
		w->out_len += put_frame(w, w->out + w->out_len, fr, p, n);
	}
	w->gathering = true;
	return 1;
}

/* What the read gathered toward side goes out now: it may borrow from the read's buffer. */
static void settle(struct proxy_conn *c, int side)
{
	struct wsend *w = &c->ws[side];

	if (!w->gathering) {
		return;
	}
	w->gathering = false;
	proxy_ws_flush(c, side);
	/* Nothing is borrowed past the read: a side no longer open sends nothing anyway. */
	w->nref = 0;
	w->ref_bytes = 0;
}

/* Our close frame, once everything queued before it is out. */
static int write_close(struct wsend *w)
{
	struct proxy_conn *c = w->c;
	struct close_info *ci = &c->closing[w->side];
	unsigned char b[2 + PROXY_REASON_MAX];
	size_t rl = strlen(ci->reason);

	if (!c->gone[w->side].set) {
		c->gone[w->side] = *ci;
	}
	b[0] = (unsigned char)(ci->code >> 8);
	b[1] = (unsigned char)ci->code;
	memcpy(b + 2, ci->reason, rl);
	w->close_sent = true;
	/* RFC 6455: the peer answers with its own close frame, then the connection ends; a peer
	 * that broke the protocol is not waited for. */
	w->hangup = w->failed;
	proxy_ws_deadline(c, w->side, CLOSE_REPLY_SECS);
	return put_control(w, WSFRAME_CLOSE, b, 2 + rl);
}

/* Writes in order: the rest of out, a close echo, a pong, queued data, our close frame. */
static int write_pending(struct wsend *w)
{
	struct proxy_conn *c = w->c;
	int r = out_send(w);

	if (r || w->state != WS_OPEN) {
		return r < 0 ? -1 : 0;
	}
	if (w->close_echo) {
		/* The peer closed: answer with its code (RFC 6455 5.5.1), then hang up. */
		w->close_echo = false;
		w->hangup = true;
		return put_control(w, WSFRAME_CLOSE, w->echo, w->echo_len) < 0 ? -1
		       : out_send(w) < 0                                       ? -1
		                                                               : 0;
	}
	if (w->pong_pending) {
		w->pong_pending = false;
		if (put_control(w, WSFRAME_PONG, w->pong, w->pong_len) < 0) {
			return -1;
		}
	}
	if (!w->close_sent && write_data(w) < 0) {
		return -1;
	}
	if (!w->close_sent && !wsq_ready(&c->q[w->side]) && c->closing[w->side].set &&
	    write_close(w) < 0) {
		return -1;
	}
	return out_send(w) < 0 ? -1 : 0;
}

void proxy_ws_flush(struct proxy_conn *c, int side)
{
	struct wsend *w = &c->ws[side];

	if (w->state != WS_OPEN && w->state != WS_HANDSHAKE) {
		return; /* connecting: EPOLLOUT comes; dying or closed: nothing to write */
	}
	if (write_pending(w) < 0) {
		proxy_ws_kill(c, side, "write failed");
		return;
	}
	if (w->hangup && !w->out_len) {
		proxy_ws_kill(c, side, NULL);
		return;
	}
	if (w->state == WS_OPEN) {
		proxy_relay_wrote(c, side);
	}
	update_interest(w);
}

/* ---- reading ---- */

/* The peer broke the protocol: fail the connection (RFC 6455 7.1.7), reading nothing more. */
static void fail(struct wsend *w, int code, const char *why)
{
	if (code != WSFRAME_CLOSE_TOO_LARGE) {
		log_warn("closing the %s connection (%d): %s", side_name(w->side), code, why);
	}
	w->failed = true;
	proxy_relay_fail(w->c, w->side, code, why);
}

static void on_close(struct wsend *w, const struct wsframe_event *ev)
{
	int bad;

	if (w->close_sent) {
		proxy_ws_kill(w->c, w->side, NULL); /* the reply to our close: done */
		return;
	}
	/* A code no peer may send is never echoed, nor relayed. */
	bad = wsframe_close_check(ev->data, ev->len);
	if (bad) {
		fail(w, bad,
		     bad == WSFRAME_CLOSE_INVALID_DATA ? "the close reason is not UTF-8"
		                                       : "invalid close code");
		return;
	}
	proxy_relay_peer_close(w->c, w->side, ev->data, ev->len);
	w->close_echo = true;
	w->echo_len = ev->len >= 2 ? 2 : 0;
	memcpy(w->echo, ev->data, w->echo_len);
}

static int on_control(struct wsend *w, const struct wsframe_event *ev)
{
	switch (ev->op) {
	case WSFRAME_PING:
		memcpy(w->pong, ev->data, ev->len);
		w->pong_len = ev->len;
		w->pong_pending = true;
		return 0;
	case WSFRAME_CLOSE:
		on_close(w, ev);
		return 0;
	default:
		return 0; /* pong */
	}
}

int proxy_ws_frames(struct wsend *w, unsigned char *in, size_t len)
{
	struct wsframe_event ev;
	bool have;
	int r = 0;

	while (len && w->state == WS_OPEN && !w->failed && r == 0) {
		long n = wsframe_parse(&w->fr, in, len, &ev, &have);

		if (n < 0) {
			fail(w, n == -EMSGSIZE ? WSFRAME_CLOSE_TOO_LARGE : WSFRAME_CLOSE_PROTOCOL,
			     n == -EMSGSIZE ? "message too large" : "invalid WebSocket framing");
			break;
		}
		in += n;
		len -= (size_t)n;
		if (!have || w->close_echo || w->hangup) {
			continue;
		}
		if (ev.op >= WSFRAME_CLOSE) {
			r = on_control(w, &ev);
		} else {
			proxy_relay_receive(w->c, w->side, &ev);
		}
	}
	/* Before the read's buffer is reused: what went toward the other side borrows from it. */
	settle(w->c, !w->side);
	return r < 0 ? -1 : 0;
}

/*
 * How much one recv() takes. Inside a large frame, only its rest: the next read then starts on
 * a header, so a frame the peer wrote whole is read whole (or in two pieces) and goes on as one
 * frame, instead of every read cutting the stream of frames in a new place and each cut piece
 * costing both peers a frame of its own.
 */
static size_t read_size(const struct wsend *w)
{
	const struct wsframe_rx *fr = &w->fr;

	if (w->state == WS_OPEN && fr->in_payload && fr->left > PROXY_COALESCE_MAX &&
	    fr->left < PROXY_RX_CHUNK) {
		return (size_t)fr->left;
	}
	return PROXY_RX_CHUNK;
}

static void on_readable(struct wsend *w)
{
	struct proxy_conn *c = w->c;
	unsigned char *in = c->p->rxbuf;
	ssize_t n;
	int r;

	do {
		n = recv(w->io.fd, in, read_size(w), MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		return;
	}
	if (n <= 0) {
		proxy_ws_kill(c, w->side,
		              w->state == WS_HANDSHAKE ? "connection closed during the handshake"
		                                       : "connection closed");
		return;
	}
	if (w->state == WS_HANDSHAKE && w->side == SIDE_DOWN) {
		r = proxy_hs_request(w, in, (size_t)n);
		/* The request carried the token; what followed it was copied into the head. */
		explicit_bzero(in, (size_t)n);
	} else if (w->state == WS_HANDSHAKE) {
		r = proxy_hs_response(w, in, (size_t)n);
	} else {
		r = proxy_ws_frames(w, in, (size_t)n);
	}
	if (r < 0) {
		proxy_ws_kill(c, w->side, NULL); /* why was logged, or set for up_error */
		return;
	}
	if (w->pong_pending || w->close_echo) {
		proxy_ws_flush(c, w->side);
	}
	proxy_relay_flush(c);
}

/* ---- sockets ---- */

static void on_io(struct ev_io *io, uint32_t events)
{
	struct wsend *w = EV_CONTAINER_OF(io, struct wsend, io);

	if (w->state == WS_CONNECTING) {
		proxy_hs_connected(w);
		return;
	}
	if (events & EPOLLOUT) {
		proxy_ws_flush(w->c, w->side);
	}
	if (w->state == WS_DYING) {
		return;
	}
	if (w->hangup && (events & (EPOLLHUP | EPOLLERR))) {
		proxy_ws_kill(w->c, w->side, NULL);
	} else if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !w->hangup) {
		on_readable(w);
	}
}

static void no_delay(int fd)
{
	int one = 1;

	/* Small JSON-RPC messages: Nagle would hold each one back for the previous one's ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void rx_init(struct wsend *w)
{
	wsframe_rx_init(&w->fr, w->side == SIDE_DOWN);
	/* What the TUI sends goes on to the app-server with its own masks: only the bytes the
	 * relay reads are unmasked, in a copy. */
	w->fr.keep_mask = true;
	w->fr.max_frames = PROXY_MAX_FRAMES;
	w->fr.max_len = w->c->p->cfg.max_message;
}

/* A connected (or connecting) socket to the app-server; -errno. */
static int connect_upstream(const struct proxy_config *cfg)
{
	struct sockaddr_storage a;
	socklen_t al;
	int fd, r = proxy_local_addr(&a, &al, cfg->upstream_path, cfg->upstream_port);

	if (r) {
		return r;
	}
	fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (!cfg->upstream_path) {
		no_delay(fd);
	}
	if (connect(fd, (struct sockaddr *)&a, al) < 0 && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int proxy_ws_connect(struct proxy_conn *c)
{
	struct wsend *w = &c->ws[SIDE_UP];
	int fd = connect_upstream(&c->p->cfg), r;

	if (fd < 0) {
		return fd;
	}
	r = ev_io_start(c->p->ev, &w->io, fd, EPOLLOUT, on_io);
	if (r < 0) {
		close(fd);
		return r;
	}
	w->why[0] = '\0';
	w->opened = false;
	rx_init(w);
	w->state = WS_CONNECTING;
	proxy_ws_deadline(c, SIDE_UP, HANDSHAKE_SECS);
	return 0;
}

static int start(struct proxy_conn *c, int side, int fd, enum ws_state state)
{
	struct wsend *w = &c->ws[side];
	int r = ev_io_start(c->p->ev, &w->io, fd, EPOLLIN, on_io);

	if (r < 0) {
		close(fd);
		return r;
	}
	rx_init(w);
	w->state = state;
	w->opened = state == WS_OPEN;
	return 0;
}

int proxy_ws_accept(struct proxy_conn *c, int fd)
{
	int r;

	if (!c->p->cfg.listen_path) {
		no_delay(fd);
	}
	r = start(c, SIDE_DOWN, fd, WS_HANDSHAKE);
	if (r == 0) {
		proxy_ws_deadline(c, SIDE_DOWN, HANDSHAKE_SECS);
	}
	return r;
}

int proxy_ws_adopt(struct proxy_conn *c, int side, int fd)
{
	return start(c, side, fd, WS_OPEN);
}
