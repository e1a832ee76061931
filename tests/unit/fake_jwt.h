/* Unsigned JWTs for tests: base64url (via OpenSSL) of a header and a JSON payload. */
#ifndef CS_TEST_FAKE_JWT_H
#define CS_TEST_FAKE_JWT_H

#include "base/util.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* base64url without padding of len bytes; caller frees. */
static inline char *fake_b64url(const char *data, size_t len)
{
	char *out = malloc(len / 3 * 4 + 8);
	int n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);

	while (n > 0 && out[n - 1] == '=') {
		n--;
	}
	out[n] = '\0';
	for (char *p = out; *p; p++) {
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	}
	return out;
}

/* "<header>.<payload>.c2lnbmF0dXJl"; caller frees. */
static inline char *fake_jwt(const char *payload_json)
{
	const char *head = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
	char *h = fake_b64url(head, strlen(head));
	char *p = fake_b64url(payload_json, strlen(payload_json));
	char *jwt = util_printf("%s.%s.c2lnbmF0dXJl", h, p);

	free(h);
	free(p);
	return jwt;
}

/* An id token for a ChatGPT user in a workspace. Caller frees. */
static inline char *fake_id_token(const char *email, const char *user, const char *account,
                                  const char *plan)
{
	char *payload = util_printf("{\"email\":\"%s\",\"exp\":4102444800,"
	                            "\"https://api.openai.com/auth\":{\"chatgpt_plan_type\":\"%s\","
	                            "\"chatgpt_user_id\":\"%s\",\"chatgpt_account_id\":\"%s\"}}",
	                            email, plan, user, account);
	char *jwt = fake_jwt(payload);

	free(payload);
	return jwt;
}

#endif
