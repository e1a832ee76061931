/*
 * The auth server's answers: the token response of a login or a refresh (oauth_parse_tokens,
 * token_apply_response onto a stored account, token_classify of an error body) and the
 * device-code answers. The device-code parsers are static in oauth.c, so it is included here
 * (the linker then takes nothing from oauth.o of cs_core).
 */
#include "../../src/net/oauth.c"

#include "store/account.h"
#include "fuzz_common.h"
#include "net/token.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static void apply_to_account(const char *body)
{
	struct account a = {0};

	a.kind = ACCOUNT_CHATGPT;
	a.id = strdup("0b4fa7bc-1f43-4a6e-9f0e-5a1f6d3c2b10");
	a.name = strdup("fuzz");
	a.access_token = strdup("old-access-token");
	a.refresh_token = strdup("old-refresh-token");
	if (!a.id || !a.name || !a.access_token || !a.refresh_token) {
		abort();
	}
	if (token_apply_response(&a, body) == 0 && !a.access_token && !a.id_token) {
		abort(); /* documented: a success carries an access token or an id token */
	}
	account_release(&a);
}

static void device_answers(const char *body)
{
	struct device d = {0};
	char *code = NULL, *verifier = NULL;
	cJSON *o;

	if (parse_usercode(body, &d) == 0 && (d.interval_s < 1 || d.interval_s > 60)) {
		abort();
	}
	device_release(&d);
	o = cJSON_Parse(body);
	if (dup_string(o, "authorization_code", &code) == 0) {
		(void)dup_string(o, "code_verifier", &verifier);
	}
	free(code);
	free(verifier);
	cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 400, 401, 403, 429, 500, 503, 0};
	struct oauth_tokens t = {0};
	const char *code = NULL;
	char *body;

	if (size < 1) {
		return 0;
	}
	body = fuzz_cstr(data + 1, size - 1);
	if (oauth_parse_tokens(body, &t) == 0 &&
	    (!t.id_token || !t.access_token || !t.refresh_token)) {
		abort();
	}
	oauth_tokens_release(&t);
	apply_to_account(body);
	(void)token_classify(statuses[data[0] % 8], body, &code);
	device_answers(body);
	free(body);
	return 0;
}
