#define _GNU_SOURCE
#include "base/codexver.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/cs-test-codexver-XXXXXX";

/* A stand-in codex at dir/name whose --version prints line and exits with code. */
static void fake_codex(const char *name, const char *line, int code, char *path, size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n[ \"$1\" = --version ] || exit 2\nprintf '%%s\\n' '%s'\nexit %d\n",
	        line, code);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
}

static void test_parse(void **state)
{
	char v[CODEXVER_MAX], tiny[4];

	(void)state;
	assert_int_equal(codexver_parse("codex-cli 0.169.0\n", v, sizeof(v)), 0);
	assert_string_equal(v, "0.169.0");
	assert_int_equal(codexver_parse("codex-cli 0.170.0-alpha.2", v, sizeof(v)), 0);
	assert_string_equal(v, "0.170.0-alpha.2");
	assert_int_equal(codexver_parse("0.117.0\r\nmore", v, sizeof(v)), 0);
	assert_string_equal(v, "0.117.0");
	assert_int_equal(codexver_parse("codex-cli\n0.1.0", v, sizeof(v)), -EINVAL);
	assert_int_equal(codexver_parse("", v, sizeof(v)), -EINVAL);
	assert_int_equal(codexver_parse("codex-cli 0.169.0", tiny, sizeof(tiny)), -EINVAL);
}

static void test_cmp(void **state)
{
	(void)state;
	assert_true(codexver_cmp("0.116.0", "0.117.0") < 0);
	assert_true(codexver_cmp("0.117.0", "0.117.0") == 0);
	assert_true(codexver_cmp("0.169.1", "0.169.0") > 0);
	/* numeric, not text: 0.99 < 0.117 */
	assert_true(codexver_cmp("0.99.0", "0.117.0") < 0);
	assert_true(codexver_cmp("1.0", "0.171.0") > 0);
	assert_true(codexver_cmp("0.117", "0.117.0") == 0);
	assert_true(codexver_cmp("0.170.0-alpha.2", "0.170.0") < 0);
	assert_true(codexver_cmp("0.170.0", "0.170.0-alpha.2") > 0);
	assert_true(codexver_cmp("0.170.0-alpha.2", "0.170.0-alpha.3") < 0);
	assert_true(codexver_cmp(CODEXVER_OLDEST, CODEXVER_PINNED) <= 0);
	assert_true(codexver_cmp(CODEXVER_PINNED, CODEXVER_NEWEST) <= 0);
}

static void test_query(void **state)
{
	char path[256], v[CODEXVER_MAX];

	(void)state;
	fake_codex("good", "codex-cli 0.171.0", 0, path, sizeof(path));
	assert_int_equal(codexver_query(path, v, sizeof(v)), 0);
	assert_string_equal(v, "0.171.0");
	fake_codex("failing", "codex-cli 0.171.0", 3, path, sizeof(path));
	assert_int_equal(codexver_query(path, v, sizeof(v)), -EINVAL);
	fake_codex("garbled", "no version here", 0, path, sizeof(path));
	assert_int_equal(codexver_query(path, v, sizeof(v)), -EINVAL);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(codexver_query(path, v, sizeof(v)), -ENOENT);
}

/* Asked once, on the prefetch thread: the next call waits for that answer (the stand-in
 * takes its time), and a later call or prefetch with another binary gets it too. */
static void test_prefetched_then_kept(void **state)
{
	char slow[256], other[256];
	FILE *f;

	(void)state;
	snprintf(slow, sizeof(slow), "%s/slow", dir);
	f = fopen(slow, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nsleep 0.3\necho 'codex-cli 0.122.0'\n");
	fclose(f);
	assert_int_equal(chmod(slow, 0700), 0);
	fake_codex("second", "codex-cli 0.143.0", 0, other, sizeof(other));
	assert_int_equal(codexver_prefetch(slow), 0);
	assert_string_equal(codexver_installed(other), "0.122.0");
	assert_int_equal(codexver_prefetch(other), 0);
	assert_string_equal(codexver_installed(other), "0.122.0");
	assert_string_equal(codexver_for_agent(), "0.122.0");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_cmp),
	        cmocka_unit_test(test_query),
	        cmocka_unit_test(test_prefetched_then_kept),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
