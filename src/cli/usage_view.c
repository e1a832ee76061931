#include "cli/usage_view.h"

#include "cli/term.h"
#include "net/usage_fetch.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BAR_CELLS 20

void usage_view_reset(int64_t resets_at, int64_t now, char *out, size_t outsz)
{
	time_t t = (time_t)resets_at;
	char when[64], left[32];
	struct tm tm;

	if (resets_at <= 0 || !localtime_r(&t, &tm)) {
		snprintf(out, outsz, "reset time unknown");
		return;
	}
	strftime(when, sizeof(when), resets_at - now < 24 * 3600 ? "%H:%M" : "%a %d %b %H:%M", &tm);
	util_format_countdown(resets_at - now, left, sizeof(left));
	snprintf(out, outsz, "resets %s (%s%s)", when, resets_at > now ? "in " : "", left);
}

void usage_view_bar(double used, char *out, size_t outsz)
{
	char cells[BAR_CELLS + 1];
	int full = (int)lround((used < 0 ? 0 : used > 100 ? 100 : used) * BAR_CELLS / 100.0);

	for (int i = 0; i < BAR_CELLS; i++) {
		cells[i] = i < full ? '#' : '-';
	}
	cells[BAR_CELLS] = '\0';
	snprintf(out, outsz, "[%s]", cells);
}

static const char *full_window(const struct usage_window *w, char *out, size_t outsz)
{
	if (w->present && w->used_percent >= 100.0) {
		snprintf(out, outsz, "%s usage is %.1f%%", usage_window_label(usage_window_kind(w)),
		         w->used_percent);
		return out;
	}
	return NULL;
}

const char *usage_view_unavailable(const struct usage *u, char *out, size_t outsz)
{
	const char *r = NULL;

	if (u->error) {
		return NULL;
	}
	if (u->rate_limit_reached_type) {
		snprintf(out, outsz, "%s",
		         strstr(u->rate_limit_reached_type, "credits") ? "credits depleted"
		         : strstr(u->rate_limit_reached_type, "usage_limit")
		                 ? "usage limit reached"
		                 : "rate limit reached");
		return out;
	}
	if (usage_credits_depleted(&u->credits)) {
		return "credits balance is 0";
	}
	r = full_window(&u->primary, out, outsz);
	r = r ? r : full_window(&u->secondary, out, outsz);
	for (size_t i = 0; !r && i < u->nlimits; i++) {
		r = full_window(&u->limits[i].primary, out, outsz);
		r = r ? r : full_window(&u->limits[i].secondary, out, outsz);
	}
	return r;
}

void usage_view_summary(const struct usage *u, char *out, size_t outsz)
{
	const struct usage_window *f = usage_five_hour(u), *w = usage_weekly(u);
	char a[32] = "", b[32] = "";

	if (f) {
		snprintf(a, sizeof(a), "5h %.0f%%", f->used_percent);
	}
	if (w) {
		snprintf(b, sizeof(b), "wk %.0f%%", w->used_percent);
	}
	snprintf(out, outsz, "%s%s%s", f || w ? a : "-", f && w ? " " : "", b);
}

static void print_window(FILE *f, const char *indent, const struct usage_window *w, int64_t now)
{
	char bar[16 * BAR_CELLS], reset[128], label[32];
	enum usage_window_kind k = usage_window_kind(w);

	if (!w->present) {
		return;
	}
	if (k == USAGE_WINDOW_OTHER && w->window_minutes > 0) {
		snprintf(label, sizeof(label), "%ld min", w->window_minutes);
	} else {
		snprintf(label, sizeof(label), "%s", usage_window_label(k));
	}
	term_bar(f, w->used_percent, BAR_CELLS, bar, sizeof(bar));
	usage_view_reset(w->resets_at, now, reset, sizeof(reset));
	fprintf(f, "%s%-8s %s %5.1f%% used  %s\n", indent, label, bar, w->used_percent, reset);
}

static void print_reset_credits(FILE *f, const struct account *a, const struct usage *u)
{
	char when[128] = "";
	bool known = false;

	if (u->reset_credits_expire_at > 0) {
		usage_view_reset(u->reset_credits_expire_at, util_now(), when, sizeof(when));
		known = util_starts_with(when, "resets ");
	}
	fprintf(f,
	        "  limit resets available: %ld%s%s; spend one with 'codex-switch reset-usage%s%s'\n",
	        u->reset_credits_available, known ? "; the first expires " : "",
	        known ? when + strlen("resets ") : "", a ? " " : "", a ? a->name : "");
}

static void print_credits(FILE *f, const struct account *a, const struct usage *u)
{
	const struct usage_credits *c = &u->credits;

	if (c->known) {
		fprintf(f, "  credits  %s\n",
		        c->unlimited      ? "unlimited"
		        : !c->has_credits ? "none"
		        : c->balance      ? c->balance
		                          : "available");
	}
	if (u->reset_credits_available > 0) {
		print_reset_credits(f, a, u);
	}
}

static void print_next(FILE *f, bool next)
{
	if (next) {
		fprintf(f, "  next: automatic switching would choose this account if the current "
		           "one stopped now\n");
	}
}

void usage_view_print(FILE *f, const struct account *a, const struct usage *u, int64_t now,
                      bool next)
{
	char label[256] = "(deleted account)", why[128];
	const char *r;

	if (a) {
		account_label(a, label, sizeof(label));
	}
	fprintf(f, "%s%s%s  %s  %s\n", term_sgr(f, TERM_BOLD), label, term_sgr(f, TERM_RESET),
	        a && a->email ? a->email : "-",
	        u->plan_type        ? u->plan_type
	        : a && a->plan_type ? a->plan_type
	                            : "-");
	if (u->error) {
		/* The detailed error goes to stderr, from the command. */
		fprintf(f, "  %s\n",
		        strcmp(u->error, USAGE_UNSUPPORTED) == 0
		                ? "usage is not available for API-key accounts"
		                : "usage could not be fetched (the error is on stderr)");
		print_next(f, next);
		fputc('\n', f);
		return;
	}
	print_window(f, "  ", &u->primary, now);
	print_window(f, "  ", &u->secondary, now);
	if (!u->primary.present && !u->secondary.present) {
		fprintf(f, "  no usage windows reported\n");
	}
	print_credits(f, a, u);
	for (size_t i = 0; i < u->nlimits; i++) {
		const struct usage_limit *l = &u->limits[i];
		fprintf(f, "  %s:\n",
		        l->limit_name ? l->limit_name
		        : l->limit_id ? l->limit_id
		                      : "?");
		print_window(f, "    ", &l->primary, now);
		print_window(f, "    ", &l->secondary, now);
	}
	if ((r = usage_view_unavailable(u, why, sizeof(why)))) {
		fprintf(f, "  %sunavailable: %s%s\n", term_sgr(f, TERM_RED), r,
		        term_sgr(f, TERM_RESET));
	}
	print_next(f, next);
	fputc('\n', f);
}

static cJSON *window_json(const struct usage_window *w)
{
	cJSON *o;

	if (!w) {
		return cJSON_CreateNull();
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "used_percent", w->used_percent);
	cJSON_AddNumberToObject(o, "left_percent", fmax(0.0, 100.0 - w->used_percent));
	cJSON_AddNumberToObject(o, "window_minutes", (double)w->window_minutes);
	cJSON_AddNumberToObject(o, "resets_at", (double)w->resets_at);
	return o;
}

static const char *status_of(const struct usage *u, const char **reason, char *buf, size_t sz)
{
	*reason = NULL;
	if (u->error) {
		return strcmp(u->error, USAGE_UNSUPPORTED) == 0 ? "unsupported" : "error";
	}
	*reason = usage_view_unavailable(u, buf, sz);
	return *reason ? "unavailable" : "ok";
}

static void add_account(cJSON *o, const struct account *a, const char *id)
{
	char short_id[9];

	snprintf(short_id, sizeof(short_id), "%s", id);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "short_id", short_id);
	if (a) {
		cJSON_AddStringToObject(o, "name", a->name);
		cJSON_AddItemToObject(o, "email",
		                      a->email ? cJSON_CreateString(a->email) : cJSON_CreateNull());
	}
}

static cJSON *entry_json(const struct account *a, const char *id, const struct usage *u, bool next)
{
	cJSON *o = usage_to_json(u), *e = cJSON_CreateObject();
	const char *reason, *st;
	char buf[128];

	st = status_of(u, &reason, buf, sizeof(buf));
	add_account(e, a, id);
	cJSON_AddStringToObject(e, "status", st);
	cJSON_AddBoolToObject(e, "next", next);
	cJSON_AddBoolToObject(e, "supported", strcmp(st, "unsupported") != 0);
	cJSON_AddItemToObject(e, "unavailable_reason",
	                      reason ? cJSON_CreateString(reason) : cJSON_CreateNull());
	cJSON_AddItemToObject(e, "five_hour", window_json(usage_five_hour(u)));
	cJSON_AddItemToObject(e, "weekly", window_json(usage_weekly(u)));
	/* The raw fields (plan, both slots, credits, additional limits, error) follow. */
	while (o && o->child) {
		cJSON *item = cJSON_DetachItemViaPointer(o, o->child);
		cJSON_AddItemToObject(e, item->string, item);
	}
	cJSON_Delete(o);
	return e;
}

void usage_view_print_json(FILE *f, const struct store *s, const char *const *ids,
                           const struct usage *u, size_t n, const char *next_id, cJSON *forecast)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	char *text;

	cJSON_AddNumberToObject(root, "schema_version", USAGE_SCHEMA_VERSION);
	cJSON_AddStringToObject(root, "command", "usage");
	for (size_t i = 0; i < n; i++) {
		long k = store_find_id(s, ids[i]);
		cJSON_AddItemToArray(arr, entry_json(k >= 0 ? &s->accounts[k] : NULL, ids[i], &u[i],
		                                     next_id && strcmp(next_id, ids[i]) == 0));
	}
	cJSON_AddItemToObject(root, "accounts", arr);
	if (forecast) {
		cJSON_AddItemToObject(root, "forecast", forecast);
	}
	text = cJSON_Print(root);
	if (text) {
		fprintf(f, "%s\n", text);
	}
	free(text);
	cJSON_Delete(root);
}

void usage_view_progress(size_t done, size_t total, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "\rfetching usage: %zu/%zu", done, total);
	if (done == total) {
		fprintf(stderr, "\r\033[K");
	}
	fflush(stderr);
}
