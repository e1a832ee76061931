/*
 * The relay (proxy_relay.c) with its real WebSocket ends (proxy_ws.c) on a real event loop, as
 * tests/fuzz/fuzz_ws_relay.c drives it: a conn whose two ends are socketpairs adopted as open
 * WebSockets. The test plays both peers on the far ends: the TUI, which sends masked client
 * frames, and the app-server, which sends plain server frames. What the relay writes is decoded
 * here, independently of wsframe.c, and must be masked toward the app-server and plain toward
 * the TUI (RFC 6455 5.1).
 */
#define _GNU_SOURCE
#include "proxy/proxy_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#define PAYLOAD_MAX PROXY_TX_CHUNK
#define IN_MAX      (512 * 1024)
/* Loop iterations (1 ms ticks at most) a test waits for the relay, at most. */
#define TICKS 3000

struct frame {
	unsigned op;
	bool fin, masked;
	unsigned char key[4]; /* when masked */
	size_t len;
	unsigned char data[PAYLOAD_MAX + 1]; /* NUL-terminated */
};

struct fx {
	struct proxy p;
	/* The far ends: peer[SIDE_DOWN] plays the TUI, peer[SIDE_UP] the app-server. */
	int peer[2];
	unsigned char in[2][IN_MAX]; /* read by each peer, not decoded yet */
	bool draining;               /* peers read what arrives while their writes wait */
	size_t inlen[2];
	struct ev_timer tick;
	enum proxy_verdict verdict; /* what the hooks answer */
	int calls[2];               /* hook calls per source side */
	char seen[2][PAYLOAD_MAX];  /* the last message a hook was handed, per source side */
	char method[2][128];
};

/* ---- hooks ---- */

static void record(struct fx *f, int src, const struct jsonrpc_head *h, const char *json,
                   size_t len)
{
	assert_true(len < sizeof(f->seen[src]));
	assert_int_equal(json[len], '\0');
	memcpy(f->seen[src], json, len + 1);
	snprintf(f->method[src], sizeof(f->method[src]), "%s", h->method);
	f->calls[src]++;
}

static enum proxy_verdict on_server(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	struct fx *f = ctx;

	(void)c;
	record(f, SIDE_UP, h, json, len);
	return f->verdict;
}

static enum proxy_verdict on_client(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	struct fx *f = ctx;

	(void)c;
	record(f, SIDE_DOWN, h, json, len);
	return f->verdict;
}

static const char *const server_methods[] = {"account/rateLimits/updated", NULL};
static const char *const client_methods[] = {"turn/start", NULL};
static const struct proxy_hooks hooks = {.server_message = on_server, .client_message = on_client};

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->peer[0] = f->peer[1] = -1;
	f->p.ev = ev_new();
	f->p.rxbuf = malloc(PROXY_RX_CHUNK);
	assert_non_null(f->p.ev);
	assert_non_null(f->p.rxbuf);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	while (f->p.conns) {
		proxy_relay_free(f->p.conns); /* closes the relay's ends */
	}
	for (int s = 0; s < 2; s++) {
		if (f->peer[s] >= 0) {
			close(f->peer[s]);
		}
	}
	ev_timer_stop(f->p.ev, &f->tick);
	ev_free(f->p.ev);
	free(f->p.rxbuf);
	free(f);
	return 0;
}

/* A conn with both ends open; the relay's ends have small send buffers, so that a peer that
 * does not read fills them soon. */
static struct proxy_conn *start(struct fx *f, size_t max_message, size_t max_queued)
{
	struct proxy_conn *c;
	int sz = 16 * 1024;

	f->p.cfg = (struct proxy_config){.ev = f->p.ev,
	                                 .max_message = max_message,
	                                 .max_queued = max_queued,
	                                 .server_methods = server_methods,
	                                 .client_methods = client_methods,
	                                 .internal_id_prefix = "codex-switch/",
	                                 .hooks = &hooks,
	                                 .hooks_ctx = f};
	c = proxy_relay_new(&f->p, false);
	assert_non_null(c);
	for (int s = 0; s < 2; s++) {
		int sv[2];

		assert_int_equal(
		        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
		assert_int_equal(proxy_ws_adopt(c, s, sv[0]), 0);
		f->peer[s] = sv[1];
	}
	c->opened = true;
	return c;
}

static void tick_fired(struct ev_timer *t)
{
	(void)t;
}

/* One loop iteration: what is ready, or a 1 ms tick when nothing is. */
static void spin(struct fx *f)
{
	ev_timer_start(f->p.ev, &f->tick, tick_fired, 1000);
	assert_int_equal(ev_run_once(f->p.ev), 0);
	ev_timer_stop(f->p.ev, &f->tick);
}

/* Bytes waiting in the relay's socket of side, not read by the relay yet. */
static size_t unread(struct proxy_conn *c, int side)
{
	int n = 0;

	assert_int_equal(ioctl(c->ws[side].io.fd, FIONREAD, &n), 0);
	return (size_t)n;
}

/* ---- the peers ---- */

/* What has arrived at both peers, kept for decoding: real peers read while they write, and the
 * relay stops reading a side whose destination does not (a full socket pauses its source). */
static void peer_drain(struct fx *f)
{
	for (int s = 0; s < 2; s++) {
		ssize_t k = recv(f->peer[s], f->in[s] + f->inlen[s], IN_MAX - f->inlen[s],
		                 MSG_DONTWAIT);

		if (k > 0) {
			f->inlen[s] += (size_t)k;
		}
	}
}

static void peer_write(struct fx *f, int side, const unsigned char *p, size_t n)
{
	for (int i = 0; n; i++) {
		ssize_t k = send(f->peer[side], p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		assert_true(k < 0 && (errno == EAGAIN || errno == EINTR) && i < TICKS);
		if (f->draining) {
			peer_drain(f);
		}
		spin(f);
	}
}

static const unsigned char tui_mask[4] = {0x5a, 0xc3, 0x0f, 0x96};

/* One frame into b as a peer on side sends it: masked with mask from the TUI, plain from the
 * app-server. Returns its length. */
static size_t encode(unsigned char *b, int side, unsigned op, bool fin, const void *data, size_t n,
                     const unsigned char mask[4])
{
	const unsigned char *p = data;
	bool masked = side == SIDE_DOWN;
	size_t h = 2;

	assert_true(n <= PAYLOAD_MAX);
	b[0] = (unsigned char)((fin ? 0x80 : 0) | op);
	b[1] = (unsigned char)(n < 126 ? n : n <= 0xffff ? 126 : 127);
	if (n >= 126 && n <= 0xffff) {
		b[2] = (unsigned char)(n >> 8);
		b[3] = (unsigned char)n;
		h = 4;
	} else if (n > 0xffff) {
		memset(b + 2, 0, 8);
		for (int i = 0; i < 4; i++) {
			b[9 - i] = (unsigned char)(n >> (8 * i));
		}
		h = 10;
	}
	if (masked) {
		b[1] |= 0x80;
		memcpy(b + h, mask, 4);
		h += 4;
	}
	for (size_t i = 0; i < n; i++) {
		b[h + i] = p[i] ^ (masked ? mask[i & 3] : 0);
	}
	return h + n;
}

static void peer_send_mask(struct fx *f, int side, unsigned op, bool fin, const void *data,
                           size_t n, const unsigned char mask[4])
{
	static unsigned char b[WSFRAME_HDR_MAX + PAYLOAD_MAX];

	peer_write(f, side, b, encode(b, side, op, fin, data, n, mask));
}

static void peer_send(struct fx *f, int side, unsigned op, bool fin, const void *data, size_t n)
{
	peer_send_mask(f, side, op, fin, data, n, tui_mask);
}

static void peer_text(struct fx *f, int side, const char *s)
{
	peer_send(f, side, WSFRAME_TEXT, true, s, strlen(s));
}

/* Decodes the first whole frame read by the peer on side; false when it is not all there. */
static bool decode(struct fx *f, int side, struct frame *fr)
{
	unsigned char *b = f->in[side];
	size_t have = f->inlen[side], h = 2, n;

	if (have < 2) {
		return false;
	}
	n = b[1] & 0x7f;
	if (n == 126) {
		n = have < 4 ? 0 : (size_t)b[2] << 8 | b[3];
		h = 4;
	} else if (n == 127) {
		n = 0;
		for (int i = 0; i < 8 && have >= 10; i++) {
			n = n << 8 | b[2 + i];
		}
		h = 10;
	}
	fr->masked = b[1] & 0x80;
	h += fr->masked ? 4 : 0;
	if (have < h || have - h < n) {
		return false;
	}
	if (fr->masked) {
		memcpy(fr->key, b + h - 4, 4);
	}
	assert_int_equal(b[0] & 0x70, 0); /* no reserved bits */
	assert_true(n <= PAYLOAD_MAX);
	fr->op = b[0] & 0x0f;
	fr->fin = b[0] & 0x80;
	fr->len = n;
	for (size_t i = 0; i < n; i++) {
		fr->data[i] = b[h + i] ^ (fr->masked ? b[h - 4 + (i & 3)] : 0);
	}
	fr->data[n] = '\0';
	memmove(b, b + h + n, have - h - n);
	f->inlen[side] = have - h - n;
	return true;
}

/* The next frame the relay wrote toward side, running the loop until it is there. */
static void peer_read(struct fx *f, int side, struct frame *fr)
{
	for (int i = 0; i < TICKS; i++) {
		ssize_t k;

		if (decode(f, side, fr)) {
			assert_int_equal(fr->masked, side == SIDE_UP);
			return;
		}
		k = recv(f->peer[side], f->in[side] + f->inlen[side], IN_MAX - f->inlen[side],
		         MSG_DONTWAIT);
		if (k > 0) {
			f->inlen[side] += (size_t)k;
		} else {
			assert_true(k < 0 && (errno == EAGAIN || errno == EINTR)); /* not closed */
			spin(f);
		}
	}
	fail_msg("no frame toward the %s", side == SIDE_DOWN ? "TUI" : "app-server");
}

static void expect_frame(struct fx *f, int side, unsigned op, bool fin, const void *data,
                         size_t len)
{
	struct frame fr;

	peer_read(f, side, &fr);
	assert_int_equal(fr.op, op);
	assert_int_equal(fr.fin, fin);
	assert_int_equal(fr.len, len);
	assert_memory_equal(fr.data, data, len);
}

static void expect_text(struct fx *f, int side, const char *s)
{
	expect_frame(f, side, WSFRAME_TEXT, true, s, strlen(s));
}

/* The next whole message toward side, whatever its fragmentation, into out; its length. */
static size_t read_message(struct fx *f, int side, char *out, size_t cap)
{
	struct frame fr;
	size_t len = 0;

	do {
		peer_read(f, side, &fr);
		assert_int_equal(fr.op, len ? WSFRAME_CONT : WSFRAME_TEXT);
		assert_true(len + fr.len <= cap);
		memcpy(out + len, fr.data, fr.len);
		len += fr.len;
	} while (!fr.fin);
	return len;
}

/* Data frames toward side are skipped until its close frame, which must carry code (and
 * reason when not NULL). */
static void expect_close(struct fx *f, int side, int code, const char *reason)
{
	struct frame fr;

	do {
		peer_read(f, side, &fr);
		assert_true(fr.op < 8 || fr.op == WSFRAME_CLOSE);
	} while (fr.op != WSFRAME_CLOSE);
	assert_true(fr.len >= 2);
	assert_int_equal(fr.data[0] << 8 | fr.data[1], code);
	if (reason) {
		assert_string_equal((const char *)fr.data + 2, reason);
	}
}

/* ---- tests ---- */

static void test_text_from_tui_reaches_app_server(void **state)
{
	static const char m[] = "{\"method\":\"thread/start\",\"id\":1,\"params\":{\"cwd\":\"/\"}}";
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	peer_text(f, SIDE_DOWN, m);
	expect_text(f, SIDE_UP, m);
	assert_int_equal(f->calls[SIDE_DOWN], 0);
}

static void test_messages_from_app_server_reach_tui(void **state)
{
	static const char m[] = "{\"method\":\"turn/started\",\"params\":{\"turn\":{}}}";
	static const unsigned char bin[] = {0, 0xff, 'x', 0x80};
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	peer_text(f, SIDE_UP, m);
	peer_send(f, SIDE_UP, WSFRAME_BINARY, true, bin, sizeof(bin));
	expect_text(f, SIDE_DOWN, m);
	expect_frame(f, SIDE_DOWN, WSFRAME_BINARY, true, bin, sizeof(bin));
}

/* Each fragment crosses before the next one is sent: never reassembled. */
static void test_fragments_stream_through(void **state)
{
	static const char a[] = "{\"method\":\"turn/steer\",\"id\":2,\"params\":{\"text\":\"ab",
	                  b[] = "cd", e[] = "\"}}";
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	peer_send(f, SIDE_DOWN, WSFRAME_TEXT, false, a, strlen(a));
	expect_frame(f, SIDE_UP, WSFRAME_TEXT, false, a, strlen(a));
	peer_send(f, SIDE_DOWN, WSFRAME_CONT, false, b, strlen(b));
	expect_frame(f, SIDE_UP, WSFRAME_CONT, false, b, strlen(b));
	peer_send(f, SIDE_DOWN, WSFRAME_CONT, true, e, strlen(e));
	expect_frame(f, SIDE_UP, WSFRAME_CONT, true, e, strlen(e));
}

#define RL_HEAD "{\"method\":\"account/rateLimits/updated\","
#define RL_TAIL "\"params\":{\"rateLimits\":{\"primary\":null}}}"

static void test_server_method_hooked_whole_and_dropped(void **state)
{
	static const char next[] = "{\"method\":\"turn/completed\",\"params\":{}}";
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	f->verdict = PROXY_DROP;
	peer_send(f, SIDE_UP, WSFRAME_TEXT, false, RL_HEAD, strlen(RL_HEAD));
	peer_send(f, SIDE_UP, WSFRAME_CONT, true, RL_TAIL, strlen(RL_TAIL));
	peer_text(f, SIDE_UP, next);
	/* The dropped message never reaches the TUI: the next one is the first it gets. */
	expect_text(f, SIDE_DOWN, next);
	assert_int_equal(f->calls[SIDE_UP], 1);
	assert_string_equal(f->seen[SIDE_UP], RL_HEAD RL_TAIL);
	assert_string_equal(f->method[SIDE_UP], "account/rateLimits/updated");
}

static void test_client_method_hooked(void **state)
{
	static const char m[] = "{\"method\":\"turn/start\",\"id\":5,\"params\":{\"input\":[]}}",
	                  other[] = "{\"method\":\"thread/list\",\"id\":6}";
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	peer_text(f, SIDE_DOWN, m);
	peer_text(f, SIDE_DOWN, other);
	expect_text(f, SIDE_UP, m);
	expect_text(f, SIDE_UP, other);
	assert_int_equal(f->calls[SIDE_DOWN], 1);
	assert_string_equal(f->seen[SIDE_DOWN], m);
	assert_string_equal(f->method[SIDE_DOWN], "turn/start");
	assert_int_equal(f->calls[SIDE_UP], 0);
}

static void test_internal_response_hooked(void **state)
{
	static const char mine[] = "{\"id\":\"codex-switch/7\",\"result\":{\"ok\":true}}",
	                  theirs[] = "{\"id\":\"tui/7\",\"result\":{}}";
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	f->verdict = PROXY_DROP;
	peer_text(f, SIDE_UP, mine);
	peer_text(f, SIDE_UP, theirs);
	expect_text(f, SIDE_DOWN, theirs);
	assert_int_equal(f->calls[SIDE_UP], 1);
	assert_string_equal(f->seen[SIDE_UP], mine);
}

/* Two fragments, each under the limit, together over it: both sides are closed with 1009. */
static void test_too_large_message_closes_1009(void **state)
{
	char a[800];
	struct fx *f = *state;

	start(f, 1024, 4 << 20);
	memset(a, 'a', sizeof(a));
	memcpy(a, "{\"x\":\"", 6);
	peer_send(f, SIDE_DOWN, WSFRAME_TEXT, false, a, sizeof(a));
	peer_send(f, SIDE_DOWN, WSFRAME_CONT, true, a + 6, sizeof(a) - 6);
	expect_close(f, SIDE_DOWN, 1009, "message too large");
	expect_close(f, SIDE_UP, 1009, "message too large");
	assert_int_equal(f->calls[SIDE_DOWN], 0);
}

/* The app-server does not read: the TUI is no longer read once 64 KiB (max_queued / 4) wait
 * toward it, and is read again once the app-server took enough of it. */
static void test_flow_control_pauses_and_resumes(void **state)
{
	static char m[8 * 1024], got[sizeof(m)];
	struct fx *f = *state;
	struct proxy_conn *c = start(f, 1 << 20, 256 * 1024);
	int sent = 0;

	memset(m, 'p', sizeof(m));
	memcpy(m, "{\"method\":\"x\",\"params\":\"", 23);
	memcpy(m + sizeof(m) - 2, "\"}", 2);
	while (!c->ws[SIDE_DOWN].paused) {
		assert_true(sent < 64); /* 512 KiB: far past the watermark */
		peer_send(f, SIDE_DOWN, WSFRAME_TEXT, true, m, sizeof(m)); /* m has no NUL */
		sent++;
		for (int i = 0; i < TICKS && unread(c, SIDE_DOWN) && !c->ws[SIDE_DOWN].paused;
		     i++) {
			spin(f);
		}
	}
	assert_int_equal(c->ws[SIDE_DOWN].io.events & EPOLLIN, 0);
	/* Paused: a message from the TUI stays in the socket. */
	peer_send(f, SIDE_DOWN, WSFRAME_TEXT, true, m, sizeof(m)); /* m has no NUL */
	sent++;
	for (int i = 0; i < 20; i++) {
		spin(f);
	}
	assert_true(c->ws[SIDE_DOWN].paused);
	assert_int_equal(unread(c, SIDE_DOWN), sizeof(m) + 8);
	/* It paused when the app-server's socket filled, long before the watermark (64 KiB):
	 * the kernel holds the rest, nothing is copied into the queue. */
	assert_true(wsq_bytes(&c->q[SIDE_UP]) < 2 * sizeof(m));
	/* The app-server reads: everything arrives intact and the TUI is read again. */
	for (int i = 0; i < sent; i++) {
		assert_int_equal(read_message(f, SIDE_UP, got, sizeof(got)), sizeof(m));
		assert_memory_equal(got, m, sizeof(m));
	}
	assert_false(c->ws[SIDE_DOWN].paused);
	assert_int_not_equal(c->ws[SIDE_DOWN].io.events & EPOLLIN, 0);
	assert_false(c->closing[SIDE_UP].set || c->closing[SIDE_DOWN].set);
}

/* The TUI's close code and reason reach the app-server; the TUI gets its code echoed; once the
 * app-server answered, the conn is gone. */
static void test_close_code_travels(void **state)
{
	static const unsigned char bye[] = {4000 >> 8, 4000 & 0xff, 'b', 'y', 'e'};
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	peer_send(f, SIDE_DOWN, WSFRAME_CLOSE, true, bye, sizeof(bye));
	expect_close(f, SIDE_UP, 4000, "bye");
	expect_close(f, SIDE_DOWN, 4000, NULL);
	peer_send(f, SIDE_UP, WSFRAME_CLOSE, true, bye, 2);
	for (int i = 0; i < TICKS && f->p.conns; i++) {
		spin(f);
	}
	assert_null(f->p.conns);
}

/* An app-server that drops the connection without a close frame: the TUI gets 1011. */
static void test_app_server_lost_closes_tui_1011(void **state)
{
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	close(f->peer[SIDE_UP]);
	f->peer[SIDE_UP] = -1;
	expect_close(f, SIDE_DOWN, 1011, "app-server connection lost");
}

/* ---- the TUI's frames pass masked (issue #18) ---- */

/* A message of n bytes: {"method":"<method>","id":<id>,"params":"xyz..."} in varied letters. */
static void make_message(char *m, size_t n, const char *method, int id)
{
	int h = snprintf(m, n, "{\"method\":\"%s\",\"id\":%d,\"params\":\"", method, id);

	assert_true(h > 0 && (size_t)h + 2 < n);
	for (size_t i = (size_t)h; i < n - 2; i++) {
		m[i] = (char)('a' + (i * 7) % 26);
	}
	memcpy(m + n - 2, "\"}", 2);
}

/* A large frame and a small one cross as they came: each carries the TUI's own mask toward the
 * app-server, and unmasks there to what the TUI sent. */
static void test_tui_frame_keeps_its_mask(void **state)
{
	static const unsigned char k1[4] = {0x01, 0x80, 0xfe, 0x37}, k2[4] = {0xa5, 0, 0x5a, 0xff};
	static char big[12 * 1024 + 3];
	static const char small[] = "{\"method\":\"thread/list\",\"id\":4}";
	struct fx *f = *state;
	struct frame fr;

	start(f, 1 << 20, 4 << 20);
	make_message(big, sizeof(big), "thread/read", 3);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_TEXT, true, big, sizeof(big), k1);
	peer_read(f, SIDE_UP, &fr);
	assert_int_equal(fr.op, WSFRAME_TEXT);
	assert_true(fr.fin);
	assert_int_equal(fr.len, sizeof(big));
	assert_memory_equal(fr.key, k1, 4);
	assert_memory_equal(fr.data, big, sizeof(big));
	peer_send_mask(f, SIDE_DOWN, WSFRAME_TEXT, true, small, strlen(small), k2);
	peer_read(f, SIDE_UP, &fr);
	assert_memory_equal(fr.key, k2, 4);
	assert_int_equal(fr.len, strlen(small));
	assert_memory_equal(fr.data, small, strlen(small));
	assert_int_equal(f->calls[SIDE_DOWN], 0);
}

/* A fragmented message whose frames have their own masks and odd sizes, sent together so that
 * one read holds several of them and ends inside one: the app-server gets it whole, in order,
 * its opcodes intact, even though its socket takes only part of each write. */
static void test_fragmented_tui_message_crosses_whole(void **state)
{
	static const size_t sizes[] = {9001, 16001, 3, 12345, 16000, 1, 8192, 16001};
	static char m[9001 + 16001 + 3 + 12345 + 16000 + 1 + 8192 + 16001], got[sizeof(m)];
	struct fx *f = *state;
	size_t off = 0;

	start(f, 1 << 20, 4 << 20);
	make_message(m, sizeof(m), "thread/resume", 8);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char k[4] = {(unsigned char)(i * 31 + 1), (unsigned char)(i * 17), 0x33,
		                      (unsigned char)(0xc0 ^ i)};
		bool last = i + 1 == sizeof(sizes) / sizeof(sizes[0]);

		peer_send_mask(f, SIDE_DOWN, i ? WSFRAME_CONT : WSFRAME_TEXT, last, m + off,
		               sizes[i], k);
		off += sizes[i];
	}
	assert_int_equal(off, sizeof(m));
	assert_int_equal(read_message(f, SIDE_UP, got, sizeof(got)), sizeof(m));
	assert_memory_equal(got, m, sizeof(m));
	assert_int_equal(f->calls[SIDE_DOWN], 0);
}

/* A watched method in a large fragmented masked message: the hook gets it whole and unmasked,
 * and the app-server gets it intact after the hook let it through. */
static void test_intercepted_tui_message_unmasked_for_hook(void **state)
{
	static char m[30000], got[sizeof(m)];
	static const unsigned char k[4] = {0xde, 0xad, 0xbe, 0xef};
	struct fx *f = *state;
	const size_t n = 16 * 1024 - 1; /* the hook's record holds it */

	start(f, 1 << 20, 4 << 20);
	make_message(m, n, "turn/start", 12);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_TEXT, false, m, 10001, tui_mask);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_CONT, true, m + 10001, n - 10001, k);
	assert_int_equal(read_message(f, SIDE_UP, got, sizeof(got)), n);
	assert_memory_equal(got, m, n);
	assert_int_equal(f->calls[SIDE_DOWN], 1);
	assert_string_equal(f->method[SIDE_DOWN], "turn/start");
	assert_int_equal(strlen(f->seen[SIDE_DOWN]), n);
	assert_memory_equal(f->seen[SIDE_DOWN], m, n);
}

/* The method name split across frames with different masks: a watched one is still seen and
 * reassembled for its hook, another one streams through intact. */
#define W1 "{\"meth"
#define W2 "od\":\"turn/st"
#define W3 "art\",\"id\":21,\"params\":{}}"
#define O1 "{\"id\":22,\"me"
#define O2 "thod\":\"thread/list\""
#define O3 ",\"params\":{}}"

static void test_head_split_across_frames(void **state)
{
	static const unsigned char k1[4] = {1, 2, 3, 4}, k2[4] = {0xff, 0x10, 0x20, 0x30};
	char got[256];
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_TEXT, false, W1, strlen(W1), k1);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_CONT, false, W2, strlen(W2), k2);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_CONT, true, W3, strlen(W3), k1);
	assert_int_equal(read_message(f, SIDE_UP, got, sizeof(got)), strlen(W1 W2 W3));
	assert_memory_equal(got, W1 W2 W3, strlen(W1 W2 W3));
	assert_int_equal(f->calls[SIDE_DOWN], 1);
	assert_string_equal(f->seen[SIDE_DOWN], W1 W2 W3);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_TEXT, false, O1, strlen(O1), k2);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_CONT, false, O2, strlen(O2), k1);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_CONT, true, O3, strlen(O3), k2);
	assert_int_equal(read_message(f, SIDE_UP, got, sizeof(got)), strlen(O1 O2 O3));
	assert_memory_equal(got, O1 O2 O3, strlen(O1 O2 O3));
	assert_int_equal(f->calls[SIDE_DOWN], 1);
}

/* Pings from both peers between the fragments of a large message from the TUI: each is
 * answered with its payload, between whole frames, and the message arrives intact. */
static void test_control_frames_between_fragments(void **state)
{
	static char m[3 * 12000], got[sizeof(m)];
	static const unsigned char k[4] = {9, 8, 7, 6};
	struct fx *f = *state;
	struct frame fr;
	size_t len = 0;
	bool pong_up = false;

	start(f, 1 << 20, 4 << 20);
	make_message(m, sizeof(m), "thread/read", 30);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_TEXT, false, m, 12000, k);
	peer_send(f, SIDE_DOWN, WSFRAME_PING, true, "tui", 3);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_CONT, false, m + 12000, 12000, tui_mask);
	peer_send(f, SIDE_UP, WSFRAME_PING, true, "server", 6);
	peer_send_mask(f, SIDE_DOWN, WSFRAME_CONT, true, m + 24000, 12000, k);
	expect_frame(f, SIDE_DOWN, WSFRAME_PONG, true, "tui", 3);
	/* Toward the app-server: the message's frames with the pong somewhere between them. */
	do {
		peer_read(f, SIDE_UP, &fr);
		if (fr.op == WSFRAME_PONG) {
			assert_false(pong_up);
			assert_int_equal(fr.len, 6);
			assert_memory_equal(fr.data, "server", 6);
			pong_up = true;
			continue;
		}
		assert_int_equal(fr.op, len ? WSFRAME_CONT : WSFRAME_TEXT);
		memcpy(got + len, fr.data, fr.len);
		len += fr.len;
	} while (fr.op == WSFRAME_PONG || !fr.fin);
	if (!pong_up) {
		expect_frame(f, SIDE_UP, WSFRAME_PONG, true, "server", 6);
	}
	assert_int_equal(len, sizeof(m));
	assert_memory_equal(got, m, sizeof(m));
}

/* Half a megabyte each way at once, in frames that fill the relay's reads, toward peers whose
 * sockets take a little at a time: both messages arrive byte for byte. */
static void test_large_messages_both_ways(void **state)
{
	static char up[512 * 1024], down[512 * 1024], got[512 * 1024];
	struct fx *f = *state;

	start(f, 1 << 20, 4 << 20);
	f->draining = true;
	make_message(up, sizeof(up), "bench/echo", 1);
	make_message(down, sizeof(down), "item/agentMessage/delta", 2);
	for (size_t off = 0, i = 0; off < sizeof(up); off += 16001, i++) {
		size_t n = sizeof(up) - off < 16001 ? sizeof(up) - off : 16001;
		unsigned char k[4] = {(unsigned char)i, 0x5a, (unsigned char)(i * 3), 0xa5};
		unsigned op = off ? WSFRAME_CONT : WSFRAME_TEXT;

		peer_send_mask(f, SIDE_DOWN, op, off + n == sizeof(up), up + off, n, k);
		peer_send(f, SIDE_UP, op, off + n == sizeof(down), down + off, n);
	}
	assert_int_equal(read_message(f, SIDE_UP, got, sizeof(got)), sizeof(up));
	assert_memory_equal(got, up, sizeof(up));
	assert_int_equal(read_message(f, SIDE_DOWN, got, sizeof(got)), sizeof(down));
	assert_memory_equal(got, down, sizeof(down));
	assert_false(f->p.conns->closing[SIDE_UP].set || f->p.conns->closing[SIDE_DOWN].set);
}

/* A large frame a read cut goes on in two pieces, and the read after the cut takes only its
 * rest: the next frame, as large as a frame toward a peer may be, is read whole and crosses as
 * one frame (a read of the usual size would have cut it too). */
static void test_read_after_a_cut_frame_realigns(void **state)
{
	static char a[40000], b[PROXY_TX_CHUNK];
	static unsigned char wire[2 * (WSFRAME_HDR_MAX + PROXY_TX_CHUNK)];
	struct fx *f = *state;
	struct frame fr;
	size_t na, nb, cut = 20000;

	start(f, 1 << 20, 4 << 20);
	f->draining = true;
	make_message(a, sizeof(a), "bench/echo", 1);
	make_message(b, sizeof(b), "bench/echo", 2);
	na = encode(wire, SIDE_DOWN, WSFRAME_TEXT, true, a, sizeof(a), tui_mask);
	nb = encode(wire + na, SIDE_DOWN, WSFRAME_TEXT, true, b, sizeof(b), tui_mask);
	peer_write(f, SIDE_DOWN, wire, cut);
	for (int i = 0; i < TICKS && unread(f->p.conns, SIDE_DOWN); i++) {
		spin(f);
	}
	peer_write(f, SIDE_DOWN, wire + cut, na + nb - cut);
	peer_read(f, SIDE_UP, &fr);
	assert_false(fr.fin);
	assert_memory_equal(fr.data, a, fr.len);
	size_t got = fr.len;
	peer_read(f, SIDE_UP, &fr);
	assert_true(fr.fin && fr.op == WSFRAME_CONT && got + fr.len == sizeof(a));
	assert_memory_equal(fr.data, a + got, fr.len);
	peer_read(f, SIDE_UP, &fr);
	assert_true(fr.fin && fr.op == WSFRAME_TEXT);
	assert_int_equal(fr.len, sizeof(b));
	assert_memory_equal(fr.data, b, sizeof(b));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_text_from_tui_reaches_app_server),
	        T(test_messages_from_app_server_reach_tui),
	        T(test_fragments_stream_through),
	        T(test_server_method_hooked_whole_and_dropped),
	        T(test_client_method_hooked),
	        T(test_internal_response_hooked),
	        T(test_too_large_message_closes_1009),
	        T(test_flow_control_pauses_and_resumes),
	        T(test_close_code_travels),
	        T(test_app_server_lost_closes_tui_1011),
	        T(test_tui_frame_keeps_its_mask),
	        T(test_fragmented_tui_message_crosses_whole),
	        T(test_intercepted_tui_message_unmasked_for_hook),
	        T(test_head_split_across_frames),
	        T(test_control_frames_between_fragments),
	        T(test_large_messages_both_ways),
	        T(test_read_after_a_cut_frame_realigns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
