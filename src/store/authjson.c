#include "store/authjson.h"

#include "base/fileio.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum auth_mode {
	MODE_API_KEY,
	MODE_CHATGPT,
};

/* A copy of obj[key] when it is a non-empty string, else NULL. */
static char *dup_string(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring[0] ? strdup(v->valuestring) : NULL;
}

/* An explicit auth_mode wins; without one, a non-null OPENAI_API_KEY means an API key. */
static int read_mode(const char *path, const cJSON *top, enum auth_mode *mode, char *err,
                     size_t errsz)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(top, "auth_mode");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(top, "OPENAI_API_KEY");

	if (!m || cJSON_IsNull(m)) {
		*mode = key && !cJSON_IsNull(key) ? MODE_API_KEY : MODE_CHATGPT;
		return 0;
	}
	if (cJSON_IsString(m) && strcmp(m->valuestring, "apikey") == 0) {
		*mode = MODE_API_KEY;
		return 0;
	}
	if (cJSON_IsString(m) && strcmp(m->valuestring, "chatgpt") == 0) {
		*mode = MODE_CHATGPT;
		return 0;
	}
	if (cJSON_IsString(m) && (strcmp(m->valuestring, "chatgptAuthTokens") == 0 ||
	                          strcmp(m->valuestring, "agentIdentity") == 0)) {
		snprintf(err, errsz,
		         "'%s' uses auth_mode '%s', which codex-switch cannot store; log in with "
		         "'codex login' (or 'codex-switch login <name>') and try again",
		         path, m->valuestring);
		return -ENOTSUP;
	}
	snprintf(err, errsz, "cannot parse '%s': unknown auth_mode", path);
	return -EINVAL;
}

static int read_api_key(const char *path, const cJSON *top, struct account *a, char *err,
                        size_t errsz)
{
	a->kind = ACCOUNT_API_KEY;
	a->api_key = dup_string(top, "OPENAI_API_KEY");
	if (!a->api_key) {
		snprintf(err, errsz, "cannot parse '%s': OPENAI_API_KEY is missing or empty", path);
		return -EINVAL;
	}
	return 0;
}

static int read_tokens(const char *path, const cJSON *top, struct account *a, char *err,
                       size_t errsz)
{
	const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(top, "tokens");
	char *explicit_id;

	a->kind = ACCOUNT_CHATGPT;
	if (!cJSON_IsObject(tokens)) {
		snprintf(err, errsz, "cannot parse '%s': ChatGPT login without 'tokens'", path);
		return -EINVAL;
	}
	a->id_token = dup_string(tokens, "id_token");
	a->access_token = dup_string(tokens, "access_token");
	a->refresh_token = dup_string(tokens, "refresh_token");
	if (!a->id_token || !a->access_token || !a->refresh_token) {
		snprintf(
		        err, errsz,
		        "cannot parse '%s': 'tokens' lacks id_token, access_token or refresh_token",
		        path);
		return -EINVAL;
	}
	if (account_apply_id_token(a)) {
		snprintf(err, errsz, "cannot parse '%s': its ID token is not a valid JWT", path);
		return -EINVAL;
	}
	/* tokens.account_id wins over the claim: it names the workspace Codex chose. */
	explicit_id = dup_string(tokens, "account_id");
	if (explicit_id) {
		free(a->chatgpt_account_id);
		a->chatgpt_account_id = explicit_id;
	}
	return 0;
}

static int read_last_refresh(const char *path, const cJSON *top, struct account *a, char *err,
                             size_t errsz)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(top, "last_refresh");

	if (!t || cJSON_IsNull(t)) {
		a->token_last_refresh_at = util_now_ms() * 1000;
		return 0;
	}
	if (!cJSON_IsString(t) || util_parse_rfc3339(t->valuestring, &a->token_last_refresh_at)) {
		snprintf(err, errsz, "cannot parse '%s': last_refresh is not an RFC 3339 time",
		         path);
		return -EINVAL;
	}
	return 0;
}

static int parse_auth(const char *path, const cJSON *top, struct account *a, char *err,
                      size_t errsz)
{
	enum auth_mode mode;
	int r;

	if (!cJSON_IsObject(top)) {
		snprintf(err, errsz, "cannot parse '%s': not a JSON object", path);
		return -EINVAL;
	}
	r = read_mode(path, top, &mode, err, errsz);
	if (!r) {
		r = mode == MODE_API_KEY ? read_api_key(path, top, a, err, errsz)
		                         : read_tokens(path, top, a, err, errsz);
	}
	if (!r) {
		r = read_last_refresh(path, top, a, err, errsz);
	}
	return r;
}

int authjson_read(const char *path, struct account *a, char *err, size_t errsz)
{
	char *text;
	size_t len;
	cJSON *top;
	int r;

	memset(a, 0, sizeof(*a));
	r = fileio_read(path, FILEIO_MAX_JSON, &text, &len);
	if (r) {
		snprintf(err, errsz, "cannot read '%s': %s", path, fileio_strerror(r));
		return r;
	}
	top = cJSON_ParseWithLength(text, len);
	util_free_secret(text);
	if (!top) {
		snprintf(err, errsz, "cannot parse '%s': invalid JSON", path);
		return -EINVAL;
	}
	r = parse_auth(path, top, a, err, errsz);
	cJSON_Delete(top);
	if (r) {
		account_release(a);
		return r;
	}
	log_add_secret(a->api_key);
	log_add_secret(a->id_token);
	log_add_secret(a->access_token);
	log_add_secret(a->refresh_token);
	return 0;
}

static cJSON *tokens_json(const struct account *a)
{
	cJSON *t = cJSON_CreateObject();

	if (!t || !cJSON_AddStringToObject(t, "id_token", a->id_token) ||
	    !cJSON_AddStringToObject(t, "access_token", a->access_token) ||
	    !cJSON_AddStringToObject(t, "refresh_token", a->refresh_token) ||
	    (a->chatgpt_account_id &&
	     !cJSON_AddStringToObject(t, "account_id", a->chatgpt_account_id))) {
		cJSON_Delete(t);
		return NULL;
	}
	return t;
}

static int fill_auth(cJSON *top, const struct account *a)
{
	bool api = a->kind == ACCOUNT_API_KEY;
	char when[40];
	cJSON *tokens;

	if (!cJSON_AddStringToObject(top, "auth_mode", api ? "apikey" : "chatgpt")) {
		return -ENOMEM;
	}
	if (api ? !cJSON_AddStringToObject(top, "OPENAI_API_KEY", a->api_key)
	        : !cJSON_AddNullToObject(top, "OPENAI_API_KEY")) {
		return -ENOMEM;
	}
	if (!api) {
		tokens = tokens_json(a);
		if (!tokens || !cJSON_AddItemToObject(top, "tokens", tokens)) {
			cJSON_Delete(tokens);
			return -ENOMEM;
		}
	}
	if (a->token_last_refresh_at) {
		util_format_rfc3339(a->token_last_refresh_at, when, sizeof(when));
		if (!cJSON_AddStringToObject(top, "last_refresh", when)) {
			return -ENOMEM;
		}
	}
	return 0;
}

char *authjson_to_string(const struct account *a)
{
	cJSON *top = cJSON_CreateObject();
	char *text = NULL, *out = NULL;

	if (top && fill_auth(top, a) == 0) {
		text = cJSON_Print(top);
	}
	cJSON_Delete(top);
	if (text) {
		out = util_printf("%s\n", text);
		util_free_secret(text);
	}
	return out;
}

int authjson_write(const char *path, const struct account *a)
{
	char *text = authjson_to_string(a);
	int r;

	if (!text) {
		return -ENOMEM;
	}
	r = fileio_write_atomic(path, text, strlen(text));
	util_free_secret(text);
	return r;
}

long authjson_current(const struct paths *p, const struct store *s)
{
	struct account a;
	char err[512];
	long i;

	if (authjson_read(p->auth_json, &a, err, sizeof(err))) {
		return -1;
	}
	i = store_find_identity(s, &a);
	account_release(&a);
	return i;
}
