#include "proxy/wsframe.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* What a parse run produced: data concatenated, events summarised as letters. */
struct seen {
	char data[4096];
	size_t len;
	char log[256];
	size_t nlog;
};

static void note(struct seen *s, char ch)
{
	s->log[s->nlog++] = ch;
	s->log[s->nlog] = '\0';
}

/* Parses one read p[0..n), handing every event to on(ctx, ev, end of the bytes it came from).
 * 0 or the first error. */
static long parse_read(struct wsframe_rx *rx, unsigned char *p, size_t n,
                       void (*on)(void *, const struct wsframe_event *, const unsigned char *),
                       void *ctx)
{
	while (n) {
		struct wsframe_event ev;
		bool have;
		long used = wsframe_parse(rx, p, n, &ev, &have);

		if (used < 0) {
			return used;
		}
		p += used;
		n -= (size_t)used;
		if (have) {
			on(ctx, &ev, p);
		}
	}
	return 0;
}

static void record(void *ctx, const struct wsframe_event *ev, const unsigned char *end)
{
	struct seen *s = ctx;

	(void)end;
	if (ev->op == WSFRAME_TEXT || ev->op == WSFRAME_BINARY) {
		note(s, ev->first ? (ev->op == WSFRAME_TEXT ? 'T' : 'B') : 'd');
		if (ev->final) {
			note(s, '.');
		}
	} else {
		note(s, ev->op == WSFRAME_PING ? 'P' : ev->op == WSFRAME_CLOSE ? 'C' : 'O');
	}
	memcpy(s->data + s->len, ev->data, ev->len);
	s->len += ev->len;
	s->data[s->len] = '\0';
}

/* Feeds in, split into reads of at most step bytes; returns the last wsframe_parse result. */
static long feed(struct wsframe_rx *rx, unsigned char *in, size_t len, size_t step, struct seen *s)
{
	while (len) {
		size_t chunk = len < step ? len : step;
		long r = parse_read(rx, in, chunk, record, s);

		if (r < 0) {
			return r;
		}
		in += chunk;
		len -= chunk;
	}
	return 0;
}

/* An unmasked server frame. */
static size_t server_frame(unsigned char *out, unsigned first_byte, const char *payload, size_t n)
{
	size_t h = 2;

	out[0] = (unsigned char)first_byte;
	if (n < 126) {
		out[1] = (unsigned char)n;
	} else if (n <= 0xffff) {
		out[1] = 126;
		out[2] = (unsigned char)(n >> 8);
		out[3] = (unsigned char)n;
		h = 4;
	} else {
		out[1] = 127;
		for (int i = 0; i < 8; i++) {
			out[2 + i] = (unsigned char)((unsigned long long)n >> (56 - 8 * i));
		}
		h = 10;
	}
	memcpy(out + h, payload, n);
	return h + n;
}

static void test_handshake(void **state)
{
	/* The example of RFC 6455 section 1.3. */
	static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
	const char *ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	                 "\r\n\r\n\x81\x01x";
	const char *bad = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                  "Sec-WebSocket-Accept: AAAPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	const char *refused = "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n";
	char *req = wsframe_request("127.0.0.1", 4500, "/", key, "Authorization: Bearer t\r\n");
	char fresh[WSFRAME_KEY_LEN + 1];
	int status = 0;

	(void)state;
	assert_non_null(strstr(req, "GET / HTTP/1.1\r\nHost: 127.0.0.1:4500\r\n"));
	assert_non_null(strstr(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_non_null(strstr(req, "Authorization: Bearer t\r\n\r\n"));
	free(req);
	assert_int_equal(wsframe_response(ok, 40, key, &status), -EAGAIN);
	assert_int_equal(wsframe_response(ok, strlen(ok), key, &status), strlen(ok) - 3);
	assert_int_equal(status, 101);
	assert_int_equal(wsframe_response(bad, strlen(bad), key, &status), -EPROTO);
	assert_int_equal(wsframe_response(refused, strlen(refused), key, &status), -ECONNREFUSED);
	assert_int_equal(status, 401);
	assert_int_equal(wsframe_new_key(fresh), 0);
	assert_int_equal(strlen(fresh), WSFRAME_KEY_LEN);
}

static void test_fragments_and_control(void **state)
{
	unsigned char in[1024];
	size_t n = 0;
	struct wsframe_rx rx;
	struct seen s = {0};

	(void)state;
	n += server_frame(in + n, 0x01, "{\"a\":", 5); /* text, not final */
	n += server_frame(in + n, 0x89, "hi", 2);      /* ping between fragments */
	n += server_frame(in + n, 0x00, "", 0);        /* empty continuation */
	n += server_frame(in + n, 0x80, "1}", 2);      /* final continuation */
	n += server_frame(in + n, 0x82, "\x01\x02", 2);
	n += server_frame(in + n, 0x81, "", 0); /* empty message */
	n += server_frame(in + n, 0x88,
	                  "\x03\xe8"
	                  "bye",
	                  5);
	for (size_t step = 1; step <= n; step += step < 8 ? 1 : 29) {
		memset(&s, 0, sizeof(s));
		wsframe_rx_init(&rx, false);
		assert_int_equal(feed(&rx, in, n, step, &s), 0);
		/* Slices of one frame may split across reads, never across frames. */
		assert_true(strchr(s.log, 'T') == s.log);
		assert_non_null(strstr(s.log, "P"));
		assert_non_null(strchr(s.log, 'B'));
		assert_non_null(strstr(s.log, "T.C"));
		assert_int_equal(s.len, 5 + 2 + 2 + 2 + 5);
		assert_memory_equal(s.data, "{\"a\":", 5);
	}
	memset(&s, 0, sizeof(s));
	wsframe_rx_init(&rx, false);
	assert_int_equal(feed(&rx, in, n, n, &s), 0);
	assert_string_equal(s.log, "TPdd.B.T.C");
}

static void test_long_lengths(void **state)
{
	static char big[70000];
	static unsigned char in[70100];
	struct wsframe_rx rx;
	static struct seen s;
	size_t n;

	(void)state;
	memset(big, 'z', sizeof(big));
	n = server_frame(in, 0x81, big, 300);
	wsframe_rx_init(&rx, false);
	memset(&s, 0, sizeof(s));
	assert_int_equal(feed(&rx, in, n, 100, &s), 0);
	assert_string_equal(s.log, "Tddd.");
	n = server_frame(in, 0x82, big, sizeof(big));
	assert_int_equal(in[1], 127);
	wsframe_rx_init(&rx, false);
	memset(&s, 0, sizeof(s));
	s.len = 0;
	{
		struct wsframe_event ev;
		bool have;
		long used = wsframe_parse(&rx, in, n, &ev, &have);

		assert_int_equal(used, n);
		assert_true(have && ev.first && ev.final && ev.len == sizeof(big));
	}
}

static void test_errors(void **state)
{
	static const unsigned char masked[] = {0x81, 0x81, 1, 2, 3, 4, 'x'};
	static const unsigned char rsv[] = {0xc1, 0x00};
	static const unsigned char cont[] = {0x80, 0x00};
	static const unsigned char nested[] = {0x01, 0x00, 0x81, 0x00};
	static const unsigned char long_ping[] = {0x89, 126, 0, 200};
	static const unsigned char frag_ping[] = {0x09, 0x00};
	static const unsigned char bad_op[] = {0x83, 0x00};
	static const unsigned char bad_ctl_op[] = {0x8b, 0x00};
	/* lengths not in their minimal form, and a control frame with any extended length */
	static const unsigned char long16[] = {0x81, 126, 0, 125};
	static const unsigned char long64[] = {0x81, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char short_ping16[] = {0x89, 126, 0, 5};
	static const unsigned char short_close64[] = {0x88, 127, 0, 0, 0, 0, 0, 0, 0, 2};
	const struct {
		const unsigned char *d;
		size_t n;
	} cases[] = {{masked, sizeof(masked)},
	             {rsv, sizeof(rsv)},
	             {cont, sizeof(cont)},
	             {nested, sizeof(nested)},
	             {long_ping, sizeof(long_ping)},
	             {frag_ping, sizeof(frag_ping)},
	             {bad_op, sizeof(bad_op)},
	             {bad_ctl_op, sizeof(bad_ctl_op)},
	             {long16, sizeof(long16)},
	             {long64, sizeof(long64)},
	             {short_ping16, sizeof(short_ping16)},
	             {short_close64, sizeof(short_close64)}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wsframe_rx rx;
		struct seen s = {0};

		unsigned char in[16];

		memcpy(in, cases[i].d, cases[i].n);
		wsframe_rx_init(&rx, false);
		assert_int_equal(feed(&rx, in, cases[i].n, 64, &s), -EPROTO);
	}
}

/* Too large: a 64-bit length with its top bit set, a frame over max_len, a message of more
 * than max_frames frames (empty continuations count too). */
static void test_size_limits(void **state)
{
	static const unsigned char top_bit[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
	static const unsigned char big[] = {0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0};
	unsigned char in[64];
	struct wsframe_rx rx;
	struct seen s = {0};
	size_t n = 0;

	(void)state;
	memcpy(in, top_bit, sizeof(top_bit));
	wsframe_rx_init(&rx, false);
	assert_int_equal(feed(&rx, in, sizeof(top_bit), 64, &s), -EMSGSIZE);
	memcpy(in, big, sizeof(big));
	wsframe_rx_init(&rx, false);
	assert_int_equal(feed(&rx, in, sizeof(big), 64, &s), 0); /* waits for the payload */
	wsframe_rx_init(&rx, false);
	rx.max_len = 0xffffffff;
	assert_int_equal(feed(&rx, in, sizeof(big), 64, &s), -EMSGSIZE);
	/* a start and empty continuations: the fourth frame is one too many */
	in[n++] = 0x01, in[n++] = 0x00;
	for (int i = 0; i < 3; i++) {
		in[n++] = 0x00, in[n++] = 0x00;
	}
	wsframe_rx_init(&rx, false);
	rx.max_frames = 4;
	assert_int_equal(feed(&rx, in, n - 2, 64, &s), 0);
	wsframe_rx_init(&rx, false);
	rx.max_frames = 3;
	assert_int_equal(feed(&rx, in, n, 64, &s), -EMSGSIZE);
	/* the count starts again with the next message */
	in[n - 2] = 0x80;
	wsframe_rx_init(&rx, false);
	rx.max_frames = 4;
	assert_int_equal(feed(&rx, in, n, 64, &s), 0);
	assert_int_equal(feed(&rx, in, n, 64, &s), 0);
}

static void test_close_check(void **state)
{
	static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
	static const int good[] = {1000, 1001, 1002, 1003, 1007, 1011, 1012, 1014, 3000, 4999};
	unsigned char p[8] = {0};

	(void)state;
	assert_int_equal(wsframe_close_check(p, 0), 0);
	p[0] = 0x03;
	assert_int_equal(wsframe_close_check(p, 1), 1002);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p[0] = (unsigned char)(bad[i] >> 8), p[1] = (unsigned char)bad[i];
		assert_int_equal(wsframe_close_check(p, 2), 1002);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p[0] = (unsigned char)(good[i] >> 8), p[1] = (unsigned char)good[i];
		assert_int_equal(wsframe_close_check(p, 2), 0);
	}
	p[0] = 0x03, p[1] = 0xe8;
	memcpy(p + 2, "\xc3\xa9ok", 4);
	assert_int_equal(wsframe_close_check(p, 6), 0);
	p[2] = 0xff;
	assert_int_equal(wsframe_close_check(p, 6), 1007);
}

static void test_utf8(void **state)
{
	static const char *const ok[] = {"",
	                                 "abc",
	                                 "\xc3\xa9",
	                                 "\xe2\x82\xac",
	                                 "\xf0\x9f\x98\x80",
	                                 "\xf4\x8f\xbf\xbf",
	                                 "\xed\x9f\xbf"};
	static const char *const bad[] = {
	        "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3",
	        "\xe2\x82", "\x80",         "\xfe",         "a\xf0\x9f\x98"};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_true(wsframe_utf8_ok((const unsigned char *)ok[i], strlen(ok[i])));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(wsframe_utf8_ok((const unsigned char *)bad[i], strlen(bad[i])));
	}
}

static void test_client_frames(void **state)
{
	const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
	unsigned char h[WSFRAME_HDR_MAX], p[21];
	size_t hl;

	(void)state;
	hl = wsframe_header(h, WSFRAME_TEXT, true, 5, mask);
	assert_int_equal(hl, 6);
	assert_int_equal(h[0], 0x81);
	assert_int_equal(h[1], 0x85);
	assert_memory_equal(h + 2, mask, 4);
	hl = wsframe_header(h, WSFRAME_CONT, false, 300, mask);
	assert_int_equal(hl, 8);
	assert_int_equal(h[0], 0x00);
	assert_int_equal(h[1], 0x80 | 126);
	assert_int_equal(h[2] << 8 | h[3], 300);
	hl = wsframe_header(h, WSFRAME_BINARY, true, 1ull << 32, mask);
	assert_int_equal(hl, 14);
	assert_int_equal(h[1], 0x80 | 127);
	assert_int_equal(h[5], 1);
	/* A server frame (the proxy toward the TUI): no mask bit, no key. */
	hl = wsframe_header(h, WSFRAME_TEXT, true, 300, NULL);
	assert_int_equal(hl, 4);
	assert_int_equal(h[0], 0x81);
	assert_int_equal(h[1], 126);
	hl = wsframe_header(h, WSFRAME_CONT, false, 5, NULL);
	assert_int_equal(hl, 2);
	assert_int_equal(h[0], 0x00);
	assert_int_equal(h[1], 5);
	memcpy(p, "abcdefghijklmnopqrstu", 21);
	wsframe_mask(p, 21, mask);
	for (size_t i = 0; i < 21; i++) {
		assert_int_equal(p[i], (unsigned char)("abcdefghijklmnopqrstu"[i] ^ mask[i % 4]));
	}
}

/* ---- the server end ---- */

/* A fixed xorshift generator, so a failure repeats. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (unsigned char)(rng() >> 32);
	}
}

/* A masked client frame built without the code under test: header by hand, mask bytewise. */
static size_t client_frame(unsigned char *out, unsigned first_byte, const unsigned char *payload,
                           size_t n, const unsigned char mask[4])
{
	size_t h = 2;

	out[0] = (unsigned char)first_byte;
	if (n < 126) {
		out[1] = (unsigned char)(0x80 | n);
	} else if (n <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (unsigned char)(n >> 8);
		out[3] = (unsigned char)n;
		h = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++) {
			out[2 + i] = (unsigned char)((unsigned long long)n >> (56 - 8 * i));
		}
		h = 10;
	}
	memcpy(out + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < n; i++) {
		out[h + i] = payload[i] ^ mask[i % 4];
	}
	return h + n;
}

/* What a server saw of a client's stream: data concatenated (any size), events as letters. */
struct big_seen {
	unsigned char *data;
	size_t len;
	char log[64];
	size_t nlog;
	unsigned char ctrl[WSFRAME_CTRL_MAX];
	size_t clen;
};

struct big_ctx {
	struct wsframe_rx *rx;
	struct big_seen *s;
};

static void record_big(void *ctx, const struct wsframe_event *ev, const unsigned char *end)
{
	struct big_ctx *b = ctx;
	struct big_seen *s = b->s;

	assert_true(s->nlog + 2 < sizeof(s->log));
	if (ev->op == WSFRAME_TEXT || ev->op == WSFRAME_BINARY) {
		/* Zero-copy: the slice is the bytes just consumed, unmasked in place. */
		assert_ptr_equal(ev->data, end - ev->len);
		char ch = ev->first ? (ev->op == WSFRAME_TEXT ? 'T' : 'B') : 'd';

		/* A run of middle slices is one 'd': their number depends on the reads. */
		if (ch != 'd' || s->nlog == 0 || s->log[s->nlog - 1] != 'd') {
			s->log[s->nlog++] = ch;
		}
		if (ev->final) {
			s->log[s->nlog++] = '.';
		}
		memcpy(s->data + s->len, ev->data, ev->len);
		s->len += ev->len;
	} else {
		assert_ptr_equal(ev->data, b->rx->ctrl);
		s->log[s->nlog++] = ev->op == WSFRAME_PING    ? 'P'
		                    : ev->op == WSFRAME_CLOSE ? 'C'
		                                              : 'O';
		memcpy(s->ctrl, ev->data, ev->len);
		s->clen = ev->len;
	}
	s->log[s->nlog] = '\0';
}

/* Feeds in[0..len) in reads of random sizes (1..maxstep) to a server-side parser; every data
 * slice must point into the read it came from. Returns 0 or the first error. */
static long feed_random(struct wsframe_rx *rx, unsigned char *in, size_t len, size_t maxstep,
                        struct big_seen *s)
{
	struct big_ctx b = {rx, s};

	while (len) {
		size_t chunk = 1 + (size_t)(rng() % maxstep);
		long r;

		if (chunk > len) {
			chunk = len;
		}
		r = parse_read(rx, in, chunk, record_big, &b);
		if (r < 0) {
			return r;
		}
		in += chunk;
		len -= chunk;
	}
	return 0;
}

static void test_server_masked_sizes(void **state)
{
	static const size_t sizes[] = {0, 1, 7, 125, 126, 65535, 65536, 200000};
	static const size_t steps[] = {1, 3, 13, 700, 70000, 300000};
	size_t max = 200000;
	unsigned char *payload = malloc(max), *frame = malloc(max + WSFRAME_HDR_MAX);
	struct big_seen s = {.data = malloc(max)};

	(void)state;
	assert_non_null(payload);
	assert_non_null(frame);
	assert_non_null(s.data);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			unsigned char mask[4];
			struct wsframe_rx rx;
			size_t fl;

			if (n > 65536 && steps[j] < 13) {
				continue; /* a byte at a time over 200 KB proves nothing more */
			}
			fill_random(payload, n);
			fill_random(mask, 4);
			fl = client_frame(frame, j % 2 ? 0x82 : 0x81, payload, n, mask);
			wsframe_rx_init(&rx, true);
			s.len = s.nlog = 0;
			assert_int_equal(feed_random(&rx, frame, fl, steps[j], &s), 0);
			assert_int_equal(s.len, n);
			assert_memory_equal(s.data, payload, n);
			assert_true(s.log[0] == (j % 2 ? 'B' : 'T'));
			assert_int_equal(s.log[s.nlog - 1], '.');
			assert_false(rx.in_message);
		}
	}
	free(payload);
	free(frame);
	free(s.data);
}

static void test_server_fragmented(void **state)
{
	static unsigned char msg[3000], in[4000];
	const unsigned char m1[4] = {0x01, 0x80, 0xff, 0x7e}, m2[4] = {0xa5, 0x5a, 0x00, 0x33},
	                    m3[4] = {0xde, 0xad, 0xbe, 0xef}, mp[4] = {9, 8, 7, 6};
	struct big_seen s = {.data = malloc(sizeof(msg))};
	struct wsframe_rx rx;
	size_t n;

	(void)state;
	assert_non_null(s.data);
	fill_random(msg, sizeof(msg));
	for (int round = 0; round < 200; round++) {
		size_t maxstep = round < 20 ? 1 + (size_t)round : 1 + (size_t)(rng() % 5000);

		/* text in three frames of 1001, 0 and 1999 bytes, each with its own key, and a ping
		 * between them */
		n = client_frame(in, 0x01, msg, 1001, m1);
		n += client_frame(in + n, 0x89, (const unsigned char *)"ping!", 5, mp);
		n += client_frame(in + n, 0x00, msg + 1001, 0, m3);
		n += client_frame(in + n, 0x80, msg + 1001, sizeof(msg) - 1001, m2);
		wsframe_rx_init(&rx, true);
		s.len = s.nlog = 0;
		assert_int_equal(feed_random(&rx, in, n, maxstep, &s), 0);
		assert_int_equal(s.len, sizeof(msg));
		assert_memory_equal(s.data, msg, sizeof(msg));
		assert_int_equal(s.clen, 5);
		assert_memory_equal(s.ctrl, "ping!", 5);
		/* The first slice opens the message, the last closes it; the ping comes after the
		 * first frame, so it sits between. */
		assert_int_equal(s.log[0], 'T');
		assert_non_null(strchr(s.log, 'P'));
		assert_null(strchr(strchr(s.log, 'P'), 'T'));
		assert_int_equal(strchr(s.log, '.') - s.log, (long)s.nlog - 1);
	}
	free(s.data);
}

static void test_server_control(void **state)
{
	const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
	static const unsigned char close_body[] = {0x03, 0xe8, 'b', 'y', 'e'};
	unsigned char ctrl_max[WSFRAME_CTRL_MAX], in[512];
	struct big_seen s = {.data = NULL};
	struct wsframe_rx rx;
	size_t n;

	(void)state;
	fill_random(ctrl_max, sizeof(ctrl_max));
	for (size_t step = 1; step < 300; step += step < 10 ? 1 : 37) {
		n = client_frame(in, 0x89, (const unsigned char *)"Hello", 5, mask);
		wsframe_rx_init(&rx, true);
		s.nlog = 0;
		assert_int_equal(feed_random(&rx, in, n, step, &s), 0);
		assert_string_equal(s.log, "P");
		assert_int_equal(s.clen, 5);
		assert_memory_equal(s.ctrl, "Hello", 5);

		n = client_frame(in, 0x8a, ctrl_max, sizeof(ctrl_max), mask);
		n += client_frame(in + n, 0x88, close_body, sizeof(close_body), mask);
		wsframe_rx_init(&rx, true);
		s.nlog = 0;
		assert_int_equal(feed_random(&rx, in, n, step, &s), 0);
		assert_string_equal(s.log, "OC");
		assert_int_equal(s.clen, sizeof(close_body));
		assert_memory_equal(s.ctrl, close_body, sizeof(close_body));
	}
	/* A pong of the largest size, alone, to check its payload too. */
	n = client_frame(in, 0x8a, ctrl_max, sizeof(ctrl_max), mask);
	wsframe_rx_init(&rx, true);
	s.nlog = 0;
	assert_int_equal(feed_random(&rx, in, n, 7, &s), 0);
	assert_int_equal(s.clen, sizeof(ctrl_max));
	assert_memory_equal(s.ctrl, ctrl_max, sizeof(ctrl_max));
}

/* The client writer (wsframe_header + wsframe_mask) and the server parser agree. */
static void test_server_reads_client_writer(void **state)
{
	static unsigned char payload[70001], in[70001 + WSFRAME_HDR_MAX];
	const unsigned char mask[4] = {0xc3, 0x3c, 0x5a, 0xa5};
	struct big_seen s = {.data = malloc(sizeof(payload))};
	struct wsframe_rx rx;
	size_t hl;

	(void)state;
	assert_non_null(s.data);
	fill_random(payload, sizeof(payload));
	hl = wsframe_header(in, WSFRAME_BINARY, true, sizeof(payload), mask);
	memcpy(in + hl, payload, sizeof(payload));
	wsframe_mask(in + hl, sizeof(payload), mask);
	assert_memory_not_equal(in + hl, payload, 64);
	wsframe_rx_init(&rx, true);
	assert_int_equal(feed_random(&rx, in, hl + sizeof(payload), 4099, &s), 0);
	assert_int_equal(s.len, sizeof(payload));
	assert_memory_equal(s.data, payload, sizeof(payload));
	free(s.data);
}

static void test_mask_rules(void **state)
{
	/* From a client an unmasked frame is an error as soon as its second byte is read. */
	unsigned char plain[] = {0x81, 0x01, 'x'};
	unsigned char masked[] = {0x81, 0x81, 1, 2, 3, 4, 'x' ^ 1};
	unsigned char plain_ping[] = {0x89, 0x00};
	struct wsframe_rx rx;
	struct wsframe_event ev;
	bool have;

	(void)state;
	wsframe_rx_init(&rx, true);
	assert_int_equal(wsframe_parse(&rx, plain, 1, &ev, &have), 1);
	assert_false(have);
	assert_int_equal(wsframe_parse(&rx, plain + 1, 2, &ev, &have), -EPROTO);
	wsframe_rx_init(&rx, true);
	assert_int_equal(wsframe_parse(&rx, plain_ping, 2, &ev, &have), -EPROTO);
	/* From a server a masked frame is an error, also before its key arrives. */
	wsframe_rx_init(&rx, false);
	assert_int_equal(wsframe_parse(&rx, masked, 2, &ev, &have), -EPROTO);
	/* The same masked frame is fine from a client and comes out unmasked, in place. */
	wsframe_rx_init(&rx, true);
	assert_int_equal(wsframe_parse(&rx, masked, sizeof(masked), &ev, &have), sizeof(masked));
	assert_true(have && ev.first && ev.final && ev.op == WSFRAME_TEXT);
	assert_int_equal(ev.len, 1);
	assert_ptr_equal(ev.data, masked + 6);
	assert_int_equal(masked[6], 'x');
}

static void test_mask_at(void **state)
{
	const unsigned char mask[4] = {0x12, 0xab, 0x7f, 0x80};
	unsigned char orig[80], want[80], buf[88];

	(void)state;
	fill_random(orig, sizeof(orig));
	for (size_t off = 0; off < 8; off++) {
		for (size_t align = 0; align < 8; align++) {
			for (size_t n = 0; n <= 72; n++) {
				unsigned char *p = buf + align;

				for (size_t i = 0; i < n; i++) {
					want[i] = orig[i] ^ mask[(off + i) % 4];
				}
				memcpy(p, orig, n);
				buf[align + n] = 0x55;
				wsframe_mask_at(p, n, mask, off);
				assert_memory_equal(p, want, n);
				assert_int_equal(buf[align + n], 0x55); /* nothing past the end */
				if (off == 0) {
					memcpy(p, orig, n);
					wsframe_mask(p, n, mask);
					assert_memory_equal(p, want, n);
				}
			}
		}
	}
	/* Masking in two pieces at the running offset equals masking the whole. */
	for (size_t cut = 0; cut <= 80; cut++) {
		for (size_t i = 0; i < 80; i++) {
			want[i] = orig[i] ^ mask[i % 4];
		}
		memcpy(buf, orig, 80);
		wsframe_mask_at(buf, cut, mask, 0);
		wsframe_mask_at(buf + cut, 80 - cut, mask, cut);
		assert_memory_equal(buf, want, 80);
	}
}

/* With keep_mask, a client's data payload stays masked where it lies: every slice, whatever
 * read it came in, carries the mask that unmasks it from its first byte; control payload is
 * still unmasked (in rx's copy). */
static void test_keep_mask(void **state)
{
	const unsigned char mask[4] = {0x9c, 0x01, 0xe7, 0x42};
	const char text[] = "{\"method\":\"thread/list\",\"id\":7}";
	unsigned char in[3 * (WSFRAME_HDR_MAX + sizeof(text))], orig[sizeof(in)];
	size_t n = 0, tl = sizeof(text) - 1;

	(void)state;
	/* A text frame, a ping, then a continuation that ends the message: all masked. */
	n += wsframe_header(in + n, WSFRAME_TEXT, false, tl, mask);
	memcpy(in + n, text, tl);
	wsframe_mask(in + n, tl, mask);
	n += tl;
	n += wsframe_header(in + n, WSFRAME_PING, true, 2, mask);
	memcpy(in + n, "hi", 2);
	wsframe_mask(in + n, 2, mask);
	n += 2;
	n += wsframe_header(in + n, WSFRAME_CONT, true, tl, mask);
	memcpy(in + n, text, tl);
	wsframe_mask(in + n, tl, mask);
	n += tl;
	memcpy(orig, in, n);
	for (size_t step = 1; step <= n; step++) {
		struct wsframe_rx rx;
		char data[2 * sizeof(text)];
		size_t len = 0, pings = 0;

		wsframe_rx_init(&rx, true);
		rx.keep_mask = true;
		memcpy(in, orig, n);
		for (size_t off = 0; off < n;) {
			size_t chunk = n - off < step ? n - off : step, used = 0;

			while (used < chunk) {
				struct wsframe_event ev;
				bool have;
				long r = wsframe_parse(&rx, in + off + used, chunk - used, &ev,
				                       &have);

				assert_true(r >= 0);
				used += (size_t)r;
				if (!have) {
					continue;
				}
				if (ev.op == WSFRAME_PING) {
					assert_false(ev.masked);
					assert_int_equal(ev.len, 2);
					assert_memory_equal(ev.data, "hi", 2);
					pings++;
					continue;
				}
				assert_true(ev.masked);
				memcpy(data + len, ev.data, ev.len);
				wsframe_mask((unsigned char *)data + len, ev.len, ev.mask);
				len += ev.len;
			}
			off += chunk;
		}
		/* The input is as it came: nothing was unmasked in place. */
		assert_memory_equal(in, orig, n);
		assert_int_equal(pings, 1);
		assert_int_equal(len, 2 * tl);
		assert_memory_equal(data, text, tl);
		assert_memory_equal(data + tl, text, tl);
	}
}

static void test_mask_shift(void **state)
{
	const unsigned char mask[4] = {1, 2, 3, 4};
	unsigned char out[4], p[9] = "abcdefgh", q[9];

	(void)state;
	for (size_t off = 0; off < 9; off++) {
		wsframe_mask_shift(out, mask, off);
		memcpy(q, p, 8);
		wsframe_mask_at(q, 8, mask, off);
		wsframe_mask(q, 8, out);
		assert_memory_equal(q, p, 8); /* the shifted mask undoes masking at offset off */
	}
	wsframe_mask_shift(out, mask, 6);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[3], 2);
}

/* Parses the NUL-terminated head with room for 8 KiB; its whole length must be taken. */
static void parse_ok(const char *req, struct wsframe_upgrade *u)
{
	assert_int_equal(wsframe_parse_upgrade(req, strlen(req), 8192, u), strlen(req));
}

static void test_upgrade_valid(void **state)
{
	/* As Python websockets 12 sends it. */
	static const char py[] = "GET /chat HTTP/1.1\r\n"
	                         "Host: localhost:8765\r\n"
	                         "Upgrade: websocket\r\n"
	                         "Connection: Upgrade\r\n"
	                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                         "Sec-WebSocket-Version: 13\r\n"
	                         "Sec-WebSocket-Extensions: permessage-deflate; "
	                         "client_max_window_bits\r\n"
	                         "User-Agent: Python/3.11 websockets/12.0\r\n"
	                         "\r\n";
	/* As tungstenite sends it, with a token and an origin, and a frame right behind. */
	static const char tung[] = "GET / HTTP/1.1\r\n"
	                           "Host: 127.0.0.1:4500\r\n"
	                           "Connection: Upgrade\r\n"
	                           "Upgrade: websocket\r\n"
	                           "Sec-WebSocket-Version: 13\r\n"
	                           "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
	                           "Authorization: \t Bearer abc.def \t\r\n"
	                           "Origin: http://example.com\r\n"
	                           "\r\n"
	                           "\x81\x85";
	struct wsframe_upgrade u;

	(void)state;
	parse_ok(py, &u);
	assert_true(u.get && u.upgrade);
	assert_false(u.origin);
	assert_null(u.auth);
	assert_int_equal(u.auth_len, 0);
	assert_ptr_equal(u.key, strstr(py, "dGhl"));
	assert_int_equal(wsframe_parse_upgrade(tung, sizeof(tung) - 1, 8192, &u),
	                 sizeof(tung) - 1 - 2);
	assert_true(u.get && u.upgrade && u.origin);
	assert_ptr_equal(u.key, strstr(tung, "x3JJ"));
	assert_non_null(u.auth);
	assert_int_equal(u.auth_len, strlen("Bearer abc.def"));
	assert_memory_equal(u.auth, "Bearer abc.def", u.auth_len);
	/* Lowercase names, odd value case, "\n" line ends, a token list in Connection. */
	parse_ok("GET /x?y=1 HTTP/1.1\n"
	         "host: a\n"
	         "upgrade: WebSocket\n"
	         "connection: keep-alive, Upgrade\n"
	         "sec-websocket-key: AQIDBAUGBwgJCgsMDQ4PEA==\n"
	         "sec-websocket-version: 13\n"
	         "origin: null\n"
	         "authorization: Basic Zm9v\n"
	         "\n",
	         &u);
	assert_true(u.get && u.upgrade && u.origin);
	assert_int_equal(u.auth_len, 10);
	assert_memory_equal(u.auth, "Basic Zm9v", 10);
	parse_ok("GET / HTTP/1.1\r\nConnection:upgrade,keep-alive\r\nUpgrade:websocket\r\n"
	         "Sec-WebSocket-Version:13\r\nSec-WebSocket-Key:AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
	         "Authorization:\r\n\r\n",
	         &u);
	assert_true(u.upgrade);
	assert_non_null(u.auth); /* present, empty */
	assert_int_equal(u.auth_len, 0);
	/* Only the first of a header counts. */
	parse_ok("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n"
	         "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
	         "Authorization: first\r\nAuthorization: second\r\n\r\n",
	         &u);
	assert_true(u.upgrade);
	assert_memory_equal(u.auth, "first", u.auth_len);
}

static void test_upgrade_not(void **state)
{
	static const char *const no_upgrade[] = {
	        /* no version */
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	        /* wrong version */
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 131\r\n\r\n",
	        /* first version wrong, second right */
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
	        "Sec-WebSocket-Version: 13\r\n\r\n",
	        /* Connection without the upgrade token */
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrades\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        /* no Connection */
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        /* first Upgrade wrong, second right */
	        "GET / HTTP/1.1\r\nUpgrade: h2c\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        /* Upgrade to something else */
	        "GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        /* keys: none, short, long, not base64, unpadded */
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Version: 13\r\n\r\n",
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2!jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQab\r\nSec-WebSocket-Version: 13\r\n\r\n",
	        /* HTTP/1.0 */
	        "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	};
	struct wsframe_upgrade u;

	(void)state;
	for (size_t i = 0; i < sizeof(no_upgrade) / sizeof(no_upgrade[0]); i++) {
		parse_ok(no_upgrade[i], &u);
		assert_true(u.get);
		assert_false(u.upgrade);
		assert_null(u.key);
		assert_false(u.origin);
		assert_null(u.auth);
	}
	/* Not a GET: everything else right. */
	parse_ok("POST /rpc HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	         "Authorization: Bearer t\r\n\r\n",
	         &u);
	assert_false(u.get);
	assert_false(u.upgrade);
	assert_memory_equal(u.auth, "Bearer t", u.auth_len);
	/* A plain GET, no headers at all. */
	parse_ok("GET / HTTP/1.1\r\n\r\n", &u);
	assert_true(u.get);
	assert_false(u.upgrade);
}

static void test_upgrade_limits(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\n"
	                          "Upgrade: websocket\r\n"
	                          "Connection: Upgrade\r\n"
	                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                          "Sec-WebSocket-Version: 13\r\n"
	                          "\r\n";
	static const char *const garbage[] = {
	        "\x16\x03\x01\x02\x05\x01\x05\x01\xfc\x03\x03\r\n\r\n",
	        "HELLO\r\n\r\n",
	        "GET /\r\n\r\n",
	        "GET / HTTP/2.0\r\n\r\n",
	        "GET / HTTP/1.1 \r\n\r\n",
	        "GET  / HTTP/1.1\r\n\r\n",
	        "GET / HTTP/1.\r\n\r\n",
	        "GET / http/1.1\r\n\r\n",
	        "\r\n\r\n",
	        "\n\n",
	        /* a bad first line fails before the head ends */
	        "SSH-2.0-OpenSSH_9.2\r\n",
	};
	size_t n = sizeof(req) - 1;
	struct wsframe_upgrade u;

	(void)state;
	for (size_t len = 0; len < n; len++) {
		assert_int_equal(wsframe_parse_upgrade(req, len, 8192, &u), -EAGAIN);
	}
	assert_int_equal(wsframe_parse_upgrade(req, n, 8192, &u), n);
	assert_true(u.upgrade);
	/* The end must lie within max bytes. */
	assert_int_equal(wsframe_parse_upgrade(req, n, n, &u), n);
	assert_int_equal(wsframe_parse_upgrade(req, n, n - 1, &u), -E2BIG);
	assert_int_equal(wsframe_parse_upgrade(req, n - 1, n - 1, &u), -E2BIG);
	assert_int_equal(wsframe_parse_upgrade(req, n - 2, n - 1, &u), -EAGAIN);
	assert_int_equal(wsframe_parse_upgrade(req, 10, 10, &u), -E2BIG);
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		assert_int_equal(wsframe_parse_upgrade(garbage[i], strlen(garbage[i]), 8192, &u),
		                 -EPROTO);
	}
}

static void test_accept_response(void **state)
{
	/* The key as the request carries it: not NUL-terminated where it ends. */
	static const char req[] = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                          "Sec-WebSocket-Version: 13\r\n\r\n";
	struct wsframe_upgrade u;
	char out[256];
	long n;
	int status = 0;

	(void)state;
	parse_ok(req, &u);
	assert_true(u.upgrade);
	n = wsframe_accept_response(u.key, out, sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\n"
	                         "Upgrade: websocket\r\n"
	                         "Connection: Upgrade\r\n"
	                         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	                         "\r\n");
	/* The client end accepts it. */
	assert_int_equal(wsframe_response(out, (size_t)n, "dGhlIHNhbXBsZSBub25jZQ==", &status), n);
	assert_int_equal(status, 101);
	assert_int_equal(wsframe_accept_response(u.key, out, (size_t)n + 1), n);
	assert_int_equal(wsframe_accept_response(u.key, out, (size_t)n), -ENOSPC);
	assert_int_equal(wsframe_accept_response(u.key, out, 16), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_handshake),
	        cmocka_unit_test(test_fragments_and_control),
	        cmocka_unit_test(test_long_lengths),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_size_limits),
	        cmocka_unit_test(test_close_check),
	        cmocka_unit_test(test_utf8),
	        cmocka_unit_test(test_client_frames),
	        cmocka_unit_test(test_server_masked_sizes),
	        cmocka_unit_test(test_server_fragmented),
	        cmocka_unit_test(test_server_control),
	        cmocka_unit_test(test_server_reads_client_writer),
	        cmocka_unit_test(test_mask_rules),
	        cmocka_unit_test(test_mask_at),
	        cmocka_unit_test(test_keep_mask),
	        cmocka_unit_test(test_mask_shift),
	        cmocka_unit_test(test_upgrade_valid),
	        cmocka_unit_test(test_upgrade_not),
	        cmocka_unit_test(test_upgrade_limits),
	        cmocka_unit_test(test_accept_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
