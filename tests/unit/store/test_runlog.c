#define _GNU_SOURCE /* nftw in tmpdir.h, futimens */
#include "base/log.h"
#include "store/paths.h"
#include "store/runlog.h"
#include "tmpdir.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cs-unit-runlog-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

static void make_file(const char *name, int days_old)
{
	char path[256];
	struct timespec ts[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= (time_t)days_old * 86400;
	ts[1] = ts[0];
	assert_int_equal(futimens(fd, ts), 0);
	close(fd);
}

static bool exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void test_names(void **state)
{
	(void)state;
	assert_true(runlog_is_name("codex-switch-run-20260101-000000-h-1-abc.log"));
	assert_false(runlog_is_name("codex-switch-run-.log"));
	assert_false(runlog_is_name("codex-switch-run-20260101.txt"));
	assert_false(runlog_is_name("notes.log"));
}

static void count_cb(const char *name, void *ctx)
{
	(void)name;
	(*(int *)ctx)++;
}

static void test_prune_keeps_new_other_and_current(void **state)
{
	int seen = 0;

	(void)state;
	make_file("codex-switch-run-20200101-000000-h-1-a.log", 9);
	make_file("codex-switch-run-20200102-000000-h-1-b.log", 8);
	make_file("codex-switch-run-20200103-000000-h-1-c.log", 3);
	make_file("codex-switch-run-20200104-000000-h-1-d.log", 30); /* the current one */
	make_file("other.txt", 30);
	assert_int_equal(runlog_prune(dir, 7, true, NULL, count_cb, &seen), 3);
	assert_int_equal(seen, 3);
	assert_true(exists("codex-switch-run-20200101-000000-h-1-a.log"));
	assert_int_equal(runlog_prune(dir, 7, false, "codex-switch-run-20200104-000000-h-1-d.log",
	                              NULL, NULL),
	                 2);
	assert_false(exists("codex-switch-run-20200101-000000-h-1-a.log"));
	assert_false(exists("codex-switch-run-20200102-000000-h-1-b.log"));
	assert_true(exists("codex-switch-run-20200103-000000-h-1-c.log"));
	assert_true(exists("codex-switch-run-20200104-000000-h-1-d.log"));
	assert_true(exists("other.txt"));
}

static void test_list_sorted(void **state)
{
	char **names;
	size_t n;

	(void)state;
	make_file("codex-switch-run-20200105-000000-h-1-b.log", 0);
	make_file("codex-switch-run-20200101-000000-h-1-a.log", 0);
	make_file("x.log", 0);
	assert_int_equal(runlog_list(dir, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "codex-switch-run-20200101-000000-h-1-a.log");
	assert_null(names[2]);
	runlog_free_names(names);
	assert_int_equal(runlog_list("/nonexistent/cs-logs", &names, &n), 0);
	assert_int_equal(n, 0);
	runlog_free_names(names);
}

static void test_open_creates_private_log(void **state)
{
	struct paths p = {0};
	char path[4096], logs[128];
	struct stat st;

	(void)state;
	snprintf(logs, sizeof(logs), "%s/logs", dir);
	p.logs_dir = logs;
	setenv("HOSTNAME", "my host/../x", 1);
	assert_int_equal(runlog_open(&p, path, sizeof(path)), 0);
	log_info("hello from the run log");
	runlog_close();
	assert_int_equal(stat(logs, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(strstr(path, "-myhost..x-"));
	assert_true(runlog_is_name(strrchr(path, '/') + 1));
	assert_true(st.st_size > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names),
	        cmocka_unit_test_setup_teardown(test_prune_keeps_new_other_and_current, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_list_sorted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_open_creates_private_log, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
