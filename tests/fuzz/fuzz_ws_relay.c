/*
 * The proxy's forwarding logic (proxy_relay.c), its WebSocket ends (proxy_ws.c, wsframe.c) and
 * its queues (wsq.c), fed with arbitrary fragment sequences from both sides over real sockets.
 * Hooks behave like the runtime's: they parse what they intercept, drop the refresh requests
 * and answer them, and inject a warning.
 *
 * Each input gets a conn whose two ends are AF_UNIX socketpairs adopted as open WebSockets
 * (proxy_ws_adopt). The harness plays both peers on the other ends: the TUI, whose frames are
 * masked client frames, and the app-server, whose frames are plain server frames. It also
 * stands in for the event loop: it calls an end's io callback itself, with EPOLLIN while bytes
 * wait in its socket (a side the relay paused is read only once its destination drained, as
 * the loop would not read it before) and with EPOLLOUT while the relay has something to write
 * toward it. The relay's ends have small send buffers, so its writes stop at EAGAIN as toward a
 * slow peer; the app-server reads after every record, the TUI only when told to (or when the
 * relay paused the app-server).
 *
 * Everything the relay writes toward a side goes through an RFC 6455 decoder of its own, per
 * side, strict about what a correct writer produces: frames toward the app-server masked,
 * toward the TUI not, shortest length encodings, no reserved bits, pongs carrying a ping's
 * payload, and a close frame only when the relay was asked to close that side, with that code
 * and reason, and nothing but pongs after it.
 *
 * Checked on every input: each side receives exactly the messages the other side sent, byte for
 * byte, in order, with their text/binary type and intact framing, minus the ones a hook dropped,
 * plus the ones a hook injected, whole and never inside another message. A hook sees exactly a
 * message that was sent. Every ping is answered. The relay never drops a side (its peers send
 * only valid frames), asks the loop for EPOLLOUT whenever it has something to write and for
 * EPOLLIN exactly when it does not pause the side, and never leaves a side paused once its
 * destination drained. Once a side is closing (a too large message, an overflow) the rest is
 * dropped on purpose: the input stops there and delivery is not checked.
 *
 * Input: byte 0 chooses the mode (bit 0: control connection; bit 1: max_queued of 64 KiB, so
 * that a peer that does not read overflows its queue); then records of [flags][len][len bytes],
 * one frame each, flags bit 0 = from the app-server, bit 1 = final fragment, bit 2 = binary
 * (first fragment only), bit 3 = let the destination write now, bit 4 = the bytes repeated 1024
 * times (to reach the size limits with small inputs), bit 5 = the frame arrives in two reads
 * split at a point set by its length, bit 6 = the relay does not read it yet (it reads it
 * together with what follows from that side), bit 7 = a ping goes first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "proxy/proxy_int.h"
#include "session/trigger.h"

#define MAX_MESSAGE (3 * 1024 * 1024 / 2)
#define MAX_QUEUED  (64 * 1024 * 1024)
#define SMALL_QUEUE (64 * 1024)
#define REPEAT      1024
#define MAX_MSGS    256
/* Small, so large writes of the relay stop at EAGAIN and wait for EPOLLOUT. */
#define SOCK_BUF (16 * 1024)
/* Bound of every loop that waits for the relay to make progress. */
#define STEPS 100000

struct msg {
	unsigned char *data;
	size_t len, cap;
	bool binary;
	bool done;
};

/* A WebSocket frame decoder for the bytes the relay writes toward one side. */
struct dec {
	unsigned char hdr[WSFRAME_HDR_MAX];
	size_t hlen;
	uint64_t left; /* payload bytes left in the current frame */
	bool in_payload;
	unsigned op;
	bool fin;
	unsigned char mask[4];
	bool masked;
	size_t moff;
	unsigned char ctrl[WSFRAME_CTRL_MAX]; /* control payload, unmasked */
	size_t clen;
	bool closed; /* a close frame was sent: only pongs may follow */
};

/* Per destination side: what must arrive (sent or injected) and what did arrive. */
struct lane {
	struct msg expect[MAX_MSGS];
	size_t nexpect;
	size_t hooked; /* expect[] from here on: not yet handed to a hook */
	struct msg got[MAX_MSGS];
	size_t ngot;
	const char *injected[MAX_MSGS]; /* borrowed literals, in injection order */
	size_t ninjected;
	bool truncated; /* more messages than tracked: stop checking this lane */
	struct dec dec;
	uint32_t pings; /* sent by the peer on this side: 1, 2, ... in their payload */
	uint32_t pong;  /* the latest ping answered */
};

/* sock[S][0] is the relay's end toward S (it owns it once adopted), sock[S][1] the peer's. */
static int sock[2][2] = {{-1, -1}, {-1, -1}};

static struct {
	struct lane lane[2];
	struct proxy_conn *c;
	size_t open_expect[2]; /* index in lane[!src].expect of the message being sent by src */
	bool sending[2];
	bool msg_open[2]; /* src is in the middle of a message (tracked or not) */
	uint64_t rng;     /* masks of the TUI's frames */
} st;

static void grow(struct msg *m, const unsigned char *p, size_t n)
{
	unsigned char *d;

	if (m->len + n + 1 > m->cap) {
		m->cap = 2 * (m->len + n + 1);
		d = realloc(m->data, m->cap);
		if (!d) {
			abort();
		}
		m->data = d;
	}
	if (n) {
		memcpy(m->data + m->len, p, n);
	}
	m->len += n;
}

/* ---- pings: payload k (big-endian) then filler, both set by k ---- */

static size_t ping_payload(uint32_t k, unsigned char *out)
{
	size_t len = 4 + (size_t)k * 37 % (WSFRAME_CTRL_MAX - 3);

	out[0] = (unsigned char)(k >> 24);
	out[1] = (unsigned char)(k >> 16);
	out[2] = (unsigned char)(k >> 8);
	out[3] = (unsigned char)k;
	for (size_t i = 4; i < len; i++) {
		out[i] = (unsigned char)(k * 7 + i);
	}
	return len;
}

/* ---- what the relay writes ---- */

/* A new message (TEXT/BINARY) or more of the open one (CONTINUATION) arrived at lane l. */
static struct msg *got_frame(struct lane *l, bool cont, bool binary)
{
	bool open = l->ngot && !l->got[l->ngot - 1].done;

	if (cont != open) {
		abort(); /* a new message inside an open one, or a continuation without one */
	}
	if (!cont) {
		if (l->ngot == MAX_MSGS) {
			l->truncated = true;
			l->ngot = 0;
		}
		l->got[l->ngot++] = (struct msg){.binary = binary};
	}
	return &l->got[l->ngot - 1];
}

static size_t dec_need(const struct dec *d)
{
	unsigned l7;

	if (d->hlen < 2) {
		return 2;
	}
	l7 = d->hdr[1] & 0x7f;
	return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (d->hdr[1] & 0x80 ? 4 : 0);
}

/* A whole header toward side: strict about what a correct writer produces. */
static void dec_header(struct lane *l, int side)
{
	struct dec *d = &l->dec;
	unsigned l7 = d->hdr[1] & 0x7f;
	size_t at = 2;
	uint64_t n = l7;

	d->masked = d->hdr[1] & 0x80;
	if ((d->hdr[0] & 0x70) || d->masked != (side == SIDE_UP)) {
		abort(); /* reserved bits, client frames unmasked or server frames masked */
	}
	if (l7 >= 126) {
		n = 0;
		for (size_t k = 0; k < (l7 == 126 ? 2u : 8u); k++) {
			n = n << 8 | d->hdr[at++];
		}
		if ((l7 == 126 && n < 126) || (l7 == 127 && (n <= 0xffff || n >> 63))) {
			abort(); /* not the shortest length encoding, or a 64-bit length with its
			            top bit */
		}
	}
	memcpy(d->mask, d->masked ? d->hdr + at : (const unsigned char *)"\0\0\0\0", 4);
	d->op = d->hdr[0] & 0x0f;
	d->fin = d->hdr[0] & 0x80;
	d->left = n;
	d->moff = d->clen = d->hlen = 0;
	d->in_payload = true;
	if (d->closed && d->op != WSFRAME_PONG) {
		abort(); /* data or a second close after the close frame */
	}
	if (d->op >= 8) {
		if (d->op != WSFRAME_CLOSE && d->op != WSFRAME_PONG) {
			abort(); /* the relay never pings; 11-15 are reserved */
		}
		if (!d->fin || n > WSFRAME_CTRL_MAX) {
			abort(); /* a fragmented or too long control frame */
		}
	} else if (d->op > 2) {
		abort();
	} else {
		got_frame(l, d->op == 0, d->op == 2);
	}
}

/* A whole control frame toward side. */
static void dec_control(struct lane *l, int side)
{
	struct dec *d = &l->dec;
	const struct close_info *ci = &st.c->closing[side];
	unsigned char want[WSFRAME_CTRL_MAX];
	uint32_t k;

	if (d->op == WSFRAME_CLOSE) {
		/* Only when asked to close this side, with the code and reason it was asked for. */
		if (!ci->set || d->clen < 2 || (d->ctrl[0] << 8 | d->ctrl[1]) != ci->code ||
		    d->clen - 2 != strlen(ci->reason) ||
		    memcmp(d->ctrl + 2, ci->reason, d->clen - 2)) {
			abort();
		}
		d->closed = true;
		return;
	}
	/* A pong: the payload of a ping this side sent, later than the one answered last. */
	if (d->clen < 4) {
		abort();
	}
	k = (uint32_t)d->ctrl[0] << 24 | (uint32_t)d->ctrl[1] << 16 | (uint32_t)d->ctrl[2] << 8 |
	    d->ctrl[3];
	if (k <= l->pong || k > l->pings || ping_payload(k, want) != d->clen ||
	    memcmp(want, d->ctrl, d->clen)) {
		abort();
	}
	l->pong = k;
}

/* Payload bytes of the current frame (data: appended to the open message). */
static void dec_payload(struct lane *l, int side, const unsigned char *p, size_t n)
{
	struct dec *d = &l->dec;
	unsigned char tmp[256];

	d->left -= n;
	while (n) {
		size_t k = n < sizeof(tmp) ? n : sizeof(tmp);

		for (size_t i = 0; i < k; i++) {
			tmp[i] = p[i] ^ d->mask[d->moff++ & 3];
		}
		if (d->op >= 8) {
			memcpy(d->ctrl + d->clen, tmp, k); /* at most 125 bytes: checked */
			d->clen += k;
		} else {
			grow(&l->got[l->ngot - 1], tmp, k);
		}
		p += k;
		n -= k;
	}
	if (d->left == 0) {
		d->in_payload = false;
		if (d->op >= 8) {
			dec_control(l, side);
		} else {
			l->got[l->ngot - 1].done = d->fin;
		}
	}
}

/* Bytes the relay wrote toward side; a frame may span writes. */
static void dec_feed(int side, const unsigned char *p, size_t n)
{
	struct lane *l = &st.lane[side];
	struct dec *d = &l->dec;

	while (n || (d->in_payload && d->left == 0)) {
		if (!d->in_payload) {
			d->hdr[d->hlen++] = *p++;
			n--;
			if (d->hlen == dec_need(d)) {
				dec_header(l, side);
			}
			continue;
		}
		size_t k = n < d->left ? n : (size_t)d->left;

		dec_payload(l, side, p, k);
		p += k;
		n -= k;
	}
}

/* The peer on side reads everything the relay sent it so far. */
static void pump(int side)
{
	unsigned char b[64 * 1024];
	ssize_t n;

	if (sock[side][1] < 0) {
		return;
	}
	while ((n = read(sock[side][1], b, sizeof(b))) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0) {
			dec_feed(side, b, (size_t)n);
		}
	}
	if (n == 0 || errno != EAGAIN) {
		abort(); /* the relay closed a side */
	}
}

/* ---- standing in for the event loop ---- */

static bool live(int side)
{
	return sock[side][0] >= 0;
}

/* What makes proxy_ws.c ask for EPOLLOUT on an open end. */
static bool wants_write(int side)
{
	const struct wsend *w = &st.c->ws[side];

	if (w->state != WS_OPEN) {
		return false;
	}
	if (w->out_len || w->close_echo || w->pong_pending) {
		return true;
	}
	return !w->close_sent && (wsq_ready(&st.c->q[side]) || st.c->closing[side].set);
}

/* Between two callbacks, as the loop sees an end. */
static void check_side(int side)
{
	const struct wsend *w = &st.c->ws[side];

	if (!live(side)) {
		return;
	}
	if (w->state != WS_OPEN || !w->io.active || w->io.fd != sock[side][0]) {
		abort(); /* a side dropped although its peer sent only valid frames */
	}
	if (wants_write(side) && !(w->io.events & EPOLLOUT)) {
		abort(); /* something to write and no EPOLLOUT asked for: it would never go */
	}
	if (!(w->io.events & EPOLLIN) != (w->paused || w->hangup)) {
		abort(); /* reading while paused, or a side nobody reads */
	}
}

static void check_sides(void)
{
	check_side(SIDE_DOWN);
	check_side(SIDE_UP);
}

static void call(int side, uint32_t events)
{
	struct wsend *w = &st.c->ws[side];

	w->io.cb(&w->io, events);
	check_sides();
}

/* EPOLLOUT toward side while the relay has something to write, its peer reading after each. */
static void drain(int side)
{
	for (int i = 0; live(side) && wants_write(side); i++) {
		if (i == STEPS) {
			abort(); /* no progress */
		}
		call(side, EPOLLOUT);
		pump(side);
	}
}

static size_t unread(int side)
{
	int n = 0;

	if (ioctl(sock[side][0], FIONREAD, &n) < 0) {
		abort();
	}
	return (size_t)n;
}

/* One EPOLLIN from src: when the relay paused src, only once the destination drained. */
static void relay_read(int src)
{
	if (st.c->ws[src].paused) {
		drain(!src);
		if (st.c->ws[src].paused) {
			abort(); /* paused for good: the loop would never read src again */
		}
	}
	call(src, EPOLLIN);
}

/* The relay reads until nothing from src is left in its socket. */
static void relay_read_all(int src)
{
	for (int i = 0; live(src) && unread(src); i++) {
		if (i == STEPS) {
			abort();
		}
		relay_read(src);
	}
}

/* Bytes from the peer on src into its socket; when that is full, the relay reads some. */
static void peer_write(int src, const unsigned char *p, size_t n)
{
	for (int i = 0; n; i++) {
		ssize_t k = send(sock[src][1], p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && i < STEPS) {
			relay_read(src);
		} else if (k == 0 || errno != EINTR) {
			abort();
		}
	}
}

static uint64_t next_rand(void)
{
	st.rng ^= st.rng >> 12;
	st.rng ^= st.rng << 25;
	st.rng ^= st.rng >> 27;
	return st.rng * 2685821657736338717ULL;
}

/* One frame from the peer on src (masked from the TUI, plain from the app-server), in two
 * writes with the relay reading in between when split. */
static void peer_frame(int src, unsigned op, bool fin, const unsigned char *p, size_t n, bool split)
{
	unsigned char *f = malloc(n + WSFRAME_HDR_MAX);
	size_t h = 2, total, cut;

	if (!f) {
		abort();
	}
	f[0] = (unsigned char)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		f[1] = (unsigned char)n;
	} else if (n <= 0xffff) {
		f[1] = 126;
		f[2] = (unsigned char)(n >> 8);
		f[3] = (unsigned char)n;
		h = 4;
	} else {
		f[1] = 127;
		for (int i = 0; i < 8; i++) {
			f[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		}
		h = 10;
	}
	if (n) {
		memcpy(f + h + (src == SIDE_DOWN ? 4 : 0), p, n);
	}
	if (src == SIDE_DOWN) {
		uint64_t r = next_rand();
		unsigned char *mask = f + h;

		f[1] |= 0x80;
		memcpy(mask, &r, 4);
		h += 4;
		for (size_t i = 0; i < n; i++) {
			f[h + i] ^= mask[i & 3];
		}
	}
	total = h + n;
	cut = split ? 1 + n % (total - 1) : total;
	peer_write(src, f, cut);
	if (cut < total) {
		relay_read_all(src);
		peer_write(src, f + cut, total - cut);
	}
	free(f);
}

/* ---- expected messages ---- */

static struct msg *expect_new(int dst, bool binary)
{
	struct lane *l = &st.lane[dst];

	if (l->nexpect == MAX_MSGS) {
		l->truncated = true;
		return NULL;
	}
	l->expect[l->nexpect] = (struct msg){.binary = binary};
	return &l->expect[l->nexpect++];
}

static void inject(int dst, const char *json)
{
	struct lane *l = &st.lane[dst];
	int r = dst == SIDE_UP ? proxy_send_to_server(st.c, json, strlen(json))
	                       : proxy_send_to_client(st.c, json, strlen(json));

	if (r == 0 && l->ninjected < MAX_MSGS) {
		l->injected[l->ninjected++] = json;
	} else if (r == 0) {
		l->truncated = true;
	}
}

/* ---- hooks, shaped like the runtime's ---- */

/*
 * The message from src a hook was just handed: the first whole one sent since the last hooked
 * one with exactly these bytes (the relay reads messages in order, so a message skipped here
 * was not intercepted). NULL when the lane is not tracked any more.
 */
static struct msg *hooked(int src, const char *json, size_t len)
{
	struct lane *l = &st.lane[!src];

	if (strlen(json) != len && memchr(json, '\0', len) == NULL) {
		abort(); /* not NUL-terminated */
	}
	if (l->truncated) {
		return NULL;
	}
	for (size_t i = l->hooked; i < l->nexpect; i++) {
		struct msg *m = &l->expect[i];

		if (m->done && !m->binary && m->len == len &&
		    (len == 0 || memcmp(m->data, json, len) == 0)) {
			l->hooked = i + 1;
			return m;
		}
	}
	abort(); /* a hook was handed a message nobody sent (or changed, or twice) */
}

static void drop(struct msg *m)
{
	if (m) {
		m->len = (size_t)-1; /* marked dropped */
	}
}

static enum proxy_verdict on_server(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	struct msg *m = hooked(SIDE_UP, json, len);
	cJSON *o = cJSON_ParseWithLength(json, len);
	struct trigger t;

	if (strcmp(h->method, "account/chatgptAuthTokens/refresh") == 0 && h->id[0]) {
		drop(m);
		if (!c->control) {
			inject(SIDE_UP, "{\"id\":0,\"result\":{\"accessToken\":\"t\"}}");
		}
		cJSON_Delete(o);
		return PROXY_DROP;
	}
	if (o && strcmp(h->method, "error") == 0) {
		trigger_from_error(cJSON_GetObjectItemCaseSensitive(o, "params"), &t);
		if (!c->control) {
			inject(SIDE_DOWN,
			       "{\"method\":\"warning\",\"params\":{\"message\":\"m\"}}");
		}
	} else if (o) {
		trigger_from_rate_limits(cJSON_GetObjectItemCaseSensitive(o, "params"), &t);
	}
	cJSON_Delete(o);
	if (c->control) {
		drop(m);
		return PROXY_DROP;
	}
	return PROXY_FORWARD;
}

static enum proxy_verdict on_client(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	hooked(SIDE_DOWN, json, len);
	return PROXY_FORWARD;
}

static const char *const server_methods[] = {"error", "account/rateLimits/updated",
                                             "account/chatgptAuthTokens/refresh", NULL};
static const char *const client_methods[] = {"turn/start", NULL};
static const struct proxy_hooks hooks = {.server_message = on_server, .client_message = on_client};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

/* ---- driver ---- */

/* Fresh socketpairs; the relay's ends with small send buffers. */
static void open_socks(bool control)
{
	int sz = SOCK_BUF;

	for (int s = control ? SIDE_UP : SIDE_DOWN; s <= SIDE_UP; s++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sock[s]) <
		            0 ||
		    setsockopt(sock[s][0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) < 0) {
			abort();
		}
	}
}

/* One fragment from src: recorded as expected toward the other side, then sent as one frame,
 * read by the relay unless held back (batch). */
static void feed(int src, const unsigned char *p, size_t n, unsigned flags)
{
	struct lane *l = &st.lane[!src];
	bool final = flags & 2, binary = flags & 4, first = !st.msg_open[src];
	struct msg *m;

	if (!st.sending[src]) {
		m = expect_new(!src, binary);
		st.sending[src] = m != NULL;
		st.open_expect[src] = m ? l->nexpect - 1 : 0;
	}
	if (st.sending[src] && l->expect[st.open_expect[src]].len != (size_t)-1) {
		m = &l->expect[st.open_expect[src]];
		grow(m, p, n);
		m->done = final;
	}
	st.msg_open[src] = !final;
	if (final) {
		st.sending[src] = false;
	}
	if (flags & 128) {
		unsigned char ping[WSFRAME_CTRL_MAX];

		st.lane[src].pings++;
		peer_frame(src, WSFRAME_PING, true, ping, ping_payload(st.lane[src].pings, ping),
		           false);
	}
	peer_frame(src, first ? (binary ? WSFRAME_BINARY : WSFRAME_TEXT) : WSFRAME_CONT, final, p,
	           n, flags & 32);
	if (!(flags & 64)) {
		relay_read_all(src);
	}
}

static void feed_record(int src, const unsigned char *p, size_t n, unsigned flags)
{
	unsigned char *big = NULL;

	if ((flags & 16) && n) {
		n = n < 1024 ? n : 1024;
		big = malloc(n * REPEAT);
		if (!big) {
			abort();
		}
		for (size_t i = 0; i < REPEAT; i++) {
			memcpy(big + i * n, p, n);
		}
		p = big;
		n *= REPEAT;
	}
	feed(src, p, n, flags);
	free(big);
}

static bool same(const struct msg *a, const struct msg *b)
{
	return a->binary == b->binary && a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool is_injected(struct lane *l, const struct msg *g)
{
	for (size_t i = 0; i < l->ninjected; i++) {
		if (l->injected[i] && !g->binary && g->len == strlen(l->injected[i]) &&
		    memcmp(g->data, l->injected[i], g->len) == 0) {
			l->injected[i] = NULL;
			return true;
		}
	}
	return false;
}

/* The delivered messages are the sent ones in order (dropped ones skipped), with the injected
 * ones whole somewhere in between. Injected messages wait for a streamed message to end, so they
 * must all be out only when no message toward dst is left open. */
static void verify(int dst, bool stopped)
{
	struct lane *l = &st.lane[dst];
	bool open = false;
	size_t e = 0;

	if (l->truncated || stopped) {
		return;
	}
	for (size_t g = 0; g < l->ngot; g++) {
		while (e < l->nexpect && l->expect[e].len == (size_t)-1) {
			e++;
		}
		if (!l->got[g].done) {
			/* The last one, still open: a part of the message being sent. */
			if (e == l->nexpect || l->expect[e].done ||
			    l->expect[e].binary != l->got[g].binary ||
			    l->got[g].len > l->expect[e].len ||
			    (l->got[g].len &&
			     memcmp(l->got[g].data, l->expect[e].data, l->got[g].len))) {
				abort();
			}
			open = true;
			e++;
		} else if (e < l->nexpect && l->expect[e].done && same(&l->got[g], &l->expect[e])) {
			e++;
		} else if (!is_injected(l, &l->got[g])) {
			abort(); /* changed on the way, out of order, or nobody sent it */
		}
	}
	for (; e < l->nexpect; e++) {
		if (l->expect[e].len != (size_t)-1 && l->expect[e].done) {
			abort(); /* a whole message that never arrived */
		}
		open = open || l->expect[e].len != (size_t)-1;
	}
	for (size_t i = 0; i < l->ninjected && !open; i++) {
		if (l->injected[i]) {
			abort(); /* an injected message was lost */
		}
	}
}

static void reset(void)
{
	for (int s = 0; s < 2; s++) {
		struct lane *l = &st.lane[s];
		for (size_t i = 0; i < l->nexpect; i++) {
			free(l->expect[i].data);
		}
		for (size_t i = 0; i < l->ngot; i++) {
			free(l->got[i].data);
		}
	}
	memset(&st, 0, sizeof(st));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy p;
	bool control, stopped = false;
	size_t pos = 1;

	if (size < 1) {
		return 0;
	}
	reset();
	memset(&p, 0, sizeof(p));
	control = data[0] & 1;
	p.cfg.max_message = MAX_MESSAGE;
	p.cfg.max_queued = data[0] & 2 ? SMALL_QUEUE : MAX_QUEUED;
	p.cfg.server_methods = server_methods;
	p.cfg.client_methods = client_methods;
	p.cfg.internal_id_prefix = "codex-switch/";
	p.cfg.hooks = &hooks;
	p.ev = ev_new();
	p.rxbuf = malloc(PROXY_RX_CHUNK);
	st.c = p.ev && p.rxbuf ? proxy_relay_new(&p, control) : NULL;
	if (!st.c) {
		abort();
	}
	st.rng = 0x9e3779b97f4a7c15ULL ^ size;
	open_socks(control);
	for (int s = control ? SIDE_UP : SIDE_DOWN; s <= SIDE_UP; s++) {
		if (proxy_ws_adopt(st.c, s, sock[s][0]) < 0) {
			abort();
		}
	}
	st.c->opened = true;
	check_sides();
	while (!stopped && pos + 3 <= size) {
		unsigned flags = data[pos];
		size_t n = (size_t)data[pos + 1] << 8 | data[pos + 2];
		int src = control ? SIDE_UP : (int)(flags & 1);

		pos += 3;
		n = n < size - pos ? n : size - pos;
		feed_record(src, data + pos, n, flags);
		pos += n;
		pump(SIDE_UP);
		if (flags & 8) {
			drain(!src);
		}
		/* Closing (a too large message, an overflow): the rest is dropped on purpose. */
		stopped = st.c->closing[SIDE_UP].set || st.c->closing[SIDE_DOWN].set;
	}
	/* What is still held back in the sockets, then everything toward both peers. */
	relay_read_all(SIDE_UP);
	relay_read_all(SIDE_DOWN);
	drain(SIDE_UP);
	drain(SIDE_DOWN);
	pump(SIDE_UP);
	pump(SIDE_DOWN);
	stopped = stopped || st.c->closing[SIDE_UP].set || st.c->closing[SIDE_DOWN].set;
	for (int s = 0; s < 2; s++) {
		const struct dec *d = &st.lane[s].dec;

		if (live(s) && (d->in_payload || d->hlen)) {
			abort(); /* all is written, yet a frame is cut short */
		}
		if (live(s) && st.lane[s].pong != st.lane[s].pings) {
			abort(); /* a ping never answered */
		}
	}
	verify(SIDE_UP, stopped);
	verify(SIDE_DOWN, stopped || control);
	if (control && (st.lane[SIDE_DOWN].ngot || wsq_bytes(&st.c->q[SIDE_DOWN]))) {
		abort();
	}
	proxy_relay_free(st.c); /* closes the relay's ends, stops its timers */
	for (int s = 0; s < 2; s++) {
		if (sock[s][1] >= 0) {
			close(sock[s][1]);
		}
		sock[s][0] = sock[s][1] = -1;
	}
	free(p.rxbuf);
	ev_free(p.ev);
	reset();
	return 0;
}
