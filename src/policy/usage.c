#include "policy/usage.h"

#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reached_types[] = {
        "rate_limit_reached",
        "workspace_owner_credits_depleted",
        "workspace_member_credits_depleted",
        "workspace_owner_usage_limit_reached",
        "workspace_member_usage_limit_reached",
};

void usage_init(struct usage *u)
{
	memset(u, 0, sizeof(*u));
	u->reset_credits_available = -1;
}

void usage_release(struct usage *u)
{
	if (!u) {
		return;
	}
	free(u->plan_type);
	free(u->credits.balance);
	for (size_t i = 0; i < u->nlimits; i++) {
		free(u->limits[i].limit_id);
		free(u->limits[i].limit_name);
	}
	free(u->limits);
	free(u->rate_limit_reached_type);
	free(u->error);
	usage_init(u);
}

static bool dup_ok(char **dst, const char *src)
{
	*dst = util_strdup0(src);
	return !src || *dst;
}

int usage_copy(struct usage *dst, const struct usage *src)
{
	bool ok;

	*dst = *src;
	dst->limits = NULL;
	dst->nlimits = 0;
	/* Every copy is made even after a failure (call first, then &&), so that release frees
	 * exactly the copies and never a pointer shared with src. */
	ok = dup_ok(&dst->plan_type, src->plan_type);
	ok = dup_ok(&dst->credits.balance, src->credits.balance) && ok;
	ok = dup_ok(&dst->rate_limit_reached_type, src->rate_limit_reached_type) && ok;
	ok = dup_ok(&dst->error, src->error) && ok;
	if (ok && src->nlimits) {
		dst->limits = calloc(src->nlimits, sizeof(*dst->limits));
		ok = dst->limits != NULL;
	}
	for (size_t i = 0; ok && i < src->nlimits; i++) {
		dst->limits[i] = src->limits[i];
		dst->nlimits++;
		ok = dup_ok(&dst->limits[i].limit_id, src->limits[i].limit_id);
		ok = dup_ok(&dst->limits[i].limit_name, src->limits[i].limit_name) && ok;
	}
	if (!ok) {
		usage_release(dst);
		return -ENOMEM;
	}
	return 0;
}

/* Durations in minutes; each matches within 5 %. */
static const struct {
	enum usage_window_kind kind;
	double minutes;
} kinds[] = {
        {USAGE_WINDOW_FIVE_HOUR, 300}, {USAGE_WINDOW_DAILY, 1440},    {USAGE_WINDOW_WEEKLY, 10080},
        {USAGE_WINDOW_MONTHLY, 43200}, {USAGE_WINDOW_ANNUAL, 525600},
};

bool usage_credits_depleted(const struct usage_credits *c)
{
	char *end;
	double v;

	if (!c->known || !c->has_credits || c->unlimited || !c->balance) {
		return false;
	}
	v = strtod(c->balance, &end);
	return end != c->balance && v <= 0;
}

enum usage_window_kind usage_window_kind(const struct usage_window *w)
{
	if (!w || !w->present || w->window_minutes <= 0) {
		return USAGE_WINDOW_OTHER;
	}
	for (size_t i = 0; i < UTIL_ARRAY_LEN(kinds); i++) {
		if (fabs((double)w->window_minutes - kinds[i].minutes) <= kinds[i].minutes * 0.05) {
			return kinds[i].kind;
		}
	}
	return USAGE_WINDOW_OTHER;
}

const char *usage_window_label(enum usage_window_kind kind)
{
	switch (kind) {
	case USAGE_WINDOW_FIVE_HOUR:
		return "5-hour";
	case USAGE_WINDOW_DAILY:
		return "daily";
	case USAGE_WINDOW_WEEKLY:
		return "weekly";
	case USAGE_WINDOW_MONTHLY:
		return "monthly";
	case USAGE_WINDOW_ANNUAL:
		return "annual";
	default:
		return "other";
	}
}

static const struct usage_window *unique_kind(const struct usage *u, enum usage_window_kind k)
{
	bool p = usage_window_kind(&u->primary) == k, s = usage_window_kind(&u->secondary) == k;

	if (p && s) {
		return NULL; /* two windows of one kind: which one counts is unknowable */
	}
	return p ? &u->primary : s ? &u->secondary : NULL;
}

const struct usage_window *usage_five_hour(const struct usage *u)
{
	return unique_kind(u, USAGE_WINDOW_FIVE_HOUR);
}

const struct usage_window *usage_weekly(const struct usage *u)
{
	return unique_kind(u, USAGE_WINDOW_WEEKLY);
}

/* ---- small cJSON readers that treat null, absent and wrong types alike ---- */

static bool get_num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
		return false;
	}
	*out = v->valuedouble;
	return true;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool get_bool(const cJSON *o, const char *key, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsBool(v)) {
		return false;
	}
	*out = cJSON_IsTrue(v);
	return true;
}

static const cJSON *get_obj(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsObject(v) ? v : NULL;
}

/* A string field, or a number formatted as one (balances arrive both ways). */
static char *str_or_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v)) {
		return strdup(v->valuestring);
	}
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
		return util_printf("%g", v->valuedouble);
	}
	return NULL;
}

static long clamp_long(double d)
{
	if (d <= 0) {
		return 0;
	}
	return d > 1e12 ? (long)1e12 : (long)d;
}

/* /wham/usage window: {used_percent, limit_window_seconds, reset_after_seconds, reset_at}. */
static void wham_window(const cJSON *o, struct usage_window *w, int64_t now)
{
	double d;

	memset(w, 0, sizeof(*w));
	if (!o) {
		return;
	}
	w->present = true;
	if (get_num(o, "used_percent", &d)) {
		w->used_percent = d;
	}
	if (get_num(o, "limit_window_seconds", &d) && d > 0) {
		w->window_minutes = clamp_long(ceil(d / 60.0));
	}
	if (get_num(o, "reset_at", &d) && d > 0) {
		w->resets_at = (int64_t)clamp_long(d);
	} else if (get_num(o, "reset_after_seconds", &d) && d >= 0) {
		w->resets_at = now + (int64_t)clamp_long(d);
	}
}

static void wham_rate_limit(const cJSON *rl, struct usage_window *p, struct usage_window *s,
                            int64_t now)
{
	wham_window(get_obj(rl, "primary_window"), p, now);
	wham_window(get_obj(rl, "secondary_window"), s, now);
}

static char *known_reached_type(const char *t)
{
	for (size_t i = 0; t && i < UTIL_ARRAY_LEN(reached_types); i++) {
		if (strcmp(t, reached_types[i]) == 0) {
			return strdup(t);
		}
	}
	return NULL; /* unknown types are ignored, as codex does */
}

static void parse_credits(const cJSON *c, const char *has_key, const char *unl_key,
                          struct usage_credits *out)
{
	if (!c) {
		return;
	}
	out->known = true;
	get_bool(c, has_key, &out->has_credits);
	get_bool(c, unl_key, &out->unlimited);
	out->balance = str_or_num(c, "balance");
}

static int add_limit(struct usage *u, const char *id, const char *name, struct usage_limit **out)
{
	struct usage_limit *n = realloc(u->limits, (u->nlimits + 1) * sizeof(*n));

	if (!n) {
		return -ENOMEM;
	}
	u->limits = n;
	n = &u->limits[u->nlimits++];
	memset(n, 0, sizeof(*n));
	n->limit_id = util_strdup0(id);
	n->limit_name = util_strdup0(name);
	*out = n;
	return 0;
}

static int wham_additional(const cJSON *arr, struct usage *u, int64_t now)
{
	const cJSON *it;
	struct usage_limit *l;

	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsObject(it)) {
			continue;
		}
		if (add_limit(u, get_str(it, "metered_feature"), get_str(it, "limit_name"), &l) <
		    0) {
			return -ENOMEM;
		}
		wham_rate_limit(get_obj(it, "rate_limit"), &l->primary, &l->secondary, now);
	}
	return 0;
}

int usage_parse(const char *body, struct usage *u)
{
	cJSON *root = cJSON_Parse(body ? body : "");
	const cJSON *v;
	double d;
	int rc = 0;

	usage_init(u);
	u->fetched_at = util_now();
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	u->plan_type = util_strdup0(get_str(root, "plan_type"));
	wham_rate_limit(get_obj(root, "rate_limit"), &u->primary, &u->secondary, u->fetched_at);
	parse_credits(get_obj(root, "credits"), "has_credits", "unlimited", &u->credits);
	if ((v = get_obj(root, "rate_limit_reset_credits")) && get_num(v, "available_count", &d)) {
		u->reset_credits_available = clamp_long(d);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "rate_limit_reached_type");
	u->rate_limit_reached_type =
	        known_reached_type(cJSON_IsString(v) ? v->valuestring : get_str(v, "type"));
	v = cJSON_GetObjectItemCaseSensitive(root, "additional_rate_limits");
	if (cJSON_IsArray(v)) {
		rc = wham_additional(v, u, u->fetched_at);
	}
	cJSON_Delete(root);
	return rc;
}

/* A window whose percent used, length in minutes and reset time stand under the given keys;
 * anything but an object (NULL too) is an absent window. */
static void keyed_window(const cJSON *o, const char *pct_key, const char *minutes_key,
                         const char *reset_key, struct usage_window *w)
{
	double d;

	memset(w, 0, sizeof(*w));
	if (!cJSON_IsObject(o)) {
		return;
	}
	w->present = true;
	if (get_num(o, pct_key, &d)) {
		w->used_percent = d;
	}
	if (get_num(o, minutes_key, &d)) {
		w->window_minutes = clamp_long(d);
	}
	if (get_num(o, reset_key, &d)) {
		w->resets_at = (int64_t)clamp_long(d);
	}
}

/* App-server window: {usedPercent, windowDurationMins, resetsAt}. */
static void rpc_window(const cJSON *o, struct usage_window *w)
{
	keyed_window(o, "usedPercent", "windowDurationMins", "resetsAt", w);
}

static bool is_main_limit(const char *id)
{
	return !id || strcmp(id, "codex") == 0;
}

/* One RateLimitSnapshot. The "codex" family fills the main windows, others become limits. */
static int rpc_snapshot(const cJSON *rl, struct usage *u)
{
	const char *id = get_str(rl, "limitId");
	struct usage_limit *l;

	if (!is_main_limit(id)) {
		if (add_limit(u, id, get_str(rl, "limitName"), &l) < 0) {
			return -ENOMEM;
		}
		rpc_window(get_obj(rl, "primary"), &l->primary);
		rpc_window(get_obj(rl, "secondary"), &l->secondary);
		return 0;
	}
	rpc_window(get_obj(rl, "primary"), &u->primary);
	rpc_window(get_obj(rl, "secondary"), &u->secondary);
	return 0;
}

static int rpc_by_limit_id(const cJSON *map, const char *seen, struct usage *u)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, map)
	{
		const char *id = get_str(it, "limitId");
		if (!cJSON_IsObject(it) || is_main_limit(it->string) || is_main_limit(id) ||
		    (seen && strcmp(id, seen) == 0)) {
			continue;
		}
		if (rpc_snapshot(it, u) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

int usage_from_rate_limits(const cJSON *obj, struct usage *u)
{
	const cJSON *rl = obj, *map = NULL;

	usage_init(u);
	u->fetched_at = util_now();
	/* Accept the notification's params / the read result as well as the bare snapshot. */
	if (get_obj(obj, "rateLimits")) {
		rl = get_obj(obj, "rateLimits");
		map = get_obj(obj, "rateLimitsByLimitId");
	}
	if (!cJSON_IsObject(rl)) {
		return -EINVAL;
	}
	u->plan_type = util_strdup0(get_str(rl, "planType"));
	parse_credits(get_obj(rl, "credits"), "hasCredits", "unlimited", &u->credits);
	u->rate_limit_reached_type = known_reached_type(get_str(rl, "rateLimitReachedType"));
	if (rpc_snapshot(rl, u) < 0 ||
	    (map && rpc_by_limit_id(map, get_str(rl, "limitId"), u) < 0)) {
		return -ENOMEM;
	}
	return 0;
}

/* ---- cache / --json form ---- */

static cJSON *window_to_json(const struct usage_window *w)
{
	cJSON *o;

	if (!w->present) {
		return cJSON_CreateNull();
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "used_percent", w->used_percent);
	cJSON_AddNumberToObject(o, "window_minutes", (double)w->window_minutes);
	cJSON_AddNumberToObject(o, "resets_at", (double)w->resets_at);
	return o;
}

static void add_str_or_null(cJSON *o, const char *key, const char *v)
{
	if (v) {
		cJSON_AddStringToObject(o, key, v);
	} else {
		cJSON_AddNullToObject(o, key);
	}
}

static cJSON *credits_to_json(const struct usage_credits *c)
{
	cJSON *o;

	if (!c->known) {
		return cJSON_CreateNull();
	}
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "has_credits", c->has_credits);
	cJSON_AddBoolToObject(o, "unlimited", c->unlimited);
	add_str_or_null(o, "balance", c->balance);
	return o;
}

static cJSON *limits_to_json(const struct usage *u)
{
	cJSON *arr = cJSON_CreateArray(), *o;

	for (size_t i = 0; arr && i < u->nlimits; i++) {
		o = cJSON_CreateObject();
		add_str_or_null(o, "limit_id", u->limits[i].limit_id);
		add_str_or_null(o, "limit_name", u->limits[i].limit_name);
		cJSON_AddItemToObject(o, "primary", window_to_json(&u->limits[i].primary));
		cJSON_AddItemToObject(o, "secondary", window_to_json(&u->limits[i].secondary));
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

cJSON *usage_to_json(const struct usage *u)
{
	cJSON *o = cJSON_CreateObject();

	if (!o) {
		return NULL;
	}
	add_str_or_null(o, "plan_type", u->plan_type);
	cJSON_AddItemToObject(o, "primary", window_to_json(&u->primary));
	cJSON_AddItemToObject(o, "secondary", window_to_json(&u->secondary));
	cJSON_AddItemToObject(o, "credits", credits_to_json(&u->credits));
	if (u->reset_credits_available >= 0) {
		cJSON_AddNumberToObject(o, "rate_limit_reset_credits_available",
		                        (double)u->reset_credits_available);
	} else {
		cJSON_AddNullToObject(o, "rate_limit_reset_credits_available");
	}
	if (u->reset_credits_expire_at > 0) {
		cJSON_AddNumberToObject(o, "rate_limit_reset_credits_expire_at",
		                        (double)u->reset_credits_expire_at);
	} else {
		cJSON_AddNullToObject(o, "rate_limit_reset_credits_expire_at");
	}
	cJSON_AddItemToObject(o, "additional_limits", limits_to_json(u));
	add_str_or_null(o, "rate_limit_reached_type", u->rate_limit_reached_type);
	cJSON_AddNumberToObject(o, "fetched_at", (double)u->fetched_at);
	add_str_or_null(o, "error", u->error);
	if (cJSON_GetArraySize(o) != 10) {
		cJSON_Delete(o); /* some allocation failed on the way */
		return NULL;
	}
	return o;
}

/* Cached window: {used_percent, window_minutes, resets_at}. */
static void window_from_json(const cJSON *o, struct usage_window *w)
{
	keyed_window(o, "used_percent", "window_minutes", "resets_at", w);
}

int usage_from_json(const cJSON *obj, struct usage *u)
{
	const cJSON *arr, *it;
	struct usage_limit *l;
	double d;

	usage_init(u);
	if (!cJSON_IsObject(obj)) {
		return -EINVAL;
	}
	u->plan_type = util_strdup0(get_str(obj, "plan_type"));
	window_from_json(get_obj(obj, "primary"), &u->primary);
	window_from_json(get_obj(obj, "secondary"), &u->secondary);
	parse_credits(get_obj(obj, "credits"), "has_credits", "unlimited", &u->credits);
	if (get_num(obj, "rate_limit_reset_credits_available", &d)) {
		u->reset_credits_available = clamp_long(d);
	}
	if (get_num(obj, "rate_limit_reset_credits_expire_at", &d) && d > 0) {
		u->reset_credits_expire_at = (int64_t)clamp_long(d);
	}
	u->rate_limit_reached_type = known_reached_type(get_str(obj, "rate_limit_reached_type"));
	u->error = util_strdup0(get_str(obj, "error"));
	if (get_num(obj, "fetched_at", &d)) {
		u->fetched_at = (int64_t)clamp_long(d);
	}
	arr = cJSON_GetObjectItemCaseSensitive(obj, "additional_limits");
	if (!cJSON_IsArray(arr)) {
		return 0;
	}
	cJSON_ArrayForEach(it, arr)
	{
		if (add_limit(u, get_str(it, "limit_id"), get_str(it, "limit_name"), &l) < 0) {
			return -ENOMEM;
		}
		window_from_json(get_obj(it, "primary"), &l->primary);
		window_from_json(get_obj(it, "secondary"), &l->secondary);
	}
	return 0;
}
