#define _GNU_SOURCE
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static void test_exit_status(void **state)
{
	char *argv[] = {"sh", "-c", "exit 7", NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(spawn_start(&o, &pid), 0);
	assert_int_equal(spawn_wait(pid, &st), 0);
	assert_int_equal(st, 7);
}

static void test_missing_binary(void **state)
{
	char *argv[] = {"/nonexistent/codex", NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	pid_t pid;

	(void)state;
	assert_int_equal(spawn_start(&o, &pid), -ENOENT);
	/* The failed child was reaped: nothing is left to wait for. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_not_executable(void **state)
{
	char path[] = "/tmp/cs-spawn-XXXXXX";
	int fd = mkstemp(path);
	char *argv[] = {path, NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	pid_t pid;

	(void)state;
	close(fd);
	assert_int_equal(spawn_start(&o, &pid), -EACCES);
	unlink(path);
}

static void test_env_signals_and_fds(void **state)
{
	/* The child sees the extra variable, default SIGPIPE, an empty mask and no stray fd. */
	char *argv[] = {"sh", "-c",
	                "test \"$CS_X\" = yes && grep -q '^SigBlk:\\s*0*$' /proc/self/status && "
	                "grep -q '^SigIgn:\\s*0*$' /proc/self/status && ! test -e /proc/self/fd/9",
	                NULL};
	const char *env[] = {"CS_X=yes", NULL};
	struct spawn_opts o = {
	        .argv = argv, .env = env, .stdin_fd = -1, .stdout_fd = -2, .stderr_fd = -2};
	sigset_t set;
	pid_t pid;
	int st, fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(dup2(fd, 9) == 9);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	assert_int_equal(spawn_start(&o, &pid), 0);
	assert_int_equal(spawn_wait(pid, &st), 0);
	assert_int_equal(st, 0);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	close(9);
	close(fd);
}

static void test_signal_status_and_poll(void **state)
{
	char *argv[] = {"sleep", "30", NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	pid_t pid;
	int st = -1;

	(void)state;
	assert_int_equal(spawn_start(&o, &pid), 0);
	assert_int_equal(spawn_poll(pid, &st), 0);
	kill(pid, SIGTERM);
	assert_int_equal(spawn_wait(pid, &st), 0);
	assert_int_equal(st, 128 + SIGTERM);
}

static void test_capture(void **state)
{
	char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 4", NULL};
	char *big[] = {"sh", "-c", "yes x | head -c 100000", NULL};
	char *slow[] = {"sh", "-c", "echo early; exec sleep 30", NULL};
	char *missing[] = {"/nonexistent/cs-no-such-binary", NULL};
	char *out;
	int st;

	(void)state;
	assert_int_equal(spawn_capture(argv, 64, 5000, &out, &st), 0);
	assert_string_equal(out, "out\n"); /* stdout only */
	assert_int_equal(st, 4);
	free(out);
	assert_int_equal(spawn_capture(big, 10, 5000, &out, &st), 0);
	assert_int_equal(strlen(out), 10); /* capped at max */
	free(out);
	assert_int_equal(spawn_capture(slow, 64, 300, &out, &st), 0);
	assert_int_equal(st, -1); /* killed at the deadline */
	assert_string_equal(out, "early\n");
	free(out);
	assert_int_equal(spawn_capture(missing, 64, 300, &out, &st), -ENOENT);
	free(out);
}

static void test_exchange(void **state)
{
	char *cat[] = {"cat", NULL};
	char *deaf[] = {"sh", "-c", "exit 3", NULL};
	char *slow[] = {"sh", "-c", "head -c 5; exec sleep 30", NULL};
	size_t n = 300000, len; /* more than a socket takes at once: sent while reading */
	char *in = malloc(n), *out;
	int st;

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < n; i++) {
		in[i] = (char)('a' + i % 26);
	}
	assert_int_equal(spawn_exchange(cat, in, n, n + 1, 10000, &out, &len, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, in, n);
	free(out);
	/* A child that never reads its stdin: no SIGPIPE here, just its status. */
	assert_int_equal(spawn_exchange(deaf, in, n, 64, 10000, &out, &len, &st), 0);
	assert_int_equal(st, 3);
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(spawn_exchange(slow, in, n, 64, 300, &out, &len, &st), 0);
	assert_int_equal(st, -1); /* killed at the deadline */
	assert_string_equal(out, "abcde");
	free(out);
	free(in);
}

/* A stream that cannot be set up is an error of spawn_start(), not a child with wrong fds. */
static void test_bad_stream_reported(void **state)
{
	char *argv[] = {"true", NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	int fd = 900; /* not open: dup2() of it fails with EBADF */
	pid_t pid = 0;

	(void)state;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	o.stdout_fd = fd;
	assert_int_equal(spawn_start(&o, &pid), -EBADF);
	assert_int_equal(pid, 0);
	o.stdout_fd = -1;
	o.stdin_fd = fd;
	assert_int_equal(spawn_start(&o, &pid), -EBADF);
	assert_int_equal(pid, 0);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no zombie left behind */
	assert_int_equal(errno, ECHILD);
}

/* A stream passed at its own number keeps working even when it is close-on-exec here. */
static void test_stream_at_own_number(void **state)
{
	char *argv[] = {"sh", "-c", "echo through", NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -2, .stderr_fd = -1};
	int pipefd[2], saved = dup(STDOUT_FILENO), st = -1;
	char out[32] = {0};
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(dup2(pipefd[1], STDOUT_FILENO), STDOUT_FILENO);
	close(pipefd[1]);
	assert_int_equal(fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC), 0);
	o.stdout_fd = STDOUT_FILENO;
	assert_int_equal(spawn_start(&o, &pid), 0);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	assert_int_equal(spawn_wait(pid, &st), 0);
	assert_int_equal(st, 0);
	assert_true(read(pipefd[0], out, sizeof(out) - 1) > 0);
	assert_string_equal(out, "through\n");
	close(pipefd[0]);
}

/* As execvp looks: a path is taken as it is, a name on $PATH in order, "" as ".". */
static void test_find(void **state)
{
	char out[256], dir[] = "/tmp/cs-test-spawnfind-XXXXXX", path[300];
	const char *saved = getenv("PATH");
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tool", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_false(spawn_find("tool", out, sizeof(out))); /* not on PATH */
	assert_false(spawn_find(path, out, sizeof(out)));   /* not executable */
	assert_int_equal(chmod(path, 0700), 0);
	assert_true(spawn_find(path, out, sizeof(out)));
	assert_string_equal(out, path);
	assert_int_equal(setenv("PATH", dir, 1), 0);
	assert_true(spawn_find("tool", out, sizeof(out)));
	assert_string_equal(out, path);
	assert_false(spawn_find("", out, sizeof(out)));
	assert_false(spawn_find("tool", out, 8)); /* does not fit */
	assert_int_equal(setenv("PATH", saved ? saved : "/usr/bin:/bin", 1), 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_exit_status),
	        cmocka_unit_test(test_find),
	        cmocka_unit_test(test_missing_binary),
	        cmocka_unit_test(test_not_executable),
	        cmocka_unit_test(test_env_signals_and_fds),
	        cmocka_unit_test(test_signal_status_and_poll),
	        cmocka_unit_test(test_capture),
	        cmocka_unit_test(test_exchange),
	        cmocka_unit_test(test_bad_stream_reported),
	        cmocka_unit_test(test_stream_at_own_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
