/* Which processes count as a plain codex running beside codex-switch. */
#include "doctor/codexproc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define ARGS(...)                             \
	((const char *const[]){__VA_ARGS__}), \
	        (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_plain_tui(void **state)
{
	(void)state;
	assert_int_equal(codexproc_classify(ARGS("codex"), true), CODEXPROC_PLAIN_TUI);
	assert_int_equal(codexproc_classify(ARGS("/usr/local/bin/codex", "resume", "--last"), true),
	                 CODEXPROC_PLAIN_TUI);
	/* a remote that is not our loopback proxy is still a plain TUI of this machine */
	assert_int_equal(codexproc_classify(ARGS("codex", "--remote", "wss://example.com"), true),
	                 CODEXPROC_PLAIN_TUI);
	assert_int_equal(codexproc_classify(ARGS("codex", "exec", "hi"), false), CODEXPROC_NO_TTY);
}

static void test_not_counted(void **state)
{
	(void)state;
	assert_int_equal(codexproc_classify(ARGS("codex-switch", "run"), true),
	                 CODEXPROC_NOT_CODEX);
	assert_int_equal(codexproc_classify(ARGS("node", "/usr/lib/node_modules/codex"), true),
	                 CODEXPROC_NOT_CODEX);
	assert_int_equal(codexproc_classify(ARGS("/opt/codex/bin/codexx"), true),
	                 CODEXPROC_NOT_CODEX);
	assert_int_equal(codexproc_classify(NULL, 0, true), CODEXPROC_NOT_CODEX);
	assert_int_equal(
	        codexproc_classify(ARGS("codex", "app-server", "--listen", "ws://127.0.0.1:4000"),
	                           true),
	        CODEXPROC_APP_SERVER);
	assert_int_equal(
	        codexproc_classify(
	                ARGS("/home/u/.vscode/extensions/openai.chatgpt-1.0/bin/codex", "mcp"),
	                true),
	        CODEXPROC_IDE);
	assert_int_equal(codexproc_classify(ARGS("/home/u/.cursor/ext/bin/codex"), true),
	                 CODEXPROC_IDE);
}

static void test_managed(void **state)
{
	(void)state;
	assert_int_equal(
	        codexproc_classify(ARGS("codex", "-C", "/w", "--remote", "ws://127.0.0.1:41234",
	                                "--remote-auth-token-env", "CS_TOKEN"),
	                           true),
	        CODEXPROC_MANAGED);
	assert_int_equal(codexproc_classify(ARGS("codex", "--remote=ws://127.0.0.1:9"), true),
	                 CODEXPROC_MANAGED);
	/* the Rust codex-switch's TUIs */
	assert_int_equal(
	        codexproc_classify(ARGS("codex", "--remote", "ws://localhost:1",
	                                "--remote-auth-token-env", "CODEX_SWITCH_REMOTE_TOKEN"),
	                           true),
	        CODEXPROC_MANAGED);
	/* ours on a unix socket, in a store's runtime directory; another unix remote is not */
	assert_int_equal(codexproc_classify(ARGS("codex", "--remote",
	                                         "unix:///h/.codex-switch/runtime/sock-42-tui"),
	                                    true),
	                 CODEXPROC_MANAGED);
	assert_int_equal(
	        codexproc_classify(ARGS("codex", "--remote", "unix:///tmp/daemon.sock"), true),
	        CODEXPROC_PLAIN_TUI);
	/* "--remote" as the last word has no value */
	assert_int_equal(codexproc_classify(ARGS("codex", "--remote"), true), CODEXPROC_PLAIN_TUI);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_tui),
	        cmocka_unit_test(test_not_counted),
	        cmocka_unit_test(test_managed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
