#include "session/poolview.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *item(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int set_item(cJSON *o, const char *key, cJSON *v)
{
	if (!v) {
		return -1;
	}
	if (cJSON_GetObjectItemCaseSensitive(o, key)) {
		return cJSON_ReplaceItemInObjectCaseSensitive(o, key, v) ? 0 : -1;
	}
	return cJSON_AddItemToObject(o, key, v) ? 0 : -1;
}

/* What an account has used of a window as long as that window is what it was: a window whose
 * reset passed is unused. */
static double used_now(const struct usage_window *w, int64_t now)
{
	if (w->resets_at && w->resets_at <= now) {
		return 0;
	}
	return w->used_percent;
}

static const struct usage_window *window_of_kind(const struct usage *u, enum usage_window_kind k)
{
	if (usage_window_kind(&u->primary) == k) {
		return &u->primary;
	}
	return usage_window_kind(&u->secondary) == k ? &u->secondary : NULL;
}

/* The pool's use of a window of `minutes`: the mean over the active account (active_used) and
 * every other account whose window of that kind is known. */
static double pool_used(const struct poolview *pv, long minutes, double active_used)
{
	struct usage_window probe = {.present = true, .window_minutes = minutes};
	enum usage_window_kind k = usage_window_kind(&probe);
	double sum = active_used;
	int n = 1;

	for (size_t i = 0; k != USAGE_WINDOW_OTHER && i < pv->n; i++) {
		const struct usage_window *w;
		if (pv->accounts[i].active || !pv->accounts[i].usage) {
			continue;
		}
		w = window_of_kind(pv->accounts[i].usage, k);
		if (w) {
			sum += used_now(w, pv->now);
			n++;
		}
	}
	return sum / n;
}

static bool is_codex(const cJSON *bucket)
{
	const cJSON *id = item(bucket, "limitId");

	return !cJSON_IsString(id) || strcmp(id->valuestring, "codex") == 0;
}

/* Below the TUI's warning thresholds; the "codex" bucket (the status line's) shows the pool. */
static int spare_bucket(const struct poolview *pv, cJSON *bucket)
{
	static const char *const slots[] = {"primary", "secondary"};
	bool codex = is_codex(bucket);

	for (size_t i = 0; i < 2; i++) {
		cJSON *w = item(bucket, slots[i]);
		const cJSON *used = item(w, "usedPercent"), *mins = item(w, "windowDurationMins");
		double shown;
		if (!cJSON_IsNumber(used)) {
			continue;
		}
		shown = used->valuedouble;
		if (codex) {
			shown = pool_used(pv, cJSON_IsNumber(mins) ? (long)mins->valuedouble : 0,
			                  shown);
		}
		shown = fmin(round(shown), POOLVIEW_CAP);
		if (set_item(w, "usedPercent", cJSON_CreateNumber(shown))) {
			return -1;
		}
	}
	return 0;
}

static char *print_and_free(cJSON *msg)
{
	char *out = msg ? cJSON_PrintUnformatted(msg) : NULL;

	cJSON_Delete(msg);
	return out;
}

char *poolview_updated(const struct poolview *pv, const char *json, size_t len)
{
	cJSON *msg, *rl;

	if (!pv->spare) {
		return NULL;
	}
	msg = cJSON_ParseWithLength(json, len);
	rl = item(item(msg, "params"), "rateLimits");
	if (!cJSON_IsObject(rl) || spare_bucket(pv, rl)) {
		cJSON_Delete(msg);
		return NULL;
	}
	return print_and_free(msg);
}

static cJSON *window_json(const struct usage_window *w, int64_t now)
{
	cJSON *o = cJSON_CreateObject();
	bool reset = w->resets_at && w->resets_at <= now;

	if (!o || !cJSON_AddNumberToObject(o, "usedPercent", round(used_now(w, now))) ||
	    !(w->window_minutes > 0
	              ? cJSON_AddNumberToObject(o, "windowDurationMins", (double)w->window_minutes)
	              : cJSON_AddNullToObject(o, "windowDurationMins")) ||
	    !(w->resets_at && !reset ? cJSON_AddNumberToObject(o, "resetsAt", (double)w->resets_at)
	                             : cJSON_AddNullToObject(o, "resetsAt"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int add_window(cJSON *bucket, const char *slot, const struct usage_window *w, int64_t now)
{
	if (!w->present) {
		return cJSON_AddNullToObject(bucket, slot) ? 0 : -1;
	}
	return set_item(bucket, slot, window_json(w, now));
}

/* The snapshot's other fields: nothing known (the TUI's stored credits stay as they were). */
static int add_nulls(cJSON *b)
{
	static const char *const keys[] = {"normalModelSlug", "credits", "individualLimit",
	                                   "spendControlReached", "rateLimitReachedType"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!cJSON_AddNullToObject(b, keys[i])) {
			return -1;
		}
	}
	return 0;
}

/* A RateLimitSnapshot of u (schema v2 RateLimitSnapshot), or NULL when u knows no window. */
static cJSON *bucket_from_usage(const struct usage *u, const char *limit_id, const char *limit_name,
                                int64_t now)
{
	cJSON *b;

	if (!u->primary.present && !u->secondary.present) {
		return NULL;
	}
	b = cJSON_CreateObject();
	if (!b || !cJSON_AddStringToObject(b, "limitId", limit_id) ||
	    !(limit_name ? cJSON_AddStringToObject(b, "limitName", limit_name)
	                 : cJSON_AddNullToObject(b, "limitName")) ||
	    add_window(b, "primary", &u->primary, now) ||
	    add_window(b, "secondary", &u->secondary, now) ||
	    !(u->plan_type ? cJSON_AddStringToObject(b, "planType", u->plan_type)
	                   : cJSON_AddNullToObject(b, "planType")) ||
	    add_nulls(b)) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

/* "codex_switch_2_bob": unique by index, readable in a log. */
static void limit_id_of(size_t i, const char *name, char *out, size_t outsz)
{
	size_t n = (size_t)snprintf(out, outsz, "%s%zu_", POOLVIEW_LIMIT_PREFIX, i);

	for (; name && *name && n + 1 < outsz; name++) {
		unsigned char ch = (unsigned char)*name;
		out[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? (char)ch
		           : (ch >= 'A' && ch <= 'Z')                           ? (char)(ch + 32)
		                                                                : '_';
	}
	out[n < outsz ? n : outsz - 1] = '\0';
}

/* Account i's bucket, named after it: from what the app-server last reported of the active
 * one in this session (the headers of its latest answer), else as its read answered it
 * (active_rl, before the pool view), else from what is known of its limits. *b is NULL when
 * nothing is known; -1 on -ENOMEM. */
static int account_bucket(const struct poolview *pv, size_t i, const cJSON *active_rl, cJSON **b)
{
	const struct poolview_account *a = &pv->accounts[i];
	char id[96], name[160];

	limit_id_of(i, a->name, id, sizeof(id));
	snprintf(name, sizeof(name), "%s%s", a->name ? a->name : "?", a->active ? " (active)" : "");
	*b = NULL;
	if (a->active && !(a->live && a->usage) && cJSON_IsObject(active_rl)) {
		*b = cJSON_Duplicate(active_rl, true);
		if (!*b || set_item(*b, "limitId", cJSON_CreateString(id)) ||
		    set_item(*b, "limitName", cJSON_CreateString(name))) {
			cJSON_Delete(*b);
			*b = NULL;
			return -1;
		}
	} else if (a->usage) {
		*b = bucket_from_usage(a->usage, id, name, pv->now);
	}
	return 0;
}

static int add_accounts(const struct poolview *pv, cJSON *by_id, const cJSON *active_rl)
{
	for (size_t i = 0; i < pv->n; i++) {
		cJSON *b;
		if (account_bucket(pv, i, active_rl, &b)) {
			return -1;
		}
		if (b && !cJSON_AddItemToObject(
		                 by_id, cJSON_GetObjectItem(b, "limitId")->valuestring, b)) {
			cJSON_Delete(b);
			return -1;
		}
	}
	return 0;
}

static int rewrite_read(const struct poolview *pv, cJSON *result)
{
	cJSON *rl = item(result, "rateLimits"), *by_id = item(result, "rateLimitsByLimitId");
	cJSON *orig = cJSON_Duplicate(rl, true), *b;
	int r = 0;

	if (!orig) {
		return -1;
	}
	if (!cJSON_IsObject(by_id)) {
		by_id = cJSON_CreateObject();
		if (set_item(result, "rateLimitsByLimitId", by_id) ||
		    !cJSON_AddItemToObject(by_id, "codex", cJSON_Duplicate(rl, true))) {
			cJSON_Delete(orig);
			return -1;
		}
	}
	if (pv->spare) {
		r = spare_bucket(pv, rl);
		cJSON_ArrayForEach(b, by_id)
		{
			r = r ? r : cJSON_IsObject(b) ? spare_bucket(pv, b) : 0;
		}
	}
	r = r ? r : add_accounts(pv, by_id, orig);
	cJSON_Delete(orig);
	return r;
}

char *poolview_read_response(const struct poolview *pv, const char *json, size_t len)
{
	cJSON *msg = cJSON_ParseWithLength(json, len);
	cJSON *result = item(msg, "result");

	if (!cJSON_IsObject(item(result, "rateLimits")) || rewrite_read(pv, result)) {
		cJSON_Delete(msg);
		return NULL;
	}
	return print_and_free(msg);
}

/* { "method": "account/rateLimits/updated", "params": { "rateLimits": rl } }, taking rl. */
static char *updated_message(cJSON *rl)
{
	cJSON *msg = cJSON_CreateObject(), *params = cJSON_CreateObject();

	if (!msg || !params || !rl ||
	    !cJSON_AddStringToObject(msg, "method", "account/rateLimits/updated")) {
		cJSON_Delete(msg);
		cJSON_Delete(params);
		cJSON_Delete(rl);
		return NULL;
	}
	cJSON_AddItemToObject(msg, "params", params);
	cJSON_AddItemToObject(params, "rateLimits", rl);
	return print_and_free(msg);
}

char *poolview_snapshot(const struct poolview *pv, const struct usage *u)
{
	cJSON *rl = bucket_from_usage(u, "codex", NULL, pv->now);

	if (rl && pv->spare && spare_bucket(pv, rl)) {
		cJSON_Delete(rl);
		return NULL;
	}
	return updated_message(rl);
}

char *poolview_account_update(const struct poolview *pv, size_t i)
{
	cJSON *b;

	if (i >= pv->n || account_bucket(pv, i, NULL, &b) || !b) {
		return NULL;
	}
	return updated_message(b);
}

char *poolview_thread_list(const char *json, size_t len)
{
	cJSON *msg = cJSON_ParseWithLength(json, len);
	cJSON *params = item(msg, "params");

	if (!cJSON_IsTrue(item(params, "currentAccountOnly")) ||
	    set_item(params, "currentAccountOnly", cJSON_CreateFalse())) {
		cJSON_Delete(msg);
		return NULL;
	}
	return print_and_free(msg);
}
