#include "session/startgate.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define A ((struct proxy_conn *)0x1)
#define B ((struct proxy_conn *)0x2)

struct sent {
	struct proxy_conn *conn[STARTGATE_MAX + 1];
	char *json[STARTGATE_MAX + 1];
	size_t n;
};

static void take(void *ctx, struct proxy_conn *conn, char *json)
{
	struct sent *s = ctx;

	s->conn[s->n] = conn;
	s->json[s->n++] = json;
}

static void sent_free(struct sent *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->json[i]);
	}
}

/* Held in order, sent in order; a closed connection's turns never go. */
static void test_holds_and_releases_in_order(void **state)
{
	struct startgate g;
	struct sent s = {0};

	(void)state;
	startgate_init(&g);
	assert_false(startgate_closed(&g));
	startgate_close(&g);
	assert_true(startgate_closed(&g));
	assert_int_equal(startgate_hold(&g, A, "one!", 3), 0); /* by length, not NUL */
	assert_int_equal(startgate_hold(&g, B, "two", 3), 0);
	assert_int_equal(startgate_hold(&g, A, "three", 5), 0);
	startgate_conn_closed(&g, B);
	startgate_open(&g, take, &s);
	assert_false(startgate_closed(&g));
	assert_int_equal(s.n, 2);
	assert_ptr_equal(s.conn[0], A);
	assert_string_equal(s.json[0], "one");
	assert_string_equal(s.json[1], "three");
	startgate_open(&g, take, &s); /* nothing more */
	assert_int_equal(s.n, 2);
	sent_free(&s);
	startgate_release(&g);
}

static void test_bounded(void **state)
{
	struct startgate g;

	(void)state;
	startgate_init(&g);
	startgate_close(&g);
	for (size_t i = 0; i < STARTGATE_MAX; i++) {
		assert_int_equal(startgate_hold(&g, A, "x", 1), 0);
	}
	assert_int_equal(startgate_hold(&g, A, "x", 1), -ENOBUFS);
	startgate_release(&g); /* frees what was never sent */
	assert_false(startgate_closed(&g));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_holds_and_releases_in_order),
	        cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
