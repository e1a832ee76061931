#include "session/trigger.h"

#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct window {
	bool present;
	double used;
	int64_t minutes;
	int64_t resets_at;
};

/* A number from the app-server as whole seconds or minutes; out-of-range values (a server bug,
 * or garbage) count as unknown, since converting them to an integer is undefined. */
static int64_t whole_number(const cJSON *v)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble > -1e15 && v->valuedouble < 1e15)) {
		return 0;
	}
	return (int64_t)v->valuedouble;
}

static void read_window(const cJSON *w, struct window *out)
{
	const cJSON *used = cJSON_GetObjectItemCaseSensitive(w, "usedPercent");
	const cJSON *mins = cJSON_GetObjectItemCaseSensitive(w, "windowDurationMins");
	const cJSON *reset = cJSON_GetObjectItemCaseSensitive(w, "resetsAt");

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(w) || !cJSON_IsNumber(used)) {
		return;
	}
	out->present = true;
	out->used = used->valuedouble;
	out->minutes = whole_number(mins);
	out->resets_at = whole_number(reset);
}

static bool is_weekly(const struct window *w, bool secondary_slot)
{
	if (w->minutes > 0) {
		return w->minutes >= 9576 && w->minutes <= 10584;
	}
	return secondary_slot; /* no duration: trust the slot, as codex does */
}

static const char *window_label(const struct window *w, bool secondary_slot)
{
	if (w->minutes >= 285 && w->minutes <= 315) {
		return "5-hour";
	}
	return is_weekly(w, secondary_slot) ? "weekly" : secondary_slot ? "secondary" : "primary";
}

static bool string_is(const cJSON *v, const char *s)
{
	return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

void trigger_from_error(const cJSON *params, struct trigger *t)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(params, "error");
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(err, "codexErrorInfo");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	const cJSON *retry = cJSON_GetObjectItemCaseSensitive(params, "willRetry");

	memset(t, 0, sizeof(*t));
	/* A retried error is transient: the turn goes on by itself. */
	if (cJSON_IsTrue(retry)) {
		return;
	}
	if (string_is(info, "usageLimitExceeded") ||
	    (cJSON_IsString(msg) && util_contains_icase(msg->valuestring, "usage limit"))) {
		t->kind = TRIGGER_HARD;
		snprintf(t->reason, sizeof(t->reason), "usage limit was reached");
	}
}

static bool credits_depleted(const cJSON *credits)
{
	const cJSON *has = cJSON_GetObjectItemCaseSensitive(credits, "hasCredits");
	const cJSON *unl = cJSON_GetObjectItemCaseSensitive(credits, "unlimited");
	const cJSON *bal = cJSON_GetObjectItemCaseSensitive(credits, "balance");
	char *end;
	double v;

	if (!cJSON_IsTrue(has) || cJSON_IsTrue(unl) || !cJSON_IsString(bal)) {
		return false;
	}
	v = strtod(bal->valuestring, &end);
	return end != bal->valuestring && *end == '\0' && v <= 0;
}

int64_t trigger_reset_time(const cJSON *rl)
{
	struct window w[2];
	int64_t full = 0, earliest = 0;

	read_window(cJSON_GetObjectItemCaseSensitive(rl, "primary"), &w[0]);
	read_window(cJSON_GetObjectItemCaseSensitive(rl, "secondary"), &w[1]);
	for (int i = 0; i < 2; i++) {
		if (!w[i].present || !w[i].resets_at) {
			continue;
		}
		if (w[i].used >= 100.0 && w[i].resets_at > full) {
			full = w[i].resets_at;
		}
		if (!earliest || w[i].resets_at < earliest) {
			earliest = w[i].resets_at;
		}
	}
	return full ? full : earliest;
}

static void hard_from_windows(const struct window w[2], struct trigger *t)
{
	for (int i = 0; i < 2; i++) {
		if (w[i].present && w[i].used >= 100.0) {
			t->kind = TRIGGER_HARD;
			snprintf(t->reason, sizeof(t->reason), "%s limit is at %.0f%%",
			         window_label(&w[i], i == 1), w[i].used);
			return;
		}
	}
}

static void soft_from_windows(const struct window w[2], struct trigger *t)
{
	double bottleneck = 1e9;
	int which = -1;

	for (int i = 0; i < 2; i++) {
		double h;
		if (!w[i].present) {
			continue;
		}
		h = 100.0 - w[i].used;
		if (is_weekly(&w[i], i == 1)) {
			h *= TRIGGER_WEEKLY_WEIGHT;
		}
		if (h < bottleneck) {
			bottleneck = h;
			which = i;
		}
	}
	if (which >= 0 && bottleneck <= TRIGGER_SOFT_HEADROOM) {
		t->kind = TRIGGER_SOFT;
		snprintf(t->reason, sizeof(t->reason), "%s limit is at %.0f%%",
		         window_label(&w[which], which == 1), w[which].used);
	}
}

void trigger_from_rate_limits(const cJSON *params, struct trigger *t)
{
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(params, "rateLimits");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rl, "limitId");
	const cJSON *reached = cJSON_GetObjectItemCaseSensitive(rl, "rateLimitReachedType");
	struct window w[2];

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(rl)) {
		return;
	}
	if (cJSON_IsString(id)) {
		snprintf(t->limit_id, sizeof(t->limit_id), "%s", id->valuestring);
	}
	read_window(cJSON_GetObjectItemCaseSensitive(rl, "primary"), &w[0]);
	read_window(cJSON_GetObjectItemCaseSensitive(rl, "secondary"), &w[1]);
	t->resets_at = trigger_reset_time(rl);
	if (cJSON_IsString(reached) && *reached->valuestring) {
		t->kind = TRIGGER_HARD;
		t->workspace_wide = util_starts_with(reached->valuestring, "workspace_");
		snprintf(t->reason, sizeof(t->reason), "limit was reached (%.60s)",
		         reached->valuestring);
		return;
	}
	if (credits_depleted(cJSON_GetObjectItemCaseSensitive(rl, "credits"))) {
		t->kind = TRIGGER_HARD;
		snprintf(t->reason, sizeof(t->reason), "credits are used up");
		return;
	}
	hard_from_windows(w, t);
	if (t->kind == TRIGGER_NONE) {
		soft_from_windows(w, t);
	}
}
