#include "cli/forecast_view.h"

#include "store/account.h"
#include "store/usage_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool counts(const struct account *a, const struct usage *u)
{
	return a && a->kind == ACCOUNT_CHATGPT && !a->disabled && !a->relogin_reason && !u->error &&
	       (usage_five_hour(u) || usage_weekly(u));
}

static void release_inputs(struct forecast_account *in, size_t n)
{
	for (size_t i = 0; in && i < n; i++) {
		free((void *)in[i].history);
	}
	free(in);
}

int forecast_view_compute(const struct paths *p, const struct store *s, const char *const *ids,
                          const struct usage *u, size_t n, int64_t now, struct forecast *out)
{
	struct forecast_account *in = calloc(n ? n : 1, sizeof(*in));
	struct forecast_point *h;
	size_t m = 0;

	if (!in) {
		return -ENOMEM;
	}
	for (size_t k = 0; k < n; k++) {
		long i = store_find_id(s, ids[k]);
		if (i < 0 || !counts(&s->accounts[i], &u[k])) {
			continue;
		}
		forecast_point_from_usage(&u[k], &in[m].now);
		if (usage_cache_history(p, ids[k], &h, &in[m].nhistory) < 0) {
			release_inputs(in, m);
			return -ENOMEM;
		}
		in[m++].history = h;
	}
	forecast_compute(in, m, now, out);
	release_inputs(in, m);
	return 0;
}

/* "6 h 10 min", "2 d 3 h", "45 min". */
static void span_text(int64_t secs, char *out, size_t outsz)
{
	int64_t m = (secs + 59) / 60, h = m / 60, d = h / 24;

	if (d > 0) {
		snprintf(out, outsz, "%lld d %lld h", (long long)d, (long long)(h % 24));
	} else if (h > 0 && m % 60) {
		snprintf(out, outsz, "%lld h %lld min", (long long)h, (long long)(m % 60));
	} else if (h > 0) {
		snprintf(out, outsz, "%lld h", (long long)h);
	} else {
		snprintf(out, outsz, "%lld min", (long long)(m > 0 ? m : 1));
	}
}

/* "21:40" in local time today, "Thu 14:04" later this week, "Thu 03 Dec 14:04" beyond. */
static void clock_text(int64_t t, int64_t now, char *out, size_t outsz)
{
	time_t tt = (time_t)t, tn = (time_t)now;
	struct tm tm, today;
	size_t n;

	if (!localtime_r(&tt, &tm) || !localtime_r(&tn, &today)) {
		snprintf(out, outsz, "?");
		return;
	}
	if (t - now >= 6 * 86400) {
		n = strftime(out, outsz, "%a %d %b %H:%M", &tm);
	} else if (tm.tm_yday != today.tm_yday || tm.tm_year != today.tm_year) {
		n = strftime(out, outsz, "%a %H:%M", &tm);
	} else {
		n = strftime(out, outsz, "%H:%M", &tm);
	}
	if (!n) {
		snprintf(out, outsz, "?");
	}
}

static void print_resets(FILE *f, const struct forecast *fc, int64_t now)
{
	char when[64];

	if (fc->first_reset_at) {
		clock_text(fc->first_reset_at, now, when, sizeof(when));
		fprintf(f, "; the first window resets at %s", when);
	}
	fprintf(f, ".\n");
}

static void print_ok(FILE *f, const struct forecast *fc, int64_t now)
{
	char pace[32], lasts[32], until[64], back[64];

	span_text(fc->span_s, pace, sizeof(pace));
	fprintf(f,
	        "at the pace of the last %s (%.1f 5-hour and %.1f weekly points an hour) your %zu "
	        "account%s ",
	        pace, fc->five_hour_pace, fc->weekly_pace, fc->naccounts,
	        fc->naccounts == 1 ? "" : "s");
	if (!fc->dry_at) {
		fprintf(f, "last more than %d days", FORECAST_HORIZON_S / 86400);
		print_resets(f, fc, now);
		return;
	}
	span_text(fc->dry_at - now, lasts, sizeof(lasts));
	clock_text(fc->dry_at, now, until, sizeof(until));
	fprintf(f, "last about %s (until %s)", lasts, until);
	if (fc->back_at) {
		clock_text(fc->back_at, now, back, sizeof(back));
		fprintf(f, ", and capacity comes back at %s", back);
	}
	print_resets(f, fc, now);
}

void forecast_view_print(FILE *f, const struct forecast *fc, int64_t now)
{
	char when[64], pace[32];

	fprintf(f, "pool forecast: ");
	if (fc->naccounts == 0) {
		fprintf(f, "no enabled account with known usage.\n");
	} else if (fc->dry_now) {
		fprintf(f, "all %zu accounts are spent", fc->naccounts);
		if (fc->back_at) {
			clock_text(fc->back_at, now, when, sizeof(when));
			fprintf(f, "; the first one can go on at %s", when);
		}
		fprintf(f, ".\n");
	} else if (fc->status == FORECAST_NO_HISTORY) {
		fprintf(f,
		        "not enough history yet (it needs two usage fetches at least %d minutes "
		        "apart within %d hours: run 'codex-switch usage --all' again later)",
		        FORECAST_MIN_SPAN_S / 60, FORECAST_LOOKBACK_S / 3600);
		print_resets(f, fc, now);
	} else if (fc->status == FORECAST_IDLE) {
		span_text(fc->span_s, pace, sizeof(pace));
		fprintf(f, "no usage in the last %s", pace);
		print_resets(f, fc, now);
	} else {
		print_ok(f, fc, now);
	}
}

static cJSON *time_or_null(int64_t t)
{
	return t ? cJSON_CreateNumber((double)t) : cJSON_CreateNull();
}

static const char *status_name(enum forecast_status s)
{
	return s == FORECAST_OK ? "ok" : s == FORECAST_IDLE ? "idle" : "not_enough_history";
}

cJSON *forecast_view_json(const struct forecast *fc, int64_t now)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = fc->status == FORECAST_OK;

	if (!o) {
		return NULL;
	}
	cJSON_AddStringToObject(o, "status", status_name(fc->status));
	cJSON_AddNumberToObject(o, "accounts", (double)fc->naccounts);
	cJSON_AddNumberToObject(o, "pace_span_seconds", (double)fc->span_s);
	cJSON_AddItemToObject(o, "five_hour_points_per_hour",
	                      ok ? cJSON_CreateNumber(fc->five_hour_pace) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "weekly_points_per_hour",
	                      ok ? cJSON_CreateNumber(fc->weekly_pace) : cJSON_CreateNull());
	cJSON_AddBoolToObject(o, "dry_now", fc->dry_now);
	cJSON_AddItemToObject(o, "dry_at", time_or_null(fc->dry_at));
	cJSON_AddItemToObject(o, "lasts_seconds",
	                      fc->dry_at ? cJSON_CreateNumber((double)(fc->dry_at - now))
	                                 : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "capacity_back_at", time_or_null(fc->back_at));
	cJSON_AddItemToObject(o, "first_reset_at", time_or_null(fc->first_reset_at));
	if (cJSON_GetArraySize(o) != 10) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
