#include "session/rpcmsg.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static char *finish(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

/* The id keeps the JSON type the server used: parse the raw text back into a value. */
static cJSON *with_raw_id(const char *raw_id)
{
	cJSON *o = cJSON_CreateObject(), *id = cJSON_Parse(raw_id);

	if (!o || !id || !cJSON_AddItemToObject(o, "id", id)) {
		cJSON_Delete(o);
		cJSON_Delete(id);
		return NULL;
	}
	return o;
}

char *rpcmsg_initialize(const char *id, const char *codex_version)
{
	cJSON *o = cJSON_CreateObject(), *p, *ci, *caps;

	if (!o) {
		return NULL;
	}
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "method", "initialize");
	p = cJSON_AddObjectToObject(o, "params");
	ci = p ? cJSON_AddObjectToObject(p, "clientInfo") : NULL;
	caps = p ? cJSON_AddObjectToObject(p, "capabilities") : NULL;
	if (!ci || !caps) {
		cJSON_Delete(o);
		return NULL;
	}
	/* The app-server names every backend request after the first client to initialize,
	 * and that is us: introduce ourselves as the TUI does, so the backend sees plain codex. */
	cJSON_AddStringToObject(ci, "name", RPCMSG_CLIENT_NAME);
	cJSON_AddNullToObject(ci, "title");
	cJSON_AddStringToObject(ci, "version", codex_version);
	/* chatgptAuthTokens logins are refused on connections without it. */
	cJSON_AddBoolToObject(caps, "experimentalApi", 1);
	return finish(o);
}

char *rpcmsg_initialized(void)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "method", "initialized");
	}
	return finish(o);
}

static int add_tokens(cJSON *obj, const struct account *a)
{
	if (!cJSON_AddStringToObject(obj, "accessToken", a->access_token ? a->access_token : "") ||
	    !cJSON_AddStringToObject(obj, "chatgptAccountId",
	                             a->chatgpt_account_id ? a->chatgpt_account_id : "")) {
		return -1;
	}
	if (a->plan_type) {
		return cJSON_AddStringToObject(obj, "chatgptPlanType", a->plan_type) ? 0 : -1;
	}
	return cJSON_AddNullToObject(obj, "chatgptPlanType") ? 0 : -1;
}

char *rpcmsg_login(const char *id, const struct account *a)
{
	cJSON *o = cJSON_CreateObject(), *p;

	if (!o) {
		return NULL;
	}
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "method", "account/login/start");
	p = cJSON_AddObjectToObject(o, "params");
	if (!p || !cJSON_AddStringToObject(p, "type", "chatgptAuthTokens") || add_tokens(p, a)) {
		cJSON_Delete(o);
		return NULL;
	}
	return finish(o);
}

char *rpcmsg_refresh_result(const char *raw_id, const struct account *a)
{
	cJSON *o = with_raw_id(raw_id), *r;

	r = o ? cJSON_AddObjectToObject(o, "result") : NULL;
	if (!r || add_tokens(r, a)) {
		cJSON_Delete(o);
		return NULL;
	}
	return finish(o);
}

char *rpcmsg_error(const char *raw_id, int code, const char *message)
{
	cJSON *o = with_raw_id(raw_id), *e;

	e = o ? cJSON_AddObjectToObject(o, "error") : NULL;
	if (!e) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	return finish(o);
}

char *rpcmsg_warning(const char *message)
{
	cJSON *o = cJSON_CreateObject(), *p;

	if (!o) {
		return NULL;
	}
	cJSON_AddStringToObject(o, "method", "warning");
	p = cJSON_AddObjectToObject(o, "params");
	if (!p) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddNullToObject(p, "threadId");
	cJSON_AddStringToObject(p, "message", message);
	return finish(o);
}
