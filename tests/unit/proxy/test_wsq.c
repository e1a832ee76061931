#include "proxy/wsq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A frame's opcode and FIN bit as one comparable number. */
#define FR(op, fin) ((int)(op) | ((fin) ? 0x100 : 0))

/* Pops one frame of at most max bytes; returns FR() of it and copies its payload into out. */
static int next_frame(struct wsq *q, size_t max, char *out, size_t *n)
{
	struct wsq_frame fr;
	unsigned char *p;

	assert_true(wsq_peek(q, max, &p, n, &fr));
	memcpy(out, p, *n);
	out[*n] = '\0';
	wsq_consume(q, *n);
	return FR(fr.op, fr.fin);
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
	assert_true(wsq_bytes(&q) >= 8 + 2 * WSQ_ENTRY_MIN);
	assert_int_equal(next_frame(&q, 100, out, &n), FR(WSFRAME_TEXT, false));
	assert_string_equal(out, "{\"a\":");
	/* The injected message is not ready while the streamed one is open. */
	assert_false(wsq_ready(&q));
	assert_int_equal(wsq_push_fragment(&q, "1}", 2, false, false, true), 0);
	assert_int_equal(next_frame(&q, 100, out, &n), FR(WSFRAME_CONT, true));
	assert_string_equal(out, "1}");
	assert_int_equal(next_frame(&q, 100, out, &n), FR(WSFRAME_TEXT, true));
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
	assert_int_equal(next_frame(&q, 3, out, &n), FR(WSFRAME_BINARY, false));
	assert_string_equal(out, "abc");
	assert_int_equal(next_frame(&q, 3, out, &n), FR(WSFRAME_CONT, false));
	assert_string_equal(out, "def");
	assert_true(wsq_bytes(&q) >= 2 + WSQ_ENTRY_MIN && wsq_bytes(&q) < 2 + 2 * WSQ_ENTRY_MIN);
	assert_int_equal(next_frame(&q, 3, out, &n), FR(WSFRAME_CONT, true));
	assert_string_equal(out, "gh");
	/* An empty message is still one frame. */
	assert_int_equal(wsq_push_message(&q, "", 0, false), 0);
	assert_int_equal(next_frame(&q, 3, out, &n), FR(WSFRAME_TEXT, true));
	assert_int_equal(n, 0);
	assert_false(wsq_ready(&q));
	/* Releasing a queue with pending and deferred data frees both. */
	wsq_push_fragment(&q, "x", 1, false, true, false);
	wsq_push_message(&q, "y", 1, false);
	wsq_release(&q);
	assert_int_equal(wsq_bytes(&q), 0);
	assert_false(wsq_ready(&q));
}

/* Message i of a run: its length varies around WSQ_SMALL so blocks fill unevenly and some
 * messages take their own allocation. */
static size_t msg_len(unsigned i)
{
	return (i * 37u) % (WSQ_SMALL + 200);
}

static void fill(char *buf, size_t len, unsigned i)
{
	for (size_t k = 0; k < len; k++) {
		buf[k] = (char)('a' + (i + k) % 26);
	}
}

static void test_small_fragments_reuse_blocks(void **state)
{
	static char in[WSQ_SMALL + 256], out[WSQ_SMALL + 256];
	struct wsq q;
	size_t n;
	unsigned pushed = 0, popped = 0;

	(void)state;
	wsq_init(&q);
	/* Bursts of a few hundred messages, each written out before the next: order and bytes are
	 * kept, and the queue keeps one block instead of allocating per message. */
	for (int burst = 0; burst < 200; burst++) {
		for (int k = 0; k < 300; k++, pushed++) {
			fill(in, msg_len(pushed), pushed);
			assert_int_equal(
			        wsq_push_fragment(&q, in, msg_len(pushed), false, true, true), 0);
		}
		assert_true(wsq_blocks(&q) >= 1);
		while (wsq_ready(&q)) {
			next_frame(&q, sizeof(out), out, &n);
			fill(in, msg_len(popped), popped);
			assert_int_equal(n, msg_len(popped));
			assert_memory_equal(out, in, n);
			popped++;
		}
		assert_int_equal(wsq_blocks(&q), 1);
		assert_int_equal(wsq_bytes(&q), 0);
	}
	assert_int_equal(popped, pushed);
	wsq_release(&q);
	assert_int_equal(wsq_blocks(&q), 0);
}

static void test_old_block_freed_when_its_last_fragment_goes(void **state)
{
	static char big[WSQ_BLOCK];
	struct wsq q;
	char out[WSQ_SMALL + 1];
	size_t n;

	(void)state;
	wsq_init(&q);
	/* A deferred small message pins the first block while later ones fill new blocks. */
	assert_int_equal(wsq_push_fragment(&q, "{", 1, false, true, false), 0);
	assert_int_equal(wsq_push_message(&q, "late", 4, false), 0);
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 200; i++) {
		assert_int_equal(wsq_push_fragment(&q, big, WSQ_SMALL, false, false, false), 0);
	}
	assert_true(wsq_blocks(&q) > 1);
	assert_int_equal(wsq_push_fragment(&q, "}", 1, false, false, true), 0);
	next_frame(&q, sizeof(out), out, &n);
	assert_string_equal(out, "{");
	for (int i = 0; i < 200; i++) {
		next_frame(&q, sizeof(out), out, &n);
		assert_int_equal(n, WSQ_SMALL);
	}
	next_frame(&q, sizeof(out), out, &n);
	assert_string_equal(out, "}");
	next_frame(&q, sizeof(out), out, &n);
	assert_string_equal(out, "late");
	assert_false(wsq_ready(&q));
	/* Everything written: only the newest block stays, for reuse. */
	assert_int_equal(wsq_blocks(&q), 1);
	wsq_release(&q);
}

/* What the queue reports covers what it holds, for every fragment size: payload, headers, and
 * the blocks small fragments are carved from (within the newest block). An empty fragment is
 * never free, or a flood of them would never reach a limit. */
static void test_bytes_cover_memory_for_every_size(void **state)
{
	static const size_t sizes[] = {
	        0, 1, 2, 15, 16, 17, 100, WSQ_SMALL - 1, WSQ_SMALL, WSQ_SMALL + 1, 70000};
	static char data[70000];
	struct wsq q;

	(void)state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len = sizes[s], count = len > WSQ_SMALL ? 20 : 3000, n;
		struct wsq_frame fr;
		unsigned char *p;

		wsq_init(&q);
		for (size_t i = 0; i < count; i++) {
			assert_int_equal(wsq_push_fragment(&q, data, len, false, i == 0, false), 0);
			/* a deferred message between them */
			assert_int_equal(wsq_push_message(&q, data, len, true), 0);
		}
		assert_true(wsq_bytes(&q) >= 2 * count * (len + WSQ_ENTRY_MIN));
		if (len <= WSQ_SMALL) {
			assert_true(wsq_blocks(&q) * WSQ_BLOCK <= wsq_bytes(&q) + WSQ_BLOCK);
		}
		assert_int_equal(wsq_push_fragment(&q, data, 0, false, false, true), 0);
		while (wsq_peek(&q, 4096, &p, &n, &fr)) {
			wsq_consume(&q, n);
		}
		assert_int_equal(wsq_bytes(&q), 0);
		wsq_release(&q);
	}
}

/* A still-masked fragment comes out with its mask, shifted to the first byte of each frame it
 * is cut into; plain ones say they are plain. */
static void test_masked_fragment_keeps_its_mask(void **state)
{
	static const unsigned char mask[4] = {0x10, 0x20, 0x30, 0x40};
	struct wsq q;
	struct wsq_frame fr;
	unsigned char *p;
	size_t n;

	(void)state;
	wsq_init(&q);
	assert_int_equal(wsq_push_masked(&q, "0123456789", 10, mask, false, true, false), 0);
	assert_int_equal(wsq_push_fragment(&q, "!", 1, false, false, true), 0);
	assert_true(wsq_peek(&q, 3, &p, &n, &fr));
	assert_int_equal(n, 3);
	assert_true(fr.masked);
	assert_memory_equal(fr.mask, mask, 4);
	assert_int_equal(FR(fr.op, fr.fin), FR(WSFRAME_TEXT, false));
	wsq_consume(&q, n);
	assert_true(wsq_peek(&q, 100, &p, &n, &fr));
	assert_int_equal(n, 7);
	assert_memory_equal(p, "3456789", 7);
	assert_true(fr.masked);
	assert_int_equal(fr.mask[0], 0x40); /* offset 3 */
	assert_int_equal(fr.mask[1], 0x10);
	assert_int_equal(FR(fr.op, fr.fin), FR(WSFRAME_CONT, false));
	wsq_consume(&q, n);
	assert_true(wsq_peek(&q, 100, &p, &n, &fr));
	assert_false(fr.masked);
	assert_int_equal(FR(fr.op, fr.fin), FR(WSFRAME_CONT, true));
	wsq_consume(&q, n);
	assert_int_equal(wsq_bytes(&q), 0);
	wsq_release(&q);
}

/* Fragments that went out around the queue still hold injected messages back until the last
 * one of their message went. */
static void test_bypass_keeps_injection_out_of_the_stream(void **state)
{
	struct wsq q;
	char out[64];
	size_t n;

	(void)state;
	wsq_init(&q);
	wsq_bypass(&q, false);
	assert_int_equal(wsq_push_message(&q, "INJ", 3, false), 0);
	assert_false(wsq_ready(&q));
	wsq_bypass(&q, false);
	assert_false(wsq_ready(&q));
	wsq_bypass(&q, true);
	assert_true(wsq_ready(&q));
	assert_int_equal(next_frame(&q, 100, out, &n), FR(WSFRAME_TEXT, true));
	assert_string_equal(out, "INJ");
	wsq_release(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_injection_waits_for_open_stream),
	        cmocka_unit_test(test_hold_keeps_trigger_first),
	        cmocka_unit_test(test_chunking_flags),
	        cmocka_unit_test(test_small_fragments_reuse_blocks),
	        cmocka_unit_test(test_old_block_freed_when_its_last_fragment_goes),
	        cmocka_unit_test(test_bytes_cover_memory_for_every_size),
	        cmocka_unit_test(test_masked_fragment_keeps_its_mask),
	        cmocka_unit_test(test_bypass_keeps_injection_out_of_the_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
