#include "store/jwt.h"

#include "fake_jwt.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_reads_every_claim(void **state)
{
	char *t = fake_jwt("{\"email\":\"a@example.com\",\"exp\":1800000000,"
	                   "\"https://api.openai.com/auth\":{\"chatgpt_plan_type\":\"hc\","
	                   "\"chatgpt_user_id\":\"user-1\",\"user_id\":\"ignored\","
	                   "\"chatgpt_account_id\":\"acct-1\",\"chatgpt_account_is_fedramp\":true,"
	                   "\"chatgpt_subscription_active_until\":\"2026-06-01T00:00:00Z\"}}");
	struct jwt_claims c;

	(void)state;
	assert_int_equal(jwt_claims(t, &c), 0);
	assert_string_equal(c.email, "a@example.com");
	assert_string_equal(c.plan_type, "enterprise");
	assert_string_equal(c.user_id, "user-1");
	assert_string_equal(c.account_id, "acct-1");
	assert_true(c.fedramp);
	assert_int_equal(c.subscription_expires_at, 1780272000LL * 1000000);
	assert_int_equal(c.exp, 1800000000);
	assert_int_equal(jwt_exp(t), 1800000000);
	jwt_claims_release(&c);
	free(t);
}

static void test_fallbacks_and_normalisation(void **state)
{
	char *t = fake_jwt("{\"https://api.openai.com/profile\":{\"email\":\"p@example.com\"},"
	                   "\"https://api.openai.com/auth\":{\"chatgpt_plan_type\":\"education\","
	                   "\"user_id\":\"user-2\",\"chatgpt_subscription_active_until\":12}}");
	struct jwt_claims c;

	(void)state;
	assert_int_equal(jwt_claims(t, &c), 0);
	assert_string_equal(c.email, "p@example.com");
	assert_string_equal(c.plan_type, "edu");
	assert_string_equal(c.user_id, "user-2");
	assert_null(c.account_id);
	assert_false(c.fedramp);
	assert_int_equal(c.subscription_expires_at, 0); /* not a string: ignored */
	assert_int_equal(c.exp, 0);
	jwt_claims_release(&c);
	free(t);
}

static void test_payload_is_an_object(void **state)
{
	char *t = fake_jwt("{\"sub\":\"x\"}");
	cJSON *obj;

	(void)state;
	assert_int_equal(jwt_payload(t, &obj), 0);
	assert_string_equal(cJSON_GetObjectItem(obj, "sub")->valuestring, "x");
	cJSON_Delete(obj);
	free(t);
}

static void test_padding_is_accepted(void **state)
{
	cJSON *obj;

	(void)state;
	/* base64 of {"a":1} is eyJhIjoxfQ== */
	assert_int_equal(jwt_payload("h.eyJhIjoxfQ==.s", &obj), 0);
	cJSON_Delete(obj);
	assert_int_equal(jwt_payload("h.eyJhIjoxfQ.s", &obj), 0);
	cJSON_Delete(obj);
}

static void test_malformed_tokens(void **state)
{
	const char *bad[] = {
	        "",
	        "abc",
	        "h.eyJhIjoxfQ",     /* two parts */
	        "h.eyJhIjoxfQ.s.x", /* four parts */
	        ".eyJhIjoxfQ.s",    /* empty header */
	        "h..s",             /* empty payload */
	        "h.eyJhIjoxfQ.",    /* empty signature */
	        "h.eyJh!joxfQ.s",   /* not base64 */
	        "h.eyJh+joxfQ.s",   /* standard alphabet, not base64url */
	        "h.eyJh Ijox fQ.s", /* whitespace */
	        "h.e.s",            /* impossible length */
	        "h.WzEsMl0.s",      /* [1,2]: not an object */
	        "h.bm90IGpzb24.s",  /* "not json" */
	        "h.eyJh=IjoxfQ.s",  /* padding in the middle */
	};
	struct jwt_claims c;
	cJSON *obj = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(jwt_payload(bad[i], &obj), -EINVAL);
		assert_int_equal(jwt_claims(bad[i], &c), -EINVAL);
		assert_int_equal(jwt_exp(bad[i]), 0);
	}
	assert_int_equal(jwt_payload(NULL, &obj), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reads_every_claim),
	        cmocka_unit_test(test_fallbacks_and_normalisation),
	        cmocka_unit_test(test_payload_is_an_object),
	        cmocka_unit_test(test_padding_is_accepted),
	        cmocka_unit_test(test_malformed_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
