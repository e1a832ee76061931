/*
 * The proxy's forwarding logic (proxy_relay.c, and proxy_up.c/wsframe.c for the app-server side)
 * fed with arbitrary fragment sequences from both sides, with the lws calls it makes replaced by
 * stubs below (the executable's definitions win over the shared library's). Hooks behave like
 * the runtime's: they parse what they intercept, drop the refresh requests and answer them, and
 * inject a warning.
 *
 * Both write paths are recorded as messages: toward the TUI, lws_write() with data flags, or
 * LWS_WRITE_RAW with our own server frames (coalesced); toward the app-server, masked client
 * frames sent with send() on lws_get_socket_fd(), which here is one end of a small non-blocking
 * socketpair that the harness empties after every step (a full one gives EAGAIN, as a slow
 * app-server would). Raw bytes go through an RFC 6455 decoder of their own, per side. The
 * app-server's messages reach the relay as server frames through proxy_up_callback(RAW_RX).
 *
 * Checked on every input: each side receives exactly the messages the other side sent, byte for
 * byte, in order, with their text/binary type and intact framing, minus the ones a hook dropped,
 * plus the ones a hook injected, whole and never inside another message.
 *
 * Input: byte 0 chooses the mode (bit 0: control connection); then records of
 * [flags][len][len bytes], flags bit 0 = from the app-server, bit 1 = final fragment, bit 2 =
 * binary (first fragment only), bit 3 = let the destination write now, bit 4 = the bytes
 * repeated 1024 times (to reach the size limits with small inputs), bit 5 = an app-server frame
 * arrives in two reads split at a point set by its length.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "proxy_int.h"
#include "trigger.h"

#define MAX_MESSAGE (3 * 1024 * 1024 / 2)
#define REPEAT      1024
#define MAX_MSGS    256
/* Small, so large frames toward the app-server are sent in parts (EAGAIN, POLLOUT). */
#define SOCK_BUF (16 * 1024)

struct msg {
	unsigned char *data;
	size_t len, cap;
	bool binary;
	bool done;
};

/* A WebSocket frame decoder for the bytes written raw toward one side. */
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
	size_t clen; /* control payload bytes seen */
	bool closed; /* a close frame was sent: nothing may follow */
};

/* Per destination side: what must arrive (sent or injected) and what did arrive. */
struct lane {
	struct msg expect[MAX_MSGS];
	size_t nexpect;
	struct msg got[MAX_MSGS];
	size_t ngot;
	const char *injected[MAX_MSGS]; /* borrowed literals, in injection order */
	size_t ninjected;
	bool truncated; /* more messages than tracked: stop checking this lane */
	struct dec dec;
};

/* sock[S][0] is what the relay sends on toward S, sock[S][1] what the harness reads. */
static int sock[2][2] = {{-1, -1}, {-1, -1}};

static struct {
	char wsi_mem[2];
	struct lane lane[2];
	struct proxy_conn *c;
	size_t open_expect[2]; /* index in lane[!src].expect of the message being sent by src */
	bool sending[2];
	bool msg_open[2]; /* src is in the middle of a message (tracked or not) */
} st;

static int side_of(struct lws *wsi)
{
	return wsi == (struct lws *)&st.wsi_mem[SIDE_UP];
}

/* ---- lws stubs ---- */

int lws_rx_flow_control(struct lws *wsi, int enable)
{
	return 0;
}

int lws_callback_on_writable(struct lws *wsi)
{
	return 1;
}

void lws_close_reason(struct lws *wsi, enum lws_close_status status, unsigned char *buf, size_t len)
{
}

void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs)
{
}

void lws_sul_cancel(lws_sorted_usec_list_t *sul)
{
}

/* lws_write() below never keeps bytes back. */
int lws_partial_buffered(struct lws *wsi)
{
	return 0;
}

lws_sockfd_type lws_get_socket_fd(struct lws *wsi)
{
	return sock[side_of(wsi)][0];
}

void *lws_get_opaque_user_data(const struct lws *wsi)
{
	return st.c;
}

void lws_set_opaque_user_data(struct lws *wsi, void *data)
{
}

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
	if ((d->hdr[0] & 0x70) || d->masked != (side == SIDE_UP) || d->closed) {
		abort(); /* reserved bits, client frames unmasked / server frames masked, after
		            close */
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
	if (d->op >= 8) {
		if (d->op > 10 || !d->fin || n > WSFRAME_CTRL_MAX) {
			abort(); /* an unknown or invalid control frame */
		}
		d->closed = d->op == 8;
	} else if (d->op > 2) {
		abort();
	} else {
		got_frame(l, d->op == 0, d->op == 2);
	}
}

/* Payload bytes of the current frame (data: appended to the open message). */
static void dec_payload(struct lane *l, const unsigned char *p, size_t n)
{
	struct dec *d = &l->dec;
	unsigned char tmp[256];

	d->left -= n;
	if (d->op >= 8) {
		d->clen += n;
	}
	while (d->op < 8 && n) {
		size_t k = n < sizeof(tmp) ? n : sizeof(tmp);

		for (size_t i = 0; i < k; i++) {
			tmp[i] = p[i] ^ d->mask[d->moff++ & 3];
		}
		grow(&l->got[l->ngot - 1], tmp, k);
		p += k;
		n -= k;
	}
	if (d->left == 0) {
		d->in_payload = false;
		if (d->op < 8) {
			l->got[l->ngot - 1].done = d->fin;
		}
	}
}

/* Bytes written raw toward side; a frame may span writes. */
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

		dec_payload(l, p, k);
		p += k;
		n -= k;
	}
}

/* Reads what the relay sent toward side from the socketpair. */
static void pump(int side)
{
	unsigned char b[64 * 1024];
	ssize_t n;

	while ((n = read(sock[side][1], b, sizeof(b))) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0) {
			dec_feed(side, b, (size_t)n);
		}
	}
	if (n == 0 || errno != EAGAIN) {
		abort();
	}
}

int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol wp)
{
	int side = side_of(wsi);
	struct lane *l = &st.lane[side];
	int op = (int)wp & 0x3f;
	struct msg *m;

	if (side == SIDE_UP) {
		abort(); /* the app-server side is a raw socket we write with send() */
	}
	if (op == LWS_WRITE_RAW) {
		dec_feed(side, buf, len);
		return (int)len;
	}
	if (l->dec.in_payload || l->dec.hlen) {
		abort(); /* lws would put its frame inside one of ours */
	}
	if (op != LWS_WRITE_TEXT && op != LWS_WRITE_BINARY && op != LWS_WRITE_CONTINUATION) {
		abort();
	}
	m = got_frame(l, op == LWS_WRITE_CONTINUATION, op == LWS_WRITE_BINARY);
	grow(m, buf, len);
	m->done = !((int)wp & LWS_WRITE_NO_FIN);
	return (int)len;
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

static void drop_expected(int src)
{
	struct lane *l = &st.lane[!src];

	if (st.sending[src] && !l->truncated) {
		l->expect[st.open_expect[src]].len = (size_t)-1; /* marked dropped */
	}
}

static enum proxy_verdict on_server(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(json, len);
	struct trigger t;

	if (strlen(json) != len && memchr(json, '\0', len) == NULL) {
		abort();
	}
	if (strcmp(h->method, "account/chatgptAuthTokens/refresh") == 0 && h->id[0]) {
		drop_expected(SIDE_UP);
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
		drop_expected(SIDE_UP);
		return PROXY_DROP;
	}
	return PROXY_FORWARD;
}

static enum proxy_verdict on_client(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	return PROXY_FORWARD;
}

static const char *const server_methods[] = {"error", "account/rateLimits/updated",
                                             "account/chatgptAuthTokens/refresh", NULL};
static const char *const client_methods[] = {"turn/start", NULL};
static const struct proxy_hooks hooks = {.server_message = on_server, .client_message = on_client};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sz = SOCK_BUF;

	fuzz_init();
	for (int s = 0; s < 2; s++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sock[s]) <
		            0 ||
		    setsockopt(sock[s][0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) < 0) {
			abort();
		}
	}
	return 0;
}

/* ---- driver ---- */

/* WRITEABLE toward side until its queue is empty, the app-server's socket read after each. */
static void drain(int side)
{
	struct lws *wsi = (struct lws *)&st.wsi_mem[side];

	for (int i = 0; i < 100000; i++) {
		int r;

		if (side == SIDE_DOWN) {
			if (!wsq_ready(&st.c->q[side])) {
				return;
			}
			r = proxy_relay_writeable(st.c, side, wsi);
		} else {
			if (!wsq_ready(&st.c->q[side]) && !st.c->up.out_len) {
				return;
			}
			r = proxy_up_callback(wsi, LWS_CALLBACK_RAW_WRITEABLE, NULL, NULL, 0);
			pump(SIDE_UP);
		}
		if (r < 0) {
			return;
		}
	}
}

/* Hands one fragment from the app-server to proxy_up.c as a server frame, in one or two reads. */
static int up_receive(const unsigned char *p, size_t n, bool first, bool final, bool binary,
                      bool split)
{
	struct lws *wsi = (struct lws *)&st.wsi_mem[SIDE_UP];
	unsigned char *f = malloc(n + 10);
	size_t h = 2, total, cut;
	int r;

	if (!f) {
		abort();
	}
	f[0] = (unsigned char)((final ? 0x80 : 0) | (first ? (binary ? 2 : 1) : 0));
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
		memcpy(f + h, p, n);
	}
	total = h + n;
	cut = split ? 1 + n % (total - 1) : total;
	r = proxy_up_callback(wsi, LWS_CALLBACK_RAW_RX, NULL, f, cut);
	if (r == 0 && cut < total) {
		r = proxy_up_callback(wsi, LWS_CALLBACK_RAW_RX, NULL, f + cut, total - cut);
	}
	free(f);
	if (r < 0) {
		abort(); /* valid server frames refused (the relay never refuses app-server data) */
	}
	return 0;
}

static int feed(int src, const unsigned char *p, size_t n, bool final, bool binary, bool split)
{
	int dst = !src;
	bool first = !st.msg_open[src];
	struct msg *m;

	if (!st.sending[src]) {
		m = expect_new(dst, binary);
		st.sending[src] = m != NULL;
		st.open_expect[src] = m ? st.lane[dst].nexpect - 1 : 0;
	}
	if (st.sending[src] && st.lane[dst].expect[st.open_expect[src]].len != (size_t)-1) {
		m = &st.lane[dst].expect[st.open_expect[src]];
		grow(m, p, n);
		m->done = final;
	}
	st.msg_open[src] = !final;
	if (src == SIDE_UP) {
		up_receive(p, n, first, final, binary, split);
	} else if (proxy_relay_receive(st.c, src, p, n, binary, final) < 0) {
		return -1;
	}
	if (final) {
		st.sending[src] = false;
	}
	return 0;
}

/* lws hands a big frame over in chunks of at most its receive buffer; so does this. */
static int feed_record(int src, const unsigned char *p, size_t n, unsigned flags)
{
	unsigned char *big = NULL;
	size_t off = 0;
	int r = 0;

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
	do {
		size_t k = n - off < PROXY_TX_CHUNK ? n - off : PROXY_TX_CHUNK;
		r = feed(src, p + off, k, (flags & 2) && off + k == n, flags & 4, flags & 32);
		off += k;
	} while (r == 0 && off < n);
	free(big);
	return r;
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
	unsigned char b[4096];

	for (int s = 0; s < 2; s++) {
		while (read(sock[s][1], b, sizeof(b)) > 0) {
		}
	}
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
	p.cfg.max_queued = 64 * 1024 * 1024;
	p.cfg.server_methods = server_methods;
	p.cfg.client_methods = client_methods;
	p.cfg.internal_id_prefix = "codex-switch/";
	p.cfg.hooks = &hooks;
	/* proxy_create allocates it in the real proxy: coalesced small frames go through it. */
	p.txbuf = malloc(LWS_PRE + PROXY_TX_CHUNK);
	st.c = proxy_relay_new(&p, control);
	if (!st.c) {
		abort();
	}
	st.c->wsi[SIDE_UP] = (struct lws *)&st.wsi_mem[SIDE_UP];
	st.c->wsi[SIDE_DOWN] = control ? NULL : (struct lws *)&st.wsi_mem[SIDE_DOWN];
	st.c->up_established = true;
	st.c->opened = true;
	while (!stopped && pos + 3 <= size) {
		unsigned flags = data[pos];
		size_t n = (size_t)data[pos + 1] << 8 | data[pos + 2];
		int src = control ? SIDE_UP : (int)(flags & 1);

		pos += 3;
		n = n < size - pos ? n : size - pos;
		stopped = feed_record(src, data + pos, n, flags) < 0;
		pump(SIDE_UP);
		pos += n;
		if (flags & 8) {
			drain(!src);
		}
		/* Closing (a too large message, an overflow): the rest is dropped on purpose. */
		stopped = stopped || st.c->closing[SIDE_UP].set || st.c->closing[SIDE_DOWN].set;
	}
	drain(SIDE_UP);
	if (!control) {
		drain(SIDE_DOWN);
	}
	pump(SIDE_UP);
	verify(SIDE_UP, stopped);
	verify(SIDE_DOWN, stopped || control);
	if (control && st.lane[SIDE_DOWN].ngot) {
		abort();
	}
	st.c->wsi[SIDE_UP] = st.c->wsi[SIDE_DOWN] = NULL;
	proxy_relay_free(st.c);
	free(p.txbuf);
	reset();
	return 0;
}
