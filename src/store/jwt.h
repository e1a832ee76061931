/*
 * Reading the claims of OpenAI JWTs (payload only; signatures are not checked: the tokens come
 * from our own store or from the auth server over TLS, and the server checks them).
 */
#ifndef CS_JWT_H
#define CS_JWT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct jwt_claims {
	char *email;
	char *plan_type; /* normalised: hc -> enterprise, education -> edu */
	char *user_id;   /* chatgpt_user_id, else user_id */
	char *account_id;
	bool fedramp;
	int64_t subscription_expires_at; /* Unix microseconds; 0 = none */
	int64_t exp;                     /* Unix seconds; 0 = none */
};

/*
 * Decodes the payload of a three-part JWT into a new cJSON object (*out, free with
 * cJSON_Delete). -EINVAL when the token is not three non-empty parts, not base64url, or not a
 * JSON object.
 */
int jwt_payload(const char *token, cJSON **out);

/* Reads the claims above. -EINVAL as jwt_payload. Release with jwt_claims_release(). */
int jwt_claims(const char *token, struct jwt_claims *c);
void jwt_claims_release(struct jwt_claims *c);

/* The `exp` claim of token in Unix seconds, or 0 when it cannot be read. */
int64_t jwt_exp(const char *token);

#endif
