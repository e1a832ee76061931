/* codexseen: a record says "this very file was a supported codex", and nothing else does. */
#define _GNU_SOURCE
#include "base/codexseen.h"

#include "../tmpdir.h"

#include <errno.h>
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

struct fx {
	char dir[64];
	char record[128];
	char codex[128];
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cs-test-codexseen-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->record, sizeof(f->record), "%s/codex-version", f->dir);
	snprintf(f->codex, sizeof(f->codex), "%s/codex", f->dir);
	write_file(f->codex, "#!/bin/sh\necho codex-cli 0.169.0\n");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void test_nothing_seen(void **state)
{
	struct fx *f = *state;

	assert_false(codexseen_supported(f->record, f->codex, "0.117.0"));
}

static void test_remembered_then_supported(void **state)
{
	struct fx *f = *state;
	struct stat before, after;

	assert_int_equal(codexseen_remember(f->record, f->codex, "0.169.0"), 0);
	assert_true(codexseen_supported(f->record, f->codex, "0.117.0"));
	assert_int_equal(stat(f->record, &before), 0);
	assert_int_equal(before.st_mode & 0777, 0600);
	/* the same again: the record is not written a second time */
	assert_int_equal(codexseen_remember(f->record, f->codex, "0.169.0"), 0);
	assert_int_equal(stat(f->record, &after), 0);
	assert_true(before.st_ino == after.st_ino);
}

static void test_too_old_is_not_supported(void **state)
{
	struct fx *f = *state;

	assert_int_equal(codexseen_remember(f->record, f->codex, "0.116.0"), 0);
	assert_false(codexseen_supported(f->record, f->codex, "0.117.0"));
}

/* An update replaces the file: another size, inode or time is another codex. */
static void test_changed_file_is_unknown(void **state)
{
	struct fx *f = *state;
	struct timespec t[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};

	assert_int_equal(codexseen_remember(f->record, f->codex, "0.169.0"), 0);
	write_file(f->codex, "#!/bin/sh\necho codex-cli 0.170.0 and more\n");
	assert_false(codexseen_supported(f->record, f->codex, "0.117.0"));
	assert_int_equal(codexseen_remember(f->record, f->codex, "0.170.0"), 0);
	assert_true(codexseen_supported(f->record, f->codex, "0.117.0"));
	assert_int_equal(utimensat(AT_FDCWD, f->codex, t, 0), 0); /* same size, other time */
	assert_false(codexseen_supported(f->record, f->codex, "0.117.0"));
}

/* The version recorded, for the same file only; a short buffer is no version at all. */
static void test_version_of_the_same_file(void **state)
{
	struct fx *f = *state;
	char v[16], tiny[4];

	assert_int_equal(codexseen_version(f->record, f->codex, v, sizeof(v)), -ENOENT);
	assert_int_equal(codexseen_remember(f->record, f->codex, "0.116.0"), 0);
	assert_int_equal(codexseen_version(f->record, f->codex, v, sizeof(v)), 0);
	assert_string_equal(v, "0.116.0"); /* too old to start early, still its version */
	assert_int_equal(codexseen_version(f->record, f->codex, tiny, sizeof(tiny)), -ENOENT);
	write_file(f->codex, "#!/bin/sh\necho codex-cli 0.170.0 and more\n");
	assert_int_equal(codexseen_version(f->record, f->codex, v, sizeof(v)), -ENOENT);
}

/* A name is looked up on PATH as exec does; another binary of the same name is another codex. */
static void test_name_on_path(void **state)
{
	struct fx *f = *state;
	char other[128], path[256];
	const char *saved = getenv("PATH");

	snprintf(other, sizeof(other), "%s/bin", f->dir);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(path, sizeof(path), "%s:%s", f->dir, saved ? saved : "/usr/bin");
	assert_int_equal(setenv("PATH", path, 1), 0);
	assert_int_equal(codexseen_remember(f->record, "codex", "0.169.0"), 0);
	assert_true(codexseen_supported(f->record, "codex", "0.117.0"));
	assert_true(codexseen_supported(f->record, f->codex, "0.117.0"));
	snprintf(path, sizeof(path), "%s/codex", other);
	write_file(path, "#!/bin/sh\necho codex-cli 0.169.0\n");
	snprintf(path, sizeof(path), "%s:%s:%s", other, f->dir, saved ? saved : "/usr/bin");
	assert_int_equal(setenv("PATH", path, 1), 0);
	assert_false(codexseen_supported(f->record, "codex", "0.117.0"));
	assert_int_equal(setenv("PATH", saved ? saved : "/usr/bin", 1), 0);
	assert_false(codexseen_supported(f->record, "/nonexistent/codex", "0.117.0"));
}

static void test_garbage_record(void **state)
{
	struct fx *f = *state;

	write_file(f->record, "not a record");
	assert_false(codexseen_supported(f->record, f->codex, "0.117.0"));
	assert_int_equal(codexseen_remember(f->record, f->codex, "0.169.0"), 0);
	assert_true(codexseen_supported(f->record, f->codex, "0.117.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_nothing_seen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_remembered_then_supported, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_too_old_is_not_supported, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_changed_file_is_unknown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_version_of_the_same_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_name_on_path, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_garbage_record, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
