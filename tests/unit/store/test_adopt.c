/* store/adopt: what auth.json holds is taken in before anything overwrites it (issue #15). */
#define _GNU_SOURCE /* nftw */
#include "store/adopt.h"
#include "store/authjson.h"
#include "base/fileio.h"
#include "base/util.h"

#include "fake_jwt.h"
#include "tmpstore.h"

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

static char dir[] = "/tmp/cs-adopt-XXXXXX";
static struct paths paths;

static int setup(void **state)
{
	(void)state;
	return tmpstore_setup(dir, NULL, true, &paths);
}

static int teardown(void **state)
{
	(void)state;
	tmpstore_teardown(dir, &paths);
	return 0;
}

/* auth.json for a ChatGPT login of email in workspace ws with refresh token rt. */
static void write_login(const char *email, const char *ws, const char *rt, const char *when)
{
	char *idt = fake_id_token(email, "u-1", ws, "pro");
	char *text = util_printf("{\"auth_mode\":\"chatgpt\",\"OPENAI_API_KEY\":null,\"tokens\":{"
	                         "\"id_token\":\"%s\",\"access_token\":\"at-%s\",\"refresh_token\":"
	                         "\"%s\"},\"last_refresh\":\"%s\"}",
	                         idt, rt, rt, when);

	assert_int_equal(fileio_write_atomic(paths.auth_json, text, strlen(text)), 0);
	free(idt);
	free(text);
}

static void add_named(struct store *s, const char *name, const char *email, const char *ws)
{
	struct account a = {0};
	char err[256];

	write_login(email, ws, name, "2026-01-01T00:00:00Z");
	assert_int_equal(authjson_read(paths.auth_json, &a, err, sizeof(err)), 0);
	a.id = util_printf("id-%s", name);
	a.name = strdup(name);
	assert_int_equal(store_add(s, &a), 0);
	account_release(&a);
}

static void test_missing(void **state)
{
	struct store s = {0};
	struct adopt_result r;

	(void)state;
	unlink(paths.auth_json);
	assert_int_equal(adopt_in_store(&paths, &s, &r), 0);
	assert_int_equal(r.kind, ADOPT_NOTHING);
	assert_int_equal(r.index, -1);
	assert_string_equal(r.message, "");
}

static void test_unknown_login_named_uniquely(void **state)
{
	struct store s = {0};
	struct adopt_result r;

	(void)state;
	add_named(&s, "carol", "x@example.com", "ws-x");
	add_named(&s, "carol-2", "y@example.com", "ws-y");
	write_login("carol@example.com", "ws-c", "rt-c", "2026-01-02T00:00:00Z");
	assert_int_equal(adopt_in_store(&paths, &s, &r), 1);
	assert_int_equal(r.kind, ADOPT_ADDED);
	assert_int_equal(r.index, 2);
	assert_string_equal(s.accounts[2].name, "carol-3");
	assert_string_equal(s.accounts[2].refresh_token, "rt-c");
	assert_string_equal(r.id, s.accounts[2].id);
	assert_true(s.accounts[2].last_used_at > 0);
	assert_non_null(strstr(r.message, "held carol@example.com, which was not stored"));
	assert_non_null(strstr(r.message, "stored now as carol-3 ("));
	assert_null(strstr(r.message, "rt-c"));
	/* Stored now: the same file again is nothing new. */
	assert_int_equal(adopt_in_store(&paths, &s, &r), 0);
	assert_int_equal(r.kind, ADOPT_NOTHING);
	assert_int_equal(r.index, 2);
	store_release(&s);
}

static void test_odd_email_names(void **state)
{
	struct store s = {0};
	struct adopt_result r;

	(void)state;
	write_login("a b\\tc@example.com", "ws-1", "rt-1", "2026-01-02T00:00:00Z");
	assert_int_equal(adopt_in_store(&paths, &s, &r), 1);
	assert_string_equal(s.accounts[0].name, "a-b-c");
	write_login("@example.com", "ws-2", "rt-2", "2026-01-02T00:00:00Z");
	assert_int_equal(adopt_in_store(&paths, &s, &r), 1);
	assert_string_equal(s.accounts[1].name, "account");
	store_release(&s);
}

static void test_newer_tokens(void **state)
{
	struct store s = {0};
	struct adopt_result r;

	(void)state;
	add_named(&s, "alice", "alice@example.com", "ws-a");
	write_login("alice@example.com", "ws-a", "rt-old", "2025-01-01T00:00:00Z");
	assert_int_equal(adopt_in_store(&paths, &s, &r), 0); /* older: the store's stay */
	assert_string_equal(s.accounts[0].refresh_token, "alice");
	write_login("alice@example.com", "ws-a", "rt-new", "2027-01-01T00:00:00Z");
	assert_int_equal(adopt_in_store(&paths, &s, &r), 1);
	assert_int_equal(r.kind, ADOPT_REFRESHED);
	assert_int_equal(r.index, 0);
	assert_string_equal(s.accounts[0].refresh_token, "rt-new");
	assert_string_equal(s.accounts[0].name, "alice");
	assert_string_equal(r.message, "");
	store_release(&s);
}

static int count_backups(char *first, size_t firstsz)
{
	char *cmd = util_printf("ls %s/auth-backup-*.json 2>/dev/null", paths.store_dir);
	FILE *f = popen(cmd, "r");
	char line[1024];
	int n = 0;

	free(cmd);
	while (f && fgets(line, sizeof(line), f)) {
		if (n++ == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(first, firstsz, "%s", line);
		}
	}
	if (f) {
		pclose(f);
	}
	return n;
}

static void test_api_key_copied_once(void **state)
{
	const char *key =
	        "{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-unit-adopt-0123456789\"}";
	struct store s = {0};
	struct adopt_result r;
	char first[1024] = "", *copy;
	size_t len;
	struct stat st;

	(void)state;
	assert_int_equal(fileio_write_atomic(paths.auth_json, key, strlen(key)), 0);
	assert_int_equal(adopt_in_store(&paths, &s, &r), 0);
	assert_int_equal(r.kind, ADOPT_COPIED);
	assert_int_equal(count_backups(first, sizeof(first)), 1);
	assert_non_null(strstr(r.message, first));
	assert_null(strstr(r.message, "sk-unit"));
	assert_int_equal(fileio_read(first, 4096, &copy, &len), 0);
	assert_string_equal(copy, key);
	free(copy);
	assert_int_equal(stat(first, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(adopt_in_store(&paths, &s, &r), 0);
	assert_int_equal(r.kind, ADOPT_NOTHING);
	assert_int_equal(count_backups(first, sizeof(first)), 1);
	/* Broken JSON is a different file: copied as well. */
	assert_int_equal(fileio_write_atomic(paths.auth_json, "{", 1), 0);
	assert_int_equal(adopt_in_store(&paths, &s, &r), 0);
	assert_int_equal(r.kind, ADOPT_COPIED);
	assert_non_null(strstr(r.message, "a file it cannot parse"));
	assert_int_equal(count_backups(first, sizeof(first)), 2);
	assert_int_equal(s.n, 0);
}

static void test_transaction_saves(void **state)
{
	struct adopt_result r;
	struct store s = {0};
	char err[256];

	(void)state;
	unlink(paths.accounts);
	write_login("dave@example.com", "ws-d", "rt-d", "2026-01-02T00:00:00Z");
	assert_int_equal(adopt_authjson(&paths, &r), 0);
	assert_int_equal(r.kind, ADOPT_ADDED);
	assert_int_equal(store_load(&paths, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.accounts[0].name, "dave");
	assert_string_equal(s.accounts[0].id, r.id);
	store_release(&s);
}

/* The store's mtime in ns: a lock file created or removed in it changes that. */
static long long store_mtime(void)
{
	struct stat st;

	assert_int_equal(stat(paths.store_dir, &st), 0);
	return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

static void age_store_dir(void)
{
	struct timespec t[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};

	assert_int_equal(utimensat(AT_FDCWD, paths.store_dir, t, 0), 0);
}

/* A login stored already, with tokens no newer, is settled without the store's lock; newer
 * tokens still go through it. */
static void test_known_login_takes_no_lock(void **state)
{
	struct adopt_result r;
	char id[sizeof(r.id)];
	long long before;

	(void)state;
	unlink(paths.accounts);
	write_login("erin@example.com", "ws-e", "rt-e", "2026-01-02T00:00:00Z");
	assert_int_equal(adopt_authjson(&paths, &r), 0);
	assert_int_equal(r.kind, ADOPT_ADDED);
	snprintf(id, sizeof(id), "%s", r.id);
	age_store_dir();
	before = store_mtime();
	assert_int_equal(adopt_authjson(&paths, &r), 0);
	assert_int_equal(r.kind, ADOPT_NOTHING);
	assert_string_equal(r.id, id);
	assert_string_equal(r.message, "");
	assert_true(store_mtime() == before);
	unlink(paths.auth_json);
	assert_int_equal(adopt_authjson(&paths, &r), 0);
	assert_int_equal(r.kind, ADOPT_NOTHING);
	assert_true(store_mtime() == before);
	write_login("erin@example.com", "ws-e", "rt-e2", "2027-01-02T00:00:00Z");
	age_store_dir();
	before = store_mtime();
	assert_int_equal(adopt_authjson(&paths, &r), 0);
	assert_int_equal(r.kind, ADOPT_REFRESHED);
	assert_true(store_mtime() != before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_missing),
	        cmocka_unit_test(test_unknown_login_named_uniquely),
	        cmocka_unit_test(test_odd_email_names),
	        cmocka_unit_test(test_newer_tokens),
	        cmocka_unit_test(test_api_key_copied_once),
	        cmocka_unit_test(test_transaction_saves),
	        cmocka_unit_test(test_known_login_takes_no_lock),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
