#include "base/worker.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static int wake_pipe[2];

struct job {
	int in, out, done;
};

static void notify(void *ctx)
{
	(void)ctx;
	(void)!write(wake_pipe[1], "x", 1);
}

static void run(void *arg)
{
	struct job *j = arg;

	j->out = j->in * 2;
}

static void done(void *arg)
{
	struct job *j = arg;

	j->done++;
}

static void test_jobs_complete_on_drain(void **state)
{
	struct job jobs[3] = {{.in = 1, .out = -1}, {.in = 2, .out = -1}, {.in = 3, .out = -1}};
	struct worker *w;
	struct pollfd pfd;
	char c;
	int finished = 0;

	(void)state;
	assert_int_equal(pipe(wake_pipe), 0);
	w = worker_create(2, notify, NULL);
	assert_non_null(w);
	assert_int_equal(worker_submit(w, run, done, &jobs[0]), 0);
	assert_int_equal(worker_submit(w, run, done, &jobs[1]), 0);
	assert_int_equal(worker_submit(w, run, done, &jobs[2]), -EBUSY);
	while (finished < 2) {
		pfd = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		assert_int_equal(read(wake_pipe[0], &c, 1), 1);
		worker_drain(w);
		finished = jobs[0].done + jobs[1].done;
	}
	assert_int_equal(jobs[0].out, 2);
	assert_int_equal(jobs[1].out, 4);
	assert_int_equal(worker_pending(w), 0);
	assert_int_equal(worker_submit(w, run, done, &jobs[2]), 0);
	worker_destroy(w);
	/* Whether it ran or was dropped, done() ran exactly once. */
	assert_int_equal(jobs[2].done, 1);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jobs_complete_on_drain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
