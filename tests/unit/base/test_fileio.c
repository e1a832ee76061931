#include "base/fileio.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

static char dir[] = "/tmp/cs-fileio-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_atomic_write_private),
	        cmocka_unit_test(test_write_new_refuses_existing),
	        cmocka_unit_test(test_symlink_not_followed),
	        cmocka_unit_test(test_ensure_dir),
	        cmocka_unit_test(test_read_missing),
	        cmocka_unit_test(test_read_fifo),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
