#include "proxy/jsonrpc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static int scan(const char *s, struct jsonrpc_head *h)
{
	return jsonrpc_scan(s, strlen(s), true, h);
}

static void test_kinds(void **state)
{
	struct jsonrpc_head h;

	(void)state;
	assert_int_equal(scan("{\"id\":1,\"method\":\"initialize\",\"params\":{}}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_REQUEST);
	assert_string_equal(h.method, "initialize");
	assert_string_equal(h.id, "1");
	assert_false(h.id_is_string);
	assert_true(h.complete);

	assert_int_equal(scan("{\"method\":\"initialized\"}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_NOTIFICATION);
	assert_string_equal(h.id, "");
	assert_true(h.complete);

	assert_int_equal(scan("{\"id\":\"codex-switch/x/1\",\"result\":{\"a\":[1,2]}}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_RESPONSE);
	assert_string_equal(h.id, "\"codex-switch/x/1\"");
	assert_true(h.id_is_string);
	assert_true(jsonrpc_id_has_prefix(&h, "codex-switch/"));
	assert_false(jsonrpc_id_has_prefix(&h, "codex-switch/y"));

	assert_int_equal(scan("{\"id\":7,\"error\":{\"code\":-32000,\"message\":\"x\"}}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_RESPONSE);
	assert_false(jsonrpc_id_has_prefix(&h, ""));

	/* Neither method nor result: not JSON-RPC we know. */
	assert_int_equal(scan("{\"id\":7}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_UNKNOWN);
	assert_int_equal(scan("{}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_UNKNOWN);
	assert_true(h.complete);
}

static void test_id_types(void **state)
{
	static const char *ids[] = {
	        "0",         "-12",        "18446744073709551616123",
	        "1.5e3",     "null",       "true",
	        "\"\"",      "\"a\\\"b\"", "{\"x\":[1]}",
	        "[1,\"]\"]",
	};
	struct jsonrpc_head h;
	char msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		int n = snprintf(msg, sizeof(msg), "{\"id\" : %s , \"result\":null}", ids[i]);

		assert_true(n > 0 && (size_t)n < sizeof(msg));
		assert_int_equal(scan(msg, &h), 0);
		assert_int_equal(h.kind, JSONRPC_RESPONSE);
		assert_string_equal(h.id, ids[i]);
		assert_int_equal(h.id_is_string, ids[i][0] == '"');
	}
}

static void test_key_order_and_nesting(void **state)
{
	struct jsonrpc_head h;

	(void)state;
	/* Nested objects with "method"/"id" keys before the top-level ones must be skipped. */
	assert_int_equal(
	        scan("{\"x\":{\"method\":\"no\",\"id\":9,\"s\":\"}{\\\"\"},\"arr\":[{\"id\":"
	             "1},[]],\"method\":\"yes\",\"jsonrpc\":\"2.0\"}",
	             &h),
	        0);
	assert_int_equal(h.kind, JSONRPC_NOTIFICATION);
	assert_string_equal(h.method, "yes");
	assert_string_equal(h.id, "");

	assert_int_equal(scan("{\"params\":{\"id\":1},\"method\":\"m\",\"id\":\"q\"}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_REQUEST);
	assert_string_equal(h.id, "\"q\"");

	/* A response whose result comes first. */
	assert_int_equal(scan("{\"result\":{\"method\":\"x\"},\"id\":3}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_RESPONSE);
	assert_string_equal(h.method, "");
}

static void test_escapes(void **state)
{
	struct jsonrpc_head h;

	(void)state;
	assert_int_equal(scan("{\"me\\\"thod\":\"a\",\"method\":\"acc\\u006funt\\/x\\\"\"}", &h),
	                 0);
	assert_string_equal(h.method, "account/x\"");
	/* An escaped key name is the same key. */
	assert_int_equal(scan("{\"\\u006dethod\":\"m\",\"i\\u0064\":2}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_REQUEST);
	assert_string_equal(h.id, "2");
	assert_int_equal(scan("{\"method\":\"\\u00e9\"}", &h), 0);
	assert_string_equal(h.method, "\xc3\xa9");
}

static void test_truncated_method(void **state)
{
	struct jsonrpc_head h;
	char msg[512];
	char longm[300];

	(void)state;
	memset(longm, 'm', sizeof(longm) - 1);
	longm[sizeof(longm) - 1] = '\0';
	snprintf(msg, sizeof(msg), "{\"method\":\"%s\"}", longm);
	assert_int_equal(scan(msg, &h), 0);
	assert_true(h.method_truncated);
	assert_int_equal(strlen(h.method), sizeof(h.method) - 1);
}

static void test_early_decision(void **state)
{
	static const char notif[] = "{\"method\":\"item/delta\",\"params\":{\"text\":\"xxxxxxxx";
	static const char resp[] = "{\"id\":5,\"result\":{\"data\":\"xxxxxxx";
	struct jsonrpc_head h;

	(void)state;
	/* Decided at "params" without seeing the (huge) rest. */
	assert_int_equal(jsonrpc_scan(notif, strlen(notif), false, &h), 0);
	assert_int_equal(h.kind, JSONRPC_NOTIFICATION);
	assert_false(h.complete);
	assert_int_equal(jsonrpc_scan(resp, strlen(resp), false, &h), 0);
	assert_int_equal(h.kind, JSONRPC_RESPONSE);
	assert_false(h.complete);
	/* Not enough to decide yet. */
	assert_int_equal(jsonrpc_scan("{\"id\":12", 8, false, &h), -EAGAIN);
	assert_int_equal(jsonrpc_scan("{\"x\":[1,2", 9, false, &h), -EAGAIN);
	assert_int_equal(jsonrpc_scan("", 0, false, &h), -EAGAIN);
	/* The same prefixes as the whole text are not objects. */
	assert_int_equal(jsonrpc_scan("{\"id\":12", 8, true, &h), -EINVAL);
	assert_int_equal(jsonrpc_scan("", 0, true, &h), -EINVAL);
}

/* Every split point of a message gives either "need more" or the answer of the whole. */
static void check_prefixes(const char *msg, enum jsonrpc_kind kind, const char *method,
                           const char *id)
{
	struct jsonrpc_head h;
	size_t len = strlen(msg);
	bool decided = false;

	for (size_t n = 0; n <= len; n++) {
		int r = jsonrpc_scan(msg, n, n == len, &h);

		if (r == -EAGAIN) {
			assert_false(decided); /* once decided, more bytes never undecide */
			continue;
		}
		assert_int_equal(r, 0);
		decided = true;
		assert_int_equal(h.kind, kind);
		assert_string_equal(h.method, method);
		assert_string_equal(h.id, id);
	}
	assert_true(decided);
}

static void test_chunked(void **state)
{
	(void)state;
	check_prefixes("{\"id\":\"codex-switch/u/12\",\"method\":\"account/chatgptAuthTokens/"
	               "refresh\",\"params\":{\"reason\":\"unauthorized\"}}",
	               JSONRPC_REQUEST, "account/chatgptAuthTokens/refresh",
	               "\"codex-switch/u/12\"");
	check_prefixes(" { \"a\" : [ { \"b\" : \"\\\\\\\"\" } ] , \"method\" : \"e\\u0072ror\" ,"
	               " \"params\" : { } } ",
	               JSONRPC_NOTIFICATION, "error", "");
	check_prefixes("{\"id\":123456789012345678901234567890,\"result\":{}}", JSONRPC_RESPONSE,
	               "", "123456789012345678901234567890");
	check_prefixes("{\"method\":\"initialized\"}", JSONRPC_NOTIFICATION, "initialized", "");
}

static void test_garbage(void **state)
{
	static const char *bad[] = {
	        "[1,2]",
	        "\"str\"",
	        "42",
	        "nul",
	        "{\"a\" 1}",
	        "{\"a\":1 \"b\":2}",
	        "{a:1}",
	        "{\"method\":\"x\\q\"}",
	        "{\"a\":}",
	        "{\"a\":1,}",
	        "\xff\xfe{}",
	        "{\"id\":\"\\u12G4\"}",
	        "{\"method\":1",
	        "}",
	};
	struct jsonrpc_head h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(scan(bad[i], &h), -EINVAL);
		assert_int_equal(h.kind, JSONRPC_UNKNOWN);
	}
	/* Bytes that are not UTF-8 inside strings are not the scanner's business. */
	assert_int_equal(scan("{\"method\":\"\xff\xfe\",\"id\":1}", &h), 0);
	assert_int_equal(h.kind, JSONRPC_REQUEST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kinds),
	        cmocka_unit_test(test_id_types),
	        cmocka_unit_test(test_key_order_and_nesting),
	        cmocka_unit_test(test_escapes),
	        cmocka_unit_test(test_truncated_method),
	        cmocka_unit_test(test_early_decision),
	        cmocka_unit_test(test_chunked),
	        cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
