#define _GNU_SOURCE
#include "policy/policy.h"
#include "tmpdir.h"

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

static char dir[] = "/tmp/cs-policy-config-XXXXXX";
static char path[256];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/config.json", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

static void write_config(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text as config.json; on error the config must be back at the defaults. */
static int load(const char *text, struct policy_config *c, char *err, size_t errsz)
{
	struct policy_config d;
	int r;

	write_config(text);
	memset(c, 0x5a, sizeof(*c));
	r = policy_config_load(path, c, err, errsz);
	if (r) {
		policy_config_defaults(&d);
		assert_memory_equal(c, &d, sizeof(d));
	}
	return r;
}

static void test_missing_file_gives_defaults(void **state)
{
	struct policy_config c;
	char err[256] = "x";

	(void)state;
	unlink(path);
	assert_int_equal(policy_config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(c.min_safe_headroom == 5.0 && c.weekly_weight == 5.0);
	assert_true(c.soft_headroom == 5.0 && c.switch_margin == 15.0);
	assert_int_equal(c.soft_cooldown_s, 900);
	assert_int_equal(c.usage_max_age_s, 21600);
	assert_false(c.auto_reset_credits); /* a credit is never spent unasked */
}

static void test_valid_file(void **state)
{
	struct policy_config c;
	char err[256];

	(void)state;
	assert_int_equal(load("{\"weekly_weight\": 4, \"switch_margin\": 20.5,\n"
	                      " \"soft_cooldown_s\": 600, \"usage_max_age_s\": 3600}",
	                      &c, err, sizeof(err)),
	                 0);
	assert_true(c.weekly_weight == 4.0 && c.switch_margin == 20.5);
	assert_int_equal(c.soft_cooldown_s, 600);
	assert_int_equal(c.usage_max_age_s, 3600);
	assert_true(c.min_safe_headroom == 5.0); /* untouched keys keep their default */
	assert_int_equal(load("{}", &c, err, sizeof(err)), 0);
	assert_int_equal(c.soft_cooldown_s, 900);
	assert_int_equal(
	        load("{\"min_safe_headroom\": 0, \"soft_headroom\": 100}", &c, err, sizeof(err)),
	        0);
	assert_true(c.min_safe_headroom == 0.0 && c.soft_headroom == 100.0);
	assert_int_equal(load("{\"auto_reset_credits\": true}", &c, err, sizeof(err)), 0);
	assert_true(c.auto_reset_credits);
	assert_true(c.weekly_weight == 5.0);
	assert_int_equal(load("{\"auto_reset_credits\": false}", &c, err, sizeof(err)), 0);
	assert_false(c.auto_reset_credits);
}

static const struct {
	const char *text;
	const char *want; /* in the error, after the file name */
} bad[] = {
        {"{\"weekly_wieght\": 4}", "unknown key 'weekly_wieght'"},
        {"{\"policy\": {\"weekly_weight\": 4}}", "unknown key 'policy'"},
        {"{\"weekly_weight\": \"4\"}", "'weekly_weight' must be a number between 0.1 and 100"},
        {"{\"weekly_weight\": null}", "'weekly_weight' must be a number"},
        {"{\"weekly_weight\": 0}", "'weekly_weight' must be a number between 0.1 and 100"},
        {"{\"switch_margin\": 101}", "'switch_margin' must be a number between 0 and 100"},
        {"{\"min_safe_headroom\": -1}", "'min_safe_headroom' must be"},
        {"{\"soft_cooldown_s\": 1.5}", "'soft_cooldown_s' must be a whole number of seconds"},
        {"{\"soft_cooldown_s\": 86401}", "between 0 and 86400"},
        {"{\"usage_max_age_s\": 59}", "'usage_max_age_s' must be a whole number"},
        {"{\"soft_headroom\": true}", "'soft_headroom' must be a number"},
        {"{\"auto_reset_credits\": 1}", "'auto_reset_credits' must be true or false"},
        {"{\"auto_reset_credits\": \"yes\"}", "'auto_reset_credits' must be true or false"},
        {"{\"auto_reset_credit\": true}", "unknown key 'auto_reset_credit'"},
        {"[1, 2]", "the top level must be a JSON object"},
        {"{\"weekly_weight\": 4,", "not valid JSON"},
        {"", "not valid JSON"},
};

static void test_bad_files(void **state)
{
	struct policy_config c;
	char err[512], prefix[300];

	(void)state;
	snprintf(prefix, sizeof(prefix), "'%s': ", path);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (load(bad[i].text, &c, err, sizeof(err)) != -EINVAL ||
		    strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, bad[i].want)) {
			print_error("config %s: got '%s'\n", bad[i].text, err);
			fail();
		}
	}
}

static void test_unreadable_path(void **state)
{
	struct policy_config c;
	char err[512];

	(void)state;
	/* A directory where the file should be: an error naming the path, not the defaults. */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(policy_config_load(path, &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, path));
	assert_int_equal(rmdir(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_missing_file_gives_defaults),
	        cmocka_unit_test(test_valid_file),
	        cmocka_unit_test(test_bad_files),
	        cmocka_unit_test(test_unreadable_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
