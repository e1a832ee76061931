#include "base/ev.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sys/epoll.h>
#include <sys/socket.h>

/* An io that counts its calls; other is what the first callback of a batch acts on. */
struct watch {
	struct ev_io io;
	struct ev *ev;
	int calls;
	uint32_t got;
	struct watch *other;
	int *batch_calls; /* shared by both watches of a batch */
	bool restart;     /* on_io_stop_other() starts other again */
};

static void on_io(struct ev_io *io, uint32_t events)
{
	struct watch *w = EV_CONTAINER_OF(io, struct watch, io);

	w->calls++;
	w->got = events;
}

/* A timer that bounds ev_run_once() when nothing else should be ready. */
struct guard {
	struct ev_timer t;
	int fired;
};

static void on_guard(struct ev_timer *t)
{
	EV_CONTAINER_OF(t, struct guard, t)->fired++;
}

/* One round that must end on the guard timer, not on a descriptor. */
static void run_idle(struct ev *ev)
{
	struct guard g = {0};

	ev_timer_start(ev, &g.t, on_guard, 2000);
	while (!g.fired) {
		assert_int_equal(ev_run_once(ev), 0);
	}
}

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};

	nanosleep(&ts, NULL);
}

static void test_pipe_readable_calls_back(void **state)
{
	struct ev *ev = ev_new();
	struct watch w = {0};
	int p[2];

	(void)state;
	assert_non_null(ev);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_io_start(ev, &w.io, p[0], EPOLLIN, on_io), 0);
	assert_true(w.io.active);
	run_idle(ev);
	assert_int_equal(w.calls, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.got, EPOLLIN);
	/* Level-triggered: still readable, so called again. */
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(w.calls, 2);
	ev_io_stop(ev, &w.io);
	assert_false(w.io.active);
	run_idle(ev);
	assert_int_equal(w.calls, 2);
	ev_free(ev);
	/* The loop never closes the descriptors it watched. */
	assert_int_not_equal(fcntl(p[0], F_GETFD), -1);
	close(p[0]);
	close(p[1]);
}

static void test_set_epollout_reports_writable(void **state)
{
	struct ev *ev = ev_new();
	struct watch w = {0};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ev_io_start(ev, &w.io, sv[0], EPOLLIN, on_io), 0);
	run_idle(ev);
	assert_int_equal(w.calls, 0);
	assert_int_equal(ev_io_set(ev, &w.io, EPOLLIN | EPOLLOUT), 0);
	assert_int_equal(w.io.events, EPOLLIN | EPOLLOUT);
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.got, EPOLLOUT);
	/* The same events again change nothing. */
	assert_int_equal(ev_io_set(ev, &w.io, EPOLLIN | EPOLLOUT), 0);
	assert_int_equal(ev_io_set(ev, &w.io, EPOLLIN), 0);
	run_idle(ev);
	assert_int_equal(w.calls, 1);
	ev_io_stop(ev, &w.io);
	assert_int_equal(ev_io_set(ev, &w.io, EPOLLOUT), -EINVAL);
	ev_free(ev);
	close(sv[0]);
	close(sv[1]);
}

static void test_start_bad_fd_fails(void **state)
{
	struct ev *ev = ev_new();
	struct watch w = {0};

	(void)state;
	assert_int_equal(ev_io_start(ev, &w.io, -1, EPOLLIN, on_io), -EBADF);
	assert_false(w.io.active);
	ev_io_stop(ev, &w.io);
	ev_free(ev);
	ev_free(NULL);
}

/* The first callback of the batch stops the other watch (and starts it again when asked). */
static void on_io_stop_other(struct ev_io *io, uint32_t events)
{
	struct watch *w = EV_CONTAINER_OF(io, struct watch, io);
	struct ev_io *other = &w->other->io;

	on_io(io, events);
	if ((*w->batch_calls)++) {
		return;
	}
	ev_io_stop(w->ev, other);
	if (w->restart) {
		assert_int_equal(ev_io_start(w->ev, other, other->fd, EPOLLIN, on_io_stop_other),
		                 0);
	}
}

static void stop_other_in_batch(bool restart)
{
	struct ev *ev = ev_new();
	struct watch a = {0}, b = {0};
	int pa[2], pb[2], batch_calls = 0;

	assert_int_equal(pipe(pa), 0);
	assert_int_equal(pipe(pb), 0);
	a.ev = b.ev = ev;
	a.other = &b;
	b.other = &a;
	a.restart = b.restart = restart;
	a.batch_calls = b.batch_calls = &batch_calls;
	assert_int_equal(ev_io_start(ev, &a.io, pa[0], EPOLLIN, on_io_stop_other), 0);
	assert_int_equal(ev_io_start(ev, &b.io, pb[0], EPOLLIN, on_io_stop_other), 0);
	/* Both readable before the wait, so both events are in one batch. */
	assert_int_equal(write(pa[1], "a", 1), 1);
	assert_int_equal(write(pb[1], "b", 1), 1);
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(a.io.active && b.io.active, restart);
	if (restart) {
		/* The restarted one is still readable and reported in the next round. */
		assert_int_equal(ev_run_once(ev), 0);
		assert_int_equal(a.calls + b.calls, 3);
		assert_true(a.calls >= 1 && b.calls >= 1);
	}
	ev_free(ev);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
}

static void test_stop_other_in_same_batch(void **state)
{
	(void)state;
	stop_other_in_batch(false);
}

static void test_restarted_in_batch_gets_no_stale_event(void **state)
{
	(void)state;
	stop_other_in_batch(true);
}

/* The first callback of the batch stops asking for EPOLLOUT on the other watch. */
static void on_io_drop_out_other(struct ev_io *io, uint32_t events)
{
	struct watch *w = EV_CONTAINER_OF(io, struct watch, io);

	on_io(io, events);
	if (!(*w->batch_calls)++) {
		assert_int_equal(ev_io_set(w->ev, &w->other->io, EPOLLIN), 0);
	}
}

static void test_set_in_batch_masks_collected_event(void **state)
{
	struct ev *ev = ev_new();
	struct watch a = {0}, b = {0};
	int sa[2], sb[2], batch_calls = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sa), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), 0);
	a.ev = b.ev = ev;
	a.other = &b;
	b.other = &a;
	a.batch_calls = b.batch_calls = &batch_calls;
	assert_int_equal(ev_io_start(ev, &a.io, sa[0], EPOLLOUT, on_io_drop_out_other), 0);
	assert_int_equal(ev_io_start(ev, &b.io, sb[0], EPOLLOUT, on_io_drop_out_other), 0);
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(a.calls + b.calls, 1);
	ev_free(ev);
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
}

struct ordered {
	struct ev_timer t;
	struct ev *ev;
	int id;
	int64_t due; /* computed by the test, not read back from the timer */
	int *log;    /* ids in firing order */
	int *nlog;
	int64_t *dues; /* due times as the loop holds them, in firing order */
	int rearms;    /* times the callback arms itself again */
	int64_t step;  /* delay of each re-arm */
};

static void on_ordered(struct ev_timer *t)
{
	struct ordered *o = EV_CONTAINER_OF(t, struct ordered, t);

	assert_true(ev_now_us() >= o->due);
	assert_false(t->armed);
	o->dues[*o->nlog] = t->due_us;
	o->log[(*o->nlog)++] = o->id;
	if (o->rearms > 0) {
		o->rearms--;
		o->due = ev_now_us() + o->step;
		ev_timer_start(o->ev, t, on_ordered, o->step);
		assert_true(t->armed);
	}
}

static void arm(struct ev *ev, struct ordered *o, int64_t delay_us)
{
	o->ev = ev;
	o->due = ev_now_us() + delay_us;
	ev_timer_start(ev, &o->t, on_ordered, delay_us);
	assert_true(o->t.armed);
}

static void test_timers_fire_in_due_order(void **state)
{
	struct ev *ev = ev_new();
	struct ordered o[5] = {0};
	int log[8], nlog = 0;
	int64_t dues[8];

	(void)state;
	for (int i = 0; i < 5; i++) {
		o[i].id = i;
		o[i].log = log;
		o[i].dues = dues;
		o[i].nlog = &nlog;
	}
	arm(ev, &o[3], 3000);
	arm(ev, &o[1], 1000);
	arm(ev, &o[4], 1500); /* stopped below: never fires */
	arm(ev, &o[2], 50000);
	arm(ev, &o[0], 500);
	arm(ev, &o[2], 2000); /* re-armed earlier than first asked */
	ev_timer_stop(ev, &o[4].t);
	assert_false(o[4].t.armed);
	ev_timer_stop(ev, &o[4].t);
	while (nlog < 4) {
		assert_int_equal(ev_run_once(ev), 0);
	}
	run_idle(ev);
	assert_int_equal(nlog, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(log[i], i);
	}
	ev_free(ev);
}

static void test_timer_rearms_itself(void **state)
{
	struct ev *ev = ev_new();
	struct ordered o = {.id = 7, .rearms = 3, .step = 700};
	struct ordered other = {.id = 8};
	int log[8], nlog = 0, mine = 0;
	int64_t dues[8];

	(void)state;
	o.log = other.log = log;
	o.nlog = other.nlog = &nlog;
	o.dues = other.dues = dues;
	arm(ev, &o, 500);
	arm(ev, &other, 1600); /* lands between the re-arms */
	while (o.t.armed || other.t.armed) {
		assert_int_equal(ev_run_once(ev), 0);
	}
	assert_int_equal(nlog, 5);
	for (int i = 0; i < nlog; i++) {
		mine += log[i] == 7;
		assert_true(i == 0 || dues[i] >= dues[i - 1]);
	}
	assert_int_equal(mine, 4);
	ev_free(ev);
}

static void test_run_once_waits_for_timer(void **state)
{
	struct ev *ev = ev_new();
	struct guard g = {0};
	int64_t start;

	(void)state;
	/* Not a whole millisecond: rounding it down would wake the loop too early. */
	for (int64_t delay = 2500; delay <= 20000; delay += 17500) {
		g.fired = 0;
		start = ev_now_us();
		ev_timer_start(ev, &g.t, on_guard, delay);
		assert_int_equal(ev_run_once(ev), 0);
		assert_int_equal(g.fired, 1);
		assert_true(ev_now_us() - start >= delay);
		assert_true(ev_now_us() - start < delay + 500000);
	}
	ev_free(ev);
}

static void on_wake(void *ctx)
{
	(*(int *)ctx)++;
}

static void *wake_later(void *arg)
{
	sleep_us(10000);
	ev_wake(arg);
	return NULL;
}

static void test_wake_from_thread(void **state)
{
	struct ev *ev = ev_new();
	struct guard g = {0};
	pthread_t th;
	int woken = 0;
	int64_t start = ev_now_us();

	(void)state;
	ev_set_wake(ev, on_wake, &woken);
	assert_int_equal(pthread_create(&th, NULL, wake_later, ev), 0);
	/* Blocks with nothing to watch: only the wake-up can end it. */
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(woken, 1);
	assert_true(ev_now_us() - start >= 10000);
	/* Several wake-ups before the loop runs lead to one callback, and the eventfd is reset. */
	ev_wake(ev);
	ev_wake(ev);
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(woken, 2);
	ev_timer_start(ev, &g.t, on_guard, 5000);
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(g.fired, 1);
	assert_int_equal(woken, 2);
	/* Without a callback a wake-up only ends the wait. */
	ev_set_wake(ev, NULL, NULL);
	ev_wake(ev);
	assert_int_equal(ev_run_once(ev), 0);
	assert_int_equal(woken, 2);
	ev_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pipe_readable_calls_back),
	        cmocka_unit_test(test_set_epollout_reports_writable),
	        cmocka_unit_test(test_start_bad_fd_fails),
	        cmocka_unit_test(test_stop_other_in_same_batch),
	        cmocka_unit_test(test_restarted_in_batch_gets_no_stale_event),
	        cmocka_unit_test(test_set_in_batch_masks_collected_event),
	        cmocka_unit_test(test_timers_fire_in_due_order),
	        cmocka_unit_test(test_timer_rearms_itself),
	        cmocka_unit_test(test_run_once_waits_for_timer),
	        cmocka_unit_test(test_wake_from_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
