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
	startgate_close(&g, NULL, 0, NULL, NULL);
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
	startgate_close(&g, NULL, 0, NULL, NULL);
	for (size_t i = 0; i < STARTGATE_MAX; i++) {
		assert_int_equal(startgate_hold(&g, A, "x", 1), 0);
	}
	assert_int_equal(startgate_hold(&g, A, "x", 1), -ENOBUFS);
	startgate_release(&g); /* frees what was never sent */
	assert_false(startgate_closed(&g));
}

static struct sent late_sent;

static void open_late(void *ctx)
{
	startgate_open(ctx, take, &late_sent);
}

/* The first held turn arms the bound; late() runs once it passed while the gate is closed. */
static void test_late(void **state)
{
	struct ev *ev = ev_new();
	struct startgate g;
	int64_t t0 = ev_now_us();

	(void)state;
	assert_non_null(ev);
	startgate_init(&g);
	startgate_close(&g, ev, 50000, open_late, &g);
	assert_int_equal(startgate_hold(&g, A, "one", 3), 0);
	assert_int_equal(startgate_hold(&g, A, "two", 3), 0);
	while (startgate_closed(&g) && ev_now_us() - t0 < 5000000) {
		ev_run_once(ev);
	}
	assert_false(startgate_closed(&g));
	assert_true(ev_now_us() - t0 >= 50000);
	assert_int_equal(late_sent.n, 2);
	assert_string_equal(late_sent.json[1], "two");
	sent_free(&late_sent);
	/* Opened in time: the bound never fires. */
	startgate_close(&g, ev, 50000, open_late, &g);
	assert_int_equal(startgate_hold(&g, A, "three", 5), 0);
	late_sent.n = 0;
	startgate_open(&g, take, &late_sent);
	assert_int_equal(late_sent.n, 1);
	sent_free(&late_sent);
	startgate_release(&g);
	ev_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_holds_and_releases_in_order),
	        cmocka_unit_test(test_bounded),
	        cmocka_unit_test(test_late),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
