#include "wsq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libwebsockets.h>

/* Pops one frame of at most max bytes; returns its flags and copies its payload into out. */
static int next_frame(struct wsq *q, size_t max, char *out, size_t *n)
{
	unsigned char *p;
	int flags;

	assert_true(wsq_peek(q, max, &p, n, &flags));
	memcpy(out, p, *n);
	out[*n] = '\0';
	wsq_consume(q, *n);
	return flags;
}

static void test_injection_waits_for_open_stream(void **state)
{
	struct wsq q;
	char out[64];
	size_t n;

	(void)state;
	wsq_init(&q);
	assert_int_equal(wsq_push_fragment(&q, "{\"a\":", 5, false, true, false), 0);
	assert_int_equal(wsq_push_message(&q, "INJ", 3, false), 0);
	assert_int_equal(wsq_bytes(&q), 8);
	assert_int_equal(next_frame(&q, 100, out, &n), LWS_WRITE_TEXT | LWS_WRITE_NO_FIN);
	assert_string_equal(out, "{\"a\":");
	/* The injected message is not ready while the streamed one is open. */
	assert_false(wsq_ready(&q));
	assert_int_equal(wsq_push_fragment(&q, "1}", 2, false, false, true), 0);
	assert_int_equal(next_frame(&q, 100, out, &n), LWS_WRITE_CONTINUATION);
	assert_string_equal(out, "1}");
	assert_int_equal(next_frame(&q, 100, out, &n), LWS_WRITE_TEXT);
	assert_string_equal(out, "INJ");
	assert_false(wsq_ready(&q));
	assert_int_equal(wsq_bytes(&q), 0);
	wsq_release(&q);
}

static void test_hold_keeps_trigger_first(void **state)
{
	struct wsq q;
	char out[64];
	size_t n;

	(void)state;
	wsq_init(&q);
	wsq_hold(&q);
	assert_int_equal(wsq_push_message(&q, "warning", 7, false), 0);
	assert_false(wsq_ready(&q));
	assert_int_equal(wsq_push_fragment(&q, "trigger", 7, false, true, true), 0);
	wsq_unhold(&q);
	next_frame(&q, 100, out, &n);
	assert_string_equal(out, "trigger");
	next_frame(&q, 100, out, &n);
	assert_string_equal(out, "warning");
	wsq_release(&q);
}

static void test_chunking_flags(void **state)
{
	struct wsq q;
	char out[64];
	size_t n;

	(void)state;
	wsq_init(&q);
	assert_int_equal(wsq_push_message(&q, "abcdefgh", 8, true), 0);
	assert_int_equal(next_frame(&q, 3, out, &n), LWS_WRITE_BINARY | LWS_WRITE_NO_FIN);
	assert_string_equal(out, "abc");
	assert_int_equal(next_frame(&q, 3, out, &n), LWS_WRITE_CONTINUATION | LWS_WRITE_NO_FIN);
	assert_string_equal(out, "def");
	assert_int_equal(wsq_bytes(&q), 2);
	assert_int_equal(next_frame(&q, 3, out, &n), LWS_WRITE_CONTINUATION);
	assert_string_equal(out, "gh");
	/* An empty message is still one frame. */
	assert_int_equal(wsq_push_message(&q, "", 0, false), 0);
	assert_int_equal(next_frame(&q, 3, out, &n), LWS_WRITE_TEXT);
	assert_int_equal(n, 0);
	assert_false(wsq_ready(&q));
	/* Releasing a queue with pending and deferred data frees both. */
	wsq_push_fragment(&q, "x", 1, false, true, false);
	wsq_push_message(&q, "y", 1, false);
	wsq_release(&q);
	assert_int_equal(wsq_bytes(&q), 0);
	assert_false(wsq_ready(&q));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_injection_waits_for_open_stream),
	        cmocka_unit_test(test_hold_keeps_trigger_first),
	        cmocka_unit_test(test_chunking_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
