#include "store/account.h"

#include "store/jwt.h"
#include "base/log.h"
#include "base/termsafe.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Rust tool's serde spelling of its ChatGPT variant; "chatgpt" is accepted on read. */
#define TYPE_CHATGPT      "chat_g_p_t"
#define TYPE_CHATGPT_ALT  "chatgpt"
#define TYPE_API_KEY      "api_key"
#define ACCOUNT_MAX_FIELD 200

/* account_from_json's *why points here, so each thread keeps its own description. */
static _Thread_local char why_buf[ACCOUNT_MAX_FIELD];

static int fail(const char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	*why = why_buf;
	return -EINVAL;
}

/*
 * Reads obj[key] as a string into *out (a copy). Absent or null gives NULL unless required.
 * Returns -EINVAL with *why set when the field is missing or not a string.
 */
static int read_string(const cJSON *obj, const char *key, bool required, char **out,
                       const char **why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v)) {
		return required ? fail(why, "missing field '%s'", key) : 0;
	}
	if (!cJSON_IsString(v)) {
		return fail(why, "field '%s' is not a string", key);
	}
	*out = strdup(v->valuestring);
	return *out ? 0 : -ENOMEM;
}

static int read_bool(const cJSON *obj, const char *key, bool *out, const char **why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = false;
	if (!v || cJSON_IsNull(v)) {
		return 0;
	}
	if (!cJSON_IsBool(v)) {
		return fail(why, "field '%s' is not true or false", key);
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

static int read_time(const cJSON *obj, const char *key, bool required, int64_t *out,
                     const char **why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = 0;
	if (!v || cJSON_IsNull(v)) {
		return required ? fail(why, "missing field '%s'", key) : 0;
	}
	if (!cJSON_IsString(v) || util_parse_rfc3339(v->valuestring, out)) {
		return fail(why, "field '%s' is not an RFC 3339 time", key);
	}
	return 0;
}

static int kind_from_type(const char *type, enum account_kind *kind)
{
	if (strcmp(type, TYPE_API_KEY) == 0) {
		*kind = ACCOUNT_API_KEY;
	} else if (strcmp(type, TYPE_CHATGPT) == 0 || strcmp(type, TYPE_CHATGPT_ALT) == 0) {
		*kind = ACCOUNT_CHATGPT;
	} else {
		return -EINVAL;
	}
	return 0;
}

static void register_secrets(const struct account *a)
{
	log_add_secret(a->api_key);
	log_add_secret(a->id_token);
	log_add_secret(a->access_token);
	log_add_secret(a->refresh_token);
}

static int read_auth_data(const cJSON *obj, struct account *a, const char **why)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "auth_data");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(data, "type");
	int r;

	if (!cJSON_IsObject(data)) {
		return fail(why, "missing field '%s'", "auth_data");
	}
	if (!cJSON_IsString(type) || kind_from_type(type->valuestring, &a->kind)) {
		return fail(why, "field '%s' is not 'api_key' or 'chat_g_p_t'", "auth_data.type");
	}
	if (a->kind == ACCOUNT_API_KEY) {
		return read_string(data, "key", true, &a->api_key, why);
	}
	r = read_string(data, "id_token", true, &a->id_token, why);
	if (!r) {
		r = read_string(data, "access_token", true, &a->access_token, why);
	}
	if (!r) {
		r = read_string(data, "refresh_token", true, &a->refresh_token, why);
	}
	if (!r) {
		r = read_string(data, "account_id", false, &a->chatgpt_account_id, why);
	}
	return r;
}

/* auth_mode is redundant with auth_data.type; when present the two must agree. */
static int check_auth_mode(const cJSON *obj, const struct account *a, const char **why)
{
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(obj, "auth_mode");
	enum account_kind kind;

	if (!mode || cJSON_IsNull(mode)) {
		return 0;
	}
	if (!cJSON_IsString(mode) || kind_from_type(mode->valuestring, &kind)) {
		return fail(why, "field '%s' is not 'api_key' or 'chat_g_p_t'", "auth_mode");
	}
	if (kind != a->kind) {
		return fail(why, "field '%s' does not match auth_data.type", "auth_mode");
	}
	return 0;
}

static int read_strings(const cJSON *obj, struct account *a, const char **why)
{
	int r = read_string(obj, "id", true, &a->id, why);

	if (!r && !a->id[0]) {
		r = fail(why, "field '%s' is empty", "id");
	}
	if (!r) {
		r = read_string(obj, "name", true, &a->name, why);
	}
	if (!r) {
		r = read_string(obj, "email", false, &a->email, why);
	}
	if (!r) {
		r = read_string(obj, "plan_type", false, &a->plan_type, why);
	}
	if (!r) {
		r = read_string(obj, "chatgpt_user_id", false, &a->chatgpt_user_id, why);
	}
	if (!r) {
		r = read_string(obj, "relogin_reason", false, &a->relogin_reason, why);
	}
	return r;
}

static int read_scalars(const cJSON *obj, struct account *a, const char **why)
{
	int r = read_bool(obj, "chatgpt_account_is_fedramp", &a->fedramp, why);

	if (!r) {
		r = read_bool(obj, "auto_switch_disabled", &a->disabled, why);
	}
	if (!r) {
		r = read_time(obj, "token_last_refresh_at", false, &a->token_last_refresh_at, why);
	}
	if (!r) {
		r = read_time(obj, "subscription_expires_at", false, &a->subscription_expires_at,
		              why);
	}
	if (!r) {
		r = read_time(obj, "created_at", true, &a->created_at, why);
	}
	if (!r) {
		r = read_time(obj, "last_used_at", false, &a->last_used_at, why);
	}
	return r;
}

int account_from_json(const cJSON *obj, struct account *a, const char **why)
{
	int r;

	memset(a, 0, sizeof(*a));
	*why = "out of memory";
	if (!cJSON_IsObject(obj)) {
		*why = "not a JSON object";
		return -EINVAL;
	}
	r = read_strings(obj, a, why);
	if (!r) {
		r = read_scalars(obj, a, why);
	}
	if (!r) {
		r = read_auth_data(obj, a, why);
	}
	if (!r) {
		r = check_auth_mode(obj, a, why);
	}
	if (!r) {
		a->json = cJSON_Duplicate(obj, true);
		r = a->json ? 0 : -ENOMEM;
	}
	if (r) {
		account_release(a);
		return r == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	register_secrets(a);
	return 0;
}

int account_json_set(cJSON *obj, const char *key, cJSON *item)
{
	bool ok;

	if (!item) {
		return -ENOMEM;
	}
	if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
		ok = cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
	} else {
		ok = cJSON_AddItemToObject(obj, key, item);
	}
	if (!ok) {
		cJSON_Delete(item); /* not attached */
		return -ENOMEM;
	}
	return 0;
}

static int set_string(cJSON *obj, const char *key, const char *s)
{
	return account_json_set(obj, key, s ? cJSON_CreateString(s) : cJSON_CreateNull());
}

static int set_time(cJSON *obj, const char *key, int64_t us)
{
	char text[40];

	if (!us) {
		return account_json_set(obj, key, cJSON_CreateNull());
	}
	util_format_rfc3339(us, text, sizeof(text));
	return account_json_set(obj, key, cJSON_CreateString(text));
}

/* Starts from the auth_data as read when it is of the same kind, so its unknown keys stay. */
static cJSON *auth_data_base(const struct account *a)
{
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(a->json, "auth_data");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(old, "type");
	enum account_kind kind;

	if (cJSON_IsObject(old) && cJSON_IsString(type) &&
	    kind_from_type(type->valuestring, &kind) == 0 && kind == a->kind) {
		return cJSON_Duplicate(old, true);
	}
	return cJSON_CreateObject();
}

static cJSON *auth_data_json(const struct account *a)
{
	cJSON *data = auth_data_base(a);
	int r;

	if (!data) {
		return NULL;
	}
	if (a->kind == ACCOUNT_API_KEY) {
		r = set_string(data, "type", TYPE_API_KEY);
		r = r ? r : set_string(data, "key", a->api_key);
	} else {
		r = set_string(data, "type", TYPE_CHATGPT);
		r = r ? r : set_string(data, "id_token", a->id_token);
		r = r ? r : set_string(data, "access_token", a->access_token);
		r = r ? r : set_string(data, "refresh_token", a->refresh_token);
		if (!r && a->chatgpt_account_id) {
			r = set_string(data, "account_id", a->chatgpt_account_id);
		} else if (!r) {
			cJSON_DeleteItemFromObjectCaseSensitive(data, "account_id");
		}
	}
	if (r) {
		cJSON_Delete(data);
		return NULL;
	}
	return data;
}

static int set_fields(cJSON *o, const struct account *a)
{
	const char *mode = a->kind == ACCOUNT_API_KEY ? TYPE_API_KEY : TYPE_CHATGPT;
	int r = set_string(o, "id", a->id);

	r = r ? r : set_string(o, "name", a->name);
	r = r ? r : set_string(o, "email", a->email);
	r = r ? r : set_string(o, "plan_type", a->plan_type);
	r = r ? r : set_string(o, "chatgpt_user_id", a->chatgpt_user_id);
	r = r ? r : account_json_set(o, "chatgpt_account_is_fedramp", cJSON_CreateBool(a->fedramp));
	r = r ? r : set_time(o, "token_last_refresh_at", a->token_last_refresh_at);
	r = r ? r : set_time(o, "subscription_expires_at", a->subscription_expires_at);
	r = r ? r : set_string(o, "auth_mode", mode);
	r = r ? r : account_json_set(o, "auth_data", auth_data_json(a));
	r = r ? r : account_json_set(o, "auto_switch_disabled", cJSON_CreateBool(a->disabled));
	r = r ? r : set_time(o, "created_at", a->created_at);
	r = r ? r : set_time(o, "last_used_at", a->last_used_at);
	if (!r && a->relogin_reason) {
		r = set_string(o, "relogin_reason", a->relogin_reason);
	} else if (!r) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "relogin_reason");
	}
	return r;
}

cJSON *account_to_json(const struct account *a)
{
	cJSON *o = a->json ? cJSON_Duplicate(a->json, true) : cJSON_CreateObject();

	if (o && set_fields(o, a)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

void account_release(struct account *a)
{
	char **plain[] = {&a->id,
	                  &a->name,
	                  &a->email,
	                  &a->plan_type,
	                  &a->chatgpt_user_id,
	                  &a->chatgpt_account_id,
	                  &a->relogin_reason};
	char **secret[] = {&a->api_key, &a->id_token, &a->access_token, &a->refresh_token};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(plain); i++) {
		free(*plain[i]);
	}
	for (size_t i = 0; i < UTIL_ARRAY_LEN(secret); i++) {
		util_free_secret(*secret[i]);
	}
	cJSON_Delete(a->json);
	memset(a, 0, sizeof(*a));
}

static int copy_string(char **dst, const char *src)
{
	*dst = util_strdup0(src);
	return src && !*dst ? -ENOMEM : 0;
}

int account_copy(struct account *dst, const struct account *src)
{
	int r = 0;

	*dst = *src;
	r |= copy_string(&dst->id, src->id);
	r |= copy_string(&dst->name, src->name);
	r |= copy_string(&dst->email, src->email);
	r |= copy_string(&dst->plan_type, src->plan_type);
	r |= copy_string(&dst->chatgpt_user_id, src->chatgpt_user_id);
	r |= copy_string(&dst->chatgpt_account_id, src->chatgpt_account_id);
	r |= copy_string(&dst->relogin_reason, src->relogin_reason);
	r |= copy_string(&dst->api_key, src->api_key);
	r |= copy_string(&dst->id_token, src->id_token);
	r |= copy_string(&dst->access_token, src->access_token);
	r |= copy_string(&dst->refresh_token, src->refresh_token);
	dst->json = src->json ? cJSON_Duplicate(src->json, true) : NULL;
	if (r || (src->json && !dst->json)) {
		account_release(dst);
		return -ENOMEM;
	}
	return 0;
}

void account_label(const struct account *a, char *out, size_t outsz)
{
	char name[200], id8[9];

	termsafe_copy(name, sizeof(name), a->name ? a->name : "?", sizeof(name) - 1);
	termsafe_copy(id8, sizeof(id8), a->id ? a->id : "?", 8);
	snprintf(out, outsz, "%s (%s)", name, id8);
}

static bool str_equal(const char *a, const char *b)
{
	if (!a || !b) {
		return a == b;
	}
	return util_ct_equal(a, strlen(a), b, strlen(b));
}

static bool non_empty(const char *s)
{
	return s && s[0];
}

bool account_same_identity(const struct account *a, const struct account *b)
{
	if (a->kind != b->kind) {
		return false;
	}
	if (a->kind == ACCOUNT_API_KEY) {
		return non_empty(a->api_key) && str_equal(a->api_key, b->api_key);
	}
	/* One email may own several workspaces, and one workspace may hold several people. */
	if (non_empty(a->chatgpt_user_id) && non_empty(b->chatgpt_user_id)) {
		return str_equal(a->chatgpt_user_id, b->chatgpt_user_id) &&
		       str_equal(a->chatgpt_account_id, b->chatgpt_account_id);
	}
	return non_empty(a->refresh_token) && str_equal(a->refresh_token, b->refresh_token);
}

/* Replaces *field with value (taken over) when value is non-NULL. */
static void take_claim(char **field, char **value)
{
	if (*value) {
		free(*field);
		*field = *value;
		*value = NULL;
	}
}

int account_apply_id_token(struct account *a)
{
	struct jwt_claims c;
	int r = jwt_claims(a->id_token, &c);

	if (r) {
		return r;
	}
	take_claim(&a->email, &c.email);
	take_claim(&a->plan_type, &c.plan_type);
	take_claim(&a->chatgpt_user_id, &c.user_id);
	take_claim(&a->chatgpt_account_id, &c.account_id);
	a->fedramp = c.fedramp;
	a->subscription_expires_at = c.subscription_expires_at;
	jwt_claims_release(&c);
	return 0;
}
