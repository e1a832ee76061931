#define _GNU_SOURCE /* setenv, mkdtemp, nftw */
#include "net/endpoints.h"

#include "tmpdir.h"
#include "base/util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char dir[64];

static char *write_toml(const char *text)
{
	char *path = util_printf("%s/config.toml", dir);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cs-endpoints-XXXXXX");
	assert_non_null(mkdtemp(dir));
	unsetenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE");
	unsetenv("CODEX_SWITCH_AUTH_BASE_URL");
	unsetenv("CODEX_SWITCH_CHATGPT_BASE_URL");
	unsetenv("CODEX_INTERNAL_ORIGINATOR_OVERRIDE");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

static void check(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_refresh_override(void **state)
{
	(void)state;
	check(endpoints_refresh_url(), "https://auth.openai.com/oauth/token");
	setenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE", "  https://127.0.0.1:9/oauth/token \n", 1);
	check(endpoints_refresh_url(), "https://127.0.0.1:9/oauth/token");
	setenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE", "   ", 1);
	check(endpoints_refresh_url(), "https://auth.openai.com/oauth/token");
	unsetenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE");
}

static void test_issuer_override(void **state)
{
	(void)state;
	check(endpoints_issuer(), "https://auth.openai.com");
	setenv("CODEX_SWITCH_AUTH_BASE_URL", "https://127.0.0.1:5/", 1);
	check(endpoints_issuer(), "https://127.0.0.1:5");
	unsetenv("CODEX_SWITCH_AUTH_BASE_URL");
}

static void test_chatgpt_base(void **state)
{
	struct paths p = {0};

	(void)state;
	check(endpoints_chatgpt_base(NULL), "https://chatgpt.com/backend-api");
	p.codex_config = util_printf("%s/missing.toml", dir);
	check(endpoints_chatgpt_base(&p), "https://chatgpt.com/backend-api");
	free(p.codex_config);
	p.codex_config = write_toml("model = \"o3\"\nchatgpt_base_url = \"https://x.test/api/\"\n");
	check(endpoints_chatgpt_base(&p), "https://x.test/api");
	setenv("CODEX_SWITCH_CHATGPT_BASE_URL", "https://env.test/backend-api", 1);
	check(endpoints_chatgpt_base(&p), "https://env.test/backend-api");
	unsetenv("CODEX_SWITCH_CHATGPT_BASE_URL");
	free(p.codex_config);
}

static void test_toml_reader(void **state)
{
	char *path, *v;

	(void)state;
	path = write_toml("# comment\n  chatgpt_base_url   =   'https://lit.test' # trailing\n");
	assert_int_equal(endpoints_toml_string(path, "chatgpt_base_url", &v), 0);
	assert_string_equal(v, "https://lit.test");
	free(v);
	free(path);
	path = write_toml("\"chatgpt_base_url\" = \"a\\\"b\\\\c\"\n");
	assert_int_equal(endpoints_toml_string(path, "chatgpt_base_url", &v), 0);
	assert_string_equal(v, "a\"b\\c");
	free(v);
	free(path);
	/* keys inside a table are not top-level */
	path = write_toml("[profiles.x]\nchatgpt_base_url = \"https://no.test\"\n");
	assert_int_equal(endpoints_toml_string(path, "chatgpt_base_url", &v), -ENOENT);
	free(path);
	/* a longer key with the same prefix is another key */
	path = write_toml("chatgpt_base_url_v2 = \"https://no.test\"\n");
	assert_int_equal(endpoints_toml_string(path, "chatgpt_base_url", &v), -ENOENT);
	free(path);
	path = write_toml("chatgpt_base_url = 42\n");
	assert_int_equal(endpoints_toml_string(path, "chatgpt_base_url", &v), -EINVAL);
	free(path);
	path = util_printf("%s/nope.toml", dir);
	assert_int_equal(endpoints_toml_string(path, "chatgpt_base_url", &v), -ENOENT);
	free(path);
}

static void test_headers(void **state)
{
	char *ua;

	(void)state;
	check(endpoints_originator(), "codex_cli_rs");
	setenv("CODEX_INTERNAL_ORIGINATOR_OVERRIDE", "codex_vscode", 1);
	check(endpoints_originator(), "codex_vscode");
	unsetenv("CODEX_INTERNAL_ORIGINATOR_OVERRIDE");
	setenv("TERM_PROGRAM", "tmux", 1);
	setenv("TERM_PROGRAM_VERSION", "3.3a", 1);
	endpoints_set_codex_version("0.169.0");
	ua = endpoints_user_agent();
	assert_true(util_starts_with(ua, "codex_cli_rs/0.169.0 ("));
	assert_non_null(strstr(ua, "; "));
	assert_non_null(strstr(ua, ") tmux/3.3a"));
	free(ua);
	setenv("TERM_PROGRAM", "bad prog\r\n", 1);
	unsetenv("TERM_PROGRAM_VERSION");
	ua = endpoints_user_agent();
	assert_null(strchr(ua, '\r'));
	assert_non_null(strstr(ua, ") bad_prog__"));
	free(ua);
}

/* The OS part codex's User-Agent shows for an os-release file, or "-errno". */
static void os_is(const char *os_release, const char *want)
{
	char *path = write_toml(os_release), out[128];
	int r = endpoints_os_token(path, out, sizeof(out));

	if (r) {
		snprintf(out, sizeof(out), "%d", r);
	}
	assert_string_equal(out, want);
	free(path);
}

static void test_os_token(void **state)
{
	char err[16];

	(void)state;
	os_is("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n",
	      "Debian 12.0.0");
	os_is("NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n",
	      "Ubuntu 22.4.0");
	os_is("ID='fedora'\nVERSION_ID=40\n", "Fedora 40.0.0");
	os_is("ID=alpine\nVERSION_ID=3.19.1\n", "Alpine Linux 3.19.1");
	os_is("ID=arch\nBUILD_ID=rolling\n", "Arch Linux Unknown");
	os_is("ID=opensuse-tumbleweed\nVERSION_ID=\"20241201\"\n", "openSUSE 20241201.0.0");
	os_is("ID=rhel\nVERSION_ID=\"9.4.1.2\"\n", "Red Hat Enterprise Linux 9.4.1.2");
	os_is("ID=linuxmint\nVERSION_ID=\"21.3b\"\n", "Linux Mint 21.3b");
	/* a distribution codex does not name, or no ID: the caller falls back to uname */
	snprintf(err, sizeof(err), "%d", -ENOENT);
	os_is("ID=someos\nVERSION_ID=1\n", err);
	os_is("VERSION_ID=1\n", err);
	/* IDS= is not ID= */
	os_is("IDS=debian\n", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refresh_override), cmocka_unit_test(test_issuer_override),
	        cmocka_unit_test(test_chatgpt_base),     cmocka_unit_test(test_toml_reader),
	        cmocka_unit_test(test_headers),          cmocka_unit_test(test_os_token),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
