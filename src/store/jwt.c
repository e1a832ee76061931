#include "store/jwt.h"

#include "base/base64.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A payload larger than this is not an OpenAI token; refuse it before decoding. */
#define JWT_MAX_PART (64u * 1024)

#define CLAIM_PROFILE "https://api.openai.com/profile"
#define CLAIM_AUTH    "https://api.openai.com/auth"

/* Decodes one base64url part (padding optional) into a new NUL-terminated buffer. */
static int b64url_decode(const char *in, size_t len, char **out, size_t *outlen)
{
	unsigned char *dec;

	while (len > 0 && in[len - 1] == '=') {
		len--;
	}
	if (len == 0 || len > JWT_MAX_PART) {
		return -EINVAL;
	}
	dec = malloc(len / 4 * 3 + 3);
	if (!dec) {
		return -ENOMEM;
	}
	if (base64url_decode(in, len, dec, outlen) < 0) {
		free(dec);
		return -EINVAL;
	}
	dec[*outlen] = '\0';
	*out = (char *)dec;
	return 0;
}

/* Splits token into its three parts; only the payload's bounds are returned. */
static int split_token(const char *token, const char **payload, size_t *len)
{
	const char *dot1, *dot2;

	if (!token) {
		return -EINVAL;
	}
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2 || strchr(dot2 + 1, '.') || dot1 == token || dot2 == dot1 + 1 || !dot2[1]) {
		return -EINVAL;
	}
	*payload = dot1 + 1;
	*len = (size_t)(dot2 - dot1 - 1);
	return 0;
}

int jwt_payload(const char *token, cJSON **out)
{
	const char *part;
	size_t len, declen;
	char *json;
	cJSON *obj;
	int r = split_token(token, &part, &len);

	if (r) {
		return r;
	}
	r = b64url_decode(part, len, &json, &declen);
	if (r) {
		return r;
	}
	obj = cJSON_ParseWithLength(json, declen);
	util_free_secret(json);
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return -EINVAL;
	}
	*out = obj;
	return 0;
}

/* A copy of obj[key] when it is a non-empty string; NULL otherwise (or on -ENOMEM). */
static char *dup_string(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring[0] ? strdup(v->valuestring) : NULL;
}

static char *normalise_plan(char *plan)
{
	const char *to = NULL;

	if (plan && strcmp(plan, "hc") == 0) {
		to = "enterprise";
	} else if (plan && strcmp(plan, "education") == 0) {
		to = "edu";
	}
	if (!to) {
		return plan;
	}
	free(plan);
	return strdup(to);
}

static void read_auth_claims(const cJSON *auth, struct jwt_claims *c)
{
	const cJSON *until =
	        cJSON_GetObjectItemCaseSensitive(auth, "chatgpt_subscription_active_until");
	int64_t us;

	c->plan_type = normalise_plan(dup_string(auth, "chatgpt_plan_type"));
	c->user_id = dup_string(auth, "chatgpt_user_id");
	if (!c->user_id) {
		c->user_id = dup_string(auth, "user_id");
	}
	c->account_id = dup_string(auth, "chatgpt_account_id");
	c->fedramp =
	        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(auth, "chatgpt_account_is_fedramp"));
	if (cJSON_IsString(until) && util_parse_rfc3339(until->valuestring, &us) == 0) {
		c->subscription_expires_at = us;
	}
}

int jwt_claims(const char *token, struct jwt_claims *c)
{
	const cJSON *auth, *exp;
	cJSON *payload;
	int r;

	memset(c, 0, sizeof(*c));
	r = jwt_payload(token, &payload);
	if (r) {
		return r;
	}
	c->email = dup_string(payload, "email");
	if (!c->email) {
		c->email = dup_string(cJSON_GetObjectItemCaseSensitive(payload, CLAIM_PROFILE),
		                      "email");
	}
	auth = cJSON_GetObjectItemCaseSensitive(payload, CLAIM_AUTH);
	if (cJSON_IsObject(auth)) {
		read_auth_claims(auth, c);
	}
	exp = cJSON_GetObjectItemCaseSensitive(payload, "exp");
	if (cJSON_IsNumber(exp) && exp->valuedouble > 0 && exp->valuedouble < 1e15) {
		c->exp = (int64_t)exp->valuedouble;
	}
	cJSON_Delete(payload);
	return 0;
}

void jwt_claims_release(struct jwt_claims *c)
{
	free(c->email);
	free(c->plan_type);
	free(c->user_id);
	free(c->account_id);
	memset(c, 0, sizeof(*c));
}

int64_t jwt_exp(const char *token)
{
	struct jwt_claims c;
	int64_t exp;

	if (jwt_claims(token, &c)) {
		return 0;
	}
	exp = c.exp;
	jwt_claims_release(&c);
	return exp;
}
