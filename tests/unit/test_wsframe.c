#include "wsframe.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

/* Feeds in, split into reads of at most step bytes; returns the last wsframe_parse result. */
static long feed(struct wsframe_rx *rx, const unsigned char *in, size_t len, size_t step,
                 struct seen *s)
{
	while (len) {
		size_t chunk = len < step ? len : step;
		const unsigned char *p = in;

		in += chunk;
		len -= chunk;
		while (chunk) {
			struct wsframe_event ev;
			bool have;
			long n = wsframe_parse(rx, p, chunk, &ev, &have);

			if (n < 0) {
				return n;
			}
			p += n;
			chunk -= (size_t)n;
			if (!have) {
				continue;
			}
			if (ev.op == WSFRAME_TEXT || ev.op == WSFRAME_BINARY) {
				note(s, ev.first ? (ev.op == WSFRAME_TEXT ? 'T' : 'B') : 'd');
				if (ev.final) {
					note(s, '.');
				}
			} else {
				note(s, ev.op == WSFRAME_PING    ? 'P'
				        : ev.op == WSFRAME_CLOSE ? 'C'
				                                 : 'O');
			}
			memcpy(s->data + s->len, ev.data, ev.len);
			s->len += ev.len;
			s->data[s->len] = '\0';
		}
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
		wsframe_rx_init(&rx);
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
	wsframe_rx_init(&rx);
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
	wsframe_rx_init(&rx);
	memset(&s, 0, sizeof(s));
	assert_int_equal(feed(&rx, in, n, 100, &s), 0);
	assert_string_equal(s.log, "Tddd.");
	n = server_frame(in, 0x82, big, sizeof(big));
	assert_int_equal(in[1], 127);
	wsframe_rx_init(&rx);
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
	const struct {
		const unsigned char *d;
		size_t n;
	} cases[] = {{masked, sizeof(masked)},       {rsv, sizeof(rsv)},
	             {cont, sizeof(cont)},           {nested, sizeof(nested)},
	             {long_ping, sizeof(long_ping)}, {frag_ping, sizeof(frag_ping)},
	             {bad_op, sizeof(bad_op)}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wsframe_rx rx;
		struct seen s = {0};

		wsframe_rx_init(&rx);
		assert_int_equal(feed(&rx, cases[i].d, cases[i].n, 64, &s), -EPROTO);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_handshake),     cmocka_unit_test(test_fragments_and_control),
	        cmocka_unit_test(test_long_lengths),  cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_client_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
