#define _XOPEN_SOURCE 700 /* nftw */
#include "base/fileio.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

static char dir[] = "/tmp/cs-fileio-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* What the tests left in dir goes with it. */
static int teardown(void **state)
{
	(void)state;
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(dp))) {
		n += e->d_name[0] != '.' || strstr(e->d_name, ".tmp") != NULL;
	}
	closedir(dp);
	return n;
}

static void test_atomic_write_private(void **state)
{
	char *path = util_printf("%s/a.json", dir), *data;
	struct stat st;
	size_t len;

	(void)state;
	assert_int_equal(fileio_write_atomic(path, "one", 3), 0);
	assert_int_equal(fileio_write_atomic(path, "two!", 4), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fileio_read(path, 100, &data, &len), 0);
	assert_int_equal(len, 4);
	assert_string_equal(data, "two!");
	free(data);
	assert_int_equal(fileio_read(path, 3, &data, &len), -EFBIG);
	assert_int_equal(count_entries(dir), 1); /* no temp file left behind */
	unlink(path);
	free(path);
}

static void test_write_new_refuses_existing(void **state)
{
	char *path = util_printf("%s/b.json", dir), *data;

	(void)state;
	assert_int_equal(fileio_write_new(path, "first", 5), 0);
	assert_int_equal(fileio_write_new(path, "second", 6), -EEXIST);
	assert_int_equal(fileio_read(path, 100, &data, NULL), 0);
	assert_string_equal(data, "first");
	free(data);
	assert_int_equal(count_entries(dir), 1);
	unlink(path);
	free(path);
}

/* The same without syncing (locks): whole, private, never replacing, no temp file left. */
static void test_create_unsynced(void **state)
{
	char *path = util_printf("%s/c.lock", dir), *data;
	struct stat st;

	(void)state;
	assert_int_equal(fileio_create_unsynced(path, "mine", 4), 0);
	assert_int_equal(fileio_create_unsynced(path, "yours", 5), -EEXIST);
	assert_int_equal(fileio_write_new(path, "yours", 5), -EEXIST);
	assert_int_equal(fileio_read(path, 100, &data, NULL), 0);
	assert_string_equal(data, "mine");
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(dir), 1);
	unlink(path);
	free(path);
}

static void test_symlink_not_followed(void **state)
{
	char *target = util_printf("%s/target", dir), *link = util_printf("%s/link", dir), *data;

	(void)state;
	assert_int_equal(fileio_write_atomic(target, "keep", 4), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(fileio_write_atomic(link, "new", 3), 0);
	assert_int_equal(fileio_read(target, 100, &data, NULL), 0);
	assert_string_equal(data, "keep");
	free(data);
	unlink(target);
	unlink(link);
	free(target);
	free(link);
}

static void test_ensure_dir(void **state)
{
	char *d = util_printf("%s/x/y/z", dir);
	struct stat st;

	(void)state;
	assert_int_equal(fileio_ensure_dir(d, 0700), 0);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	chmod(d, 0755);
	assert_int_equal(fileio_ensure_dir(d, 0700), 0);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(fileio_read(d, 10, &(char *){NULL}, NULL), -EISDIR);
	free(d);
}

static void test_read_missing(void **state)
{
	char *data;

	(void)state;
	assert_int_equal(fileio_read("/nonexistent/cs", 10, &data, NULL), -ENOENT);
}

/* A FIFO with no writer: the read fails at once instead of waiting in open() forever. */
static void test_read_fifo(void **state)
{
	char *path = util_printf("%s/fifo.json", dir), *data = NULL;
	int fd;

	(void)state;
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10); /* a hang fails the test instead of blocking the suite */
	assert_int_equal(fileio_read(path, 100, &data, NULL), -FILEIO_ENOTREG);
	assert_null(data);
	fd = fileio_open_regular(path, 0);
	assert_int_equal(fd, -FILEIO_ENOTREG);
	alarm(0);
	assert_non_null(strstr(fileio_strerror(fd), "not a regular file"));
	unlink(path);
	assert_int_equal(fileio_write_atomic(path, "{}", 2), 0);
	fd = fileio_open_regular(path, O_NOFOLLOW);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); /* cleared for the reads */
	close(fd);
	unlink(path);
	free(path);
}

/* Plants a temp file like one a writer of dir/name leaves; aged by seconds. */
static char *plant_temp(const char *name, const char *uuid, int seconds)
{
	char *path = util_printf("%s/.%s.%s.tmp", dir, name, uuid);
	struct timeval old[2];

	assert_int_equal(fileio_write_new(path, "secret", 6), 0);
	gettimeofday(&old[0], NULL);
	old[0].tv_sec -= seconds;
	old[1] = old[0];
	assert_int_equal(utimes(path, old), 0);
	return path;
}

/* Only the temp files of dead writers go: unlocked and older than the grace period. */
static void test_dead_temps_removed(void **state)
{
	char *target = util_printf("%s/accounts.json", dir), example[512];
	char *dead = plant_temp("accounts.json", "11111111-1111-4111-8111-111111111111", 3600);
	char *young = plant_temp("accounts.json", "22222222-2222-4222-8222-222222222222", 0);
	char *live = plant_temp("accounts.json", "33333333-3333-4333-8333-333333333333", 3600);
	char *other = plant_temp("auth.json", "44444444-4444-4444-8444-444444444444", 3600);
	char *odd = util_printf("%s/.accounts.json.not-a-uuid.tmp", dir);
	int held = open(live, O_RDONLY);

	(void)state;
	assert_int_equal(flock(held, LOCK_EX), 0); /* its writer is still writing */
	assert_int_equal(fileio_write_new(odd, "x", 1), 0);
	utimes(odd, NULL);
	assert_int_equal(fileio_dead_temps(target, false, example, sizeof(example)), 1);
	assert_string_equal(example, dead);
	assert_int_equal(access(dead, F_OK), 0); /* counting removes nothing */
	assert_int_equal(fileio_write_atomic(target, "{}", 2), 0);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(young, F_OK), 0);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0); /* another file's: its own writes clean it */
	assert_int_equal(access(odd, F_OK), 0);
	assert_int_equal(fileio_dead_temps(target, false, NULL, 0), 0);
	close(held);
	assert_int_equal(fileio_dead_temps(target, false, NULL, 0), 1); /* its writer died */
	assert_int_equal(fileio_write_new(target, "{}", 2), -EEXIST);
	assert_int_equal(access(live, F_OK), -1);
	assert_int_equal(fileio_dead_temps(target, true, NULL, 0), 0);
	for (char *p[] = {target, young, other, odd, dead, live}, **q = p; q < p + 6; q++) {
		unlink(*q);
		free(*q);
	}
}

/* A writer killed in the middle of a write leaves a temp file the next write removes. */
static void test_killed_writer_cleaned(void **state)
{
	char *target = util_printf("%s/big.json", dir), *tmp = NULL;
	size_t len = 16u * 1024 * 1024;
	char *data = calloc(1, len);
	struct timeval old[2];
	struct dirent *e;
	pid_t pid;
	DIR *d;

	(void)state;
	assert_non_null(data);
	pid = fork();
	if (pid == 0) {
		for (;;) {
			fileio_write_atomic(target, data, len);
		}
	}
	/* Wait until its temp file exists, then kill it mid-write. */
	for (int i = 0; i < 2000 && !tmp; i++) {
		nanosleep(&(struct timespec){0, 2000000}, NULL);
		d = opendir(dir);
		while ((e = readdir(d)) && !tmp) {
			if (strncmp(e->d_name, ".big.json.", 10) == 0) {
				tmp = util_printf("%s/%s", dir, e->d_name);
			}
		}
		closedir(d);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(data);
	assert_non_null(tmp);
	if (access(tmp, F_OK) != 0) {
		/* it was renamed just before the kill: plant what the kill would have left */
		assert_int_equal(fileio_write_new(tmp, "x", 1), 0);
	}
	gettimeofday(&old[0], NULL);
	old[0].tv_sec -= 60;
	old[1] = old[0];
	assert_int_equal(utimes(tmp, old), 0);
	assert_int_equal(fileio_dead_temps(target, false, NULL, 0), 1);
	assert_int_equal(fileio_write_atomic(target, "{}", 2), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	unlink(target);
	free(tmp);
	free(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_atomic_write_private),
	        cmocka_unit_test(test_write_new_refuses_existing),
	        cmocka_unit_test(test_create_unsynced),
	        cmocka_unit_test(test_symlink_not_followed),
	        cmocka_unit_test(test_ensure_dir),
	        cmocka_unit_test(test_read_missing),
	        cmocka_unit_test(test_read_fifo),
	        cmocka_unit_test(test_dead_temps_removed),
	        cmocka_unit_test(test_killed_writer_cleaned),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
