#include "net/http.h"
#include "base/util.h"
#include "base/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_url_allowed(void **state)
{
	(void)state;
	assert_true(http_url_allowed("https://auth.openai.com/oauth/token"));
	assert_true(http_url_allowed("http://127.0.0.1:8080/x"));
	assert_true(http_url_allowed("http://127.0.0.1/x"));
	assert_false(http_url_allowed("http://auth.openai.com/oauth/token"));
	assert_false(http_url_allowed("http://127.0.0.1.evil.example/x"));
	assert_false(http_url_allowed("http://localhost:80/"));
	assert_false(http_url_allowed("ftp://x"));
	assert_false(http_url_allowed("https://"));
	assert_false(http_url_allowed(NULL));
}

static void test_refuses_plain_http(void **state)
{
	struct http_request req = {"GET", "http://example.com/", NULL, NULL, 0, 1000, 1024};
	struct http_response r;
	char err[128];

	(void)state;
	assert_int_equal(http_perform(&req, &r, err, sizeof(err)), -EINVAL);
	assert_null(r.body);
}

static void test_redacts_given_secrets(void **state)
{
	const char *secrets[] = {"rt_secret/value+1", NULL, "sk-abcdefghijkl"};
	const char *body = "{\"error\":\"invalid_grant\",\"refresh_token\":\"rt_secret/value+1\","
	                   "\"echo\":\"rt_secret%2Fvalue%2B1\",\"key\":\"sk-abcdefghijkl\"}";
	char *out = http_redact_body(body, secrets, 3);

	(void)state;
	assert_non_null(out);
	assert_null(strstr(out, "rt_secret"));
	assert_null(strstr(out, "sk-abcdef"));
	assert_non_null(strstr(out, "invalid_grant"));
	assert_non_null(strstr(out, "\"echo\":\"<redacted>\""));
	free(out);
}

static void test_redacts_jwts_and_registered(void **state)
{
	const char *body = "token eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln and "
	                   "registered-secret-123 and a\nnewline";
	char *out;

	(void)state;
	log_add_secret("registered-secret-123");
	out = http_redact_body(body, NULL, 0);
	assert_non_null(out);
	assert_null(strstr(out, "eyJ"));
	assert_null(strstr(out, "registered-secret"));
	assert_null(strchr(out, '\n'));
	free(out);
	log_forget_secrets();
}

static void test_truncates(void **state)
{
	char *big = malloc(10000), *out;

	(void)state;
	memset(big, 'a', 9999);
	big[9999] = '\0';
	out = http_redact_body(big, NULL, 0);
	assert_int_equal(strlen(out), HTTP_ERR_BODY_MAX + 3);
	assert_string_equal(out + HTTP_ERR_BODY_MAX, "...");
	free(out);
	/* never in the middle of a UTF-8 character */
	memset(big, 'a', 9999);
	memcpy(big + HTTP_ERR_BODY_MAX - 1, "\xc3\xa9", 2);
	out = http_redact_body(big, NULL, 0);
	assert_int_equal(strlen(out), HTTP_ERR_BODY_MAX - 1 + 3);
	free(out);
	free(big);
}

static void test_urlencode(void **state)
{
	char *e = util_urlencode("a b&c=d/é~._-");

	(void)state;
	assert_string_equal(e, "a%20b%26c%3Dd%2F%C3%A9~._-");
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_url_allowed),
	        cmocka_unit_test(test_refuses_plain_http),
	        cmocka_unit_test(test_redacts_given_secrets),
	        cmocka_unit_test(test_redacts_jwts_and_registered),
	        cmocka_unit_test(test_truncates),
	        cmocka_unit_test(test_urlencode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
