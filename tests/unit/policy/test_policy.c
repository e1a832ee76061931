#include "policy/policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define NOW      1800000000LL
#define MAX_ACCT 6
#define FIVE_H   300
#define WEEK     10080

/*
 * One account of a case. Zero means the common thing: a ChatGPT account with fresh usage,
 * a 5-hour window resetting in 1 h and a weekly one resetting in 1 day, both at 0 %.
 */
struct spec {
	const char *name;
	const char *workspace;
	bool api, disabled, relogin, no_usage;
	int64_t last_used;
	double f_used, w_used;    /* used % */
	int64_t f_reset, w_reset; /* 0: default; -1: unknown */
	bool no_f, no_w, swap;    /* window missing; weekly in the primary slot */
	int64_t age;              /* seconds since the fetch; -1: no fetch time */
	const char *reached;
	const char *balance; /* credits with has_credits = true */
	bool unlimited;
	double extra_used; /* an additional limit at this %; 0: none */
	const char *error;
	int64_t exhausted_until;
};

struct pcase {
	const char *what;
	struct spec a[MAX_ACCT];
	long current;
	enum policy_mode mode;
	int64_t last_soft;
	enum policy_action want;
	long want_index;
	const char *want_reason; /* a substring of the reason */
	int64_t want_retry;
};

struct world {
	struct usage u[MAX_ACCT];
	struct policy_account a[MAX_ACCT];
	size_t n;
};

static void set_window(struct usage_window *w, double used, long minutes, int64_t reset,
                       int64_t deflt)
{
	w->present = true;
	w->used_percent = used;
	w->window_minutes = minutes;
	w->resets_at = reset == -1 ? 0 : reset ? reset : deflt;
}

static void build_usage(const struct spec *s, struct usage *u)
{
	struct usage_window *f = s->swap ? &u->secondary : &u->primary;
	struct usage_window *w = s->swap ? &u->primary : &u->secondary;

	usage_init(u);
	u->fetched_at = s->age == -1 ? 0 : NOW - s->age;
	if (!s->no_f) {
		set_window(f, s->f_used, FIVE_H, s->f_reset, NOW + 3600);
	}
	if (!s->no_w) {
		set_window(w, s->w_used, WEEK, s->w_reset, NOW + 86400);
	}
	u->rate_limit_reached_type = s->reached ? strdup(s->reached) : NULL;
	u->error = s->error ? strdup(s->error) : NULL;
	if (s->balance) {
		u->credits.known = u->credits.has_credits = true;
		u->credits.unlimited = s->unlimited;
		u->credits.balance = strdup(s->balance);
	}
	if (s->extra_used > 0) {
		u->limits = calloc(1, sizeof(*u->limits));
		u->nlimits = 1;
		u->limits[0].limit_name = strdup("Spark");
		set_window(&u->limits[0].primary, s->extra_used, FIVE_H, 0, NOW + 600);
	}
}

static void build(const struct spec *specs, struct world *w)
{
	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < MAX_ACCT && specs[i].name; i++) {
		const struct spec *s = &specs[i];
		struct policy_account *a = &w->a[i];
		build_usage(s, &w->u[i]);
		a->id = s->name;
		a->label = s->name;
		a->workspace = s->workspace;
		a->chatgpt = !s->api;
		a->disabled = s->disabled;
		a->needs_relogin = s->relogin;
		a->last_used_at = s->last_used;
		a->usage = s->no_usage || s->api ? NULL : &w->u[i];
		a->exhausted_until = s->exhausted_until;
		w->n++;
	}
}

static void release(struct world *w)
{
	for (size_t i = 0; i < MAX_ACCT; i++) {
		usage_release(&w->u[i]);
	}
}

static const struct pcase cases[] = {
        {"no current: least recently used unused account, then store order",
         {{.name = "a", .last_used = 50}, {.name = "b"}, {.name = "c"}},
         -1,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         1,
         "not used any of its windows",
         0},
        {"an unused current account is kept",
         {{.name = "a", .last_used = 50}, {.name = "b"}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_KEEP,
         0,
         "not used any",
         0},
        {"unused accounts first, least recently used among them",
         {{.name = "a", .f_used = 100},
          {.name = "b", .last_used = 500},
          {.name = "c", .last_used = 100},
          {.name = "d", .f_used = 1, .f_reset = NOW + 60}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "a cannot go on: its 5-hour window is used up",
         0},
        {"safe: earliest bottleneck reset before more headroom",
         {{.name = "a", .f_used = 100},
          {.name = "b", .f_used = 10, .f_reset = NOW + 7200},
          {.name = "c", .f_used = 50, .f_reset = NOW + 600}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "has 50 % of its 5-hour window left",
         0},
        {"safe with the same reset: more headroom",
         {{.name = "a", .f_used = 100}, {.name = "b", .f_used = 60}, {.name = "c", .f_used = 20}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "has 80 % of its",
         0},
        {"tie: least recently used, then store order",
         {{.name = "a", .f_used = 100},
          {.name = "b", .f_used = 20, .last_used = 9},
          {.name = "c", .f_used = 20, .last_used = 3},
          {.name = "d", .f_used = 20, .last_used = 3}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "; c has",
         0},
        {"safe before unsafe even with a later reset",
         {{.name = "a", .f_used = 100},
          {.name = "b", .f_used = 97, .f_reset = NOW + 60},
          {.name = "c", .f_used = 90, .f_reset = NOW + 9000}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "c has 10 % of its 5-hour window left",
         0},
        {"unsafe only: more headroom before an earlier reset",
         {{.name = "a", .f_used = 100},
          {.name = "b", .f_used = 98, .f_reset = NOW + 60},
          {.name = "c", .f_used = 96, .f_reset = NOW + 9000}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "c has only 4 % of its 5-hour window left",
         0},
        {"weekly headroom is weighted and can be the bottleneck",
         {{.name = "a", .f_used = 100},
          {.name = "b", .f_used = 10, .w_used = 99, .f_reset = NOW + 60},
          {.name = "c", .f_used = 50, .w_used = 50, .f_reset = NOW + 900}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "5-hour",
         0},
        {"windows are classified by duration, not slot",
         {{.name = "a", .f_used = 100},
          {.name = "b", .f_used = 30, .w_used = 1},
          {.name = "c", .swap = true, .f_used = 0, .w_used = 80}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "has 100 % of its 5-hour window left",
         0},
        {"missing usage ranks after safe accounts",
         {{.name = "a", .f_used = 100},
          {.name = "b", .no_usage = true},
          {.name = "c", .f_used = 90}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "; c has",
         0},
        {"missing usage ranks before unsafe accounts, and the reason says so",
         {{.name = "a", .f_used = 100},
          {.name = "b", .no_usage = true},
          {.name = "c", .f_used = 97}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "b: its usage is unknown",
         0},
        {"a fetch error is unknown usage",
         {{.name = "a", .f_used = 100}, {.name = "b", .error = "API error: 500"}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "unknown (API error: 500)",
         0},
        {"stale usage is unknown, even when it looked unused",
         {{.name = "a", .f_used = 100},
          {.name = "b", .age = 7 * 3600},
          {.name = "c", .f_used = 40, .w_used = 10}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "; c has",
         0},
        {"stale usage says why it is unknown",
         {{.name = "a", .f_used = 100}, {.name = "b", .age = 7 * 3600}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "the last data is 7h 0m old",
         0},
        {"no fetch time counts as stale",
         {{.name = "a", .f_used = 100}, {.name = "b", .age = -1}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "no fetch time",
         0},
        {"stale but full with a reset ahead stays exhausted",
         {{.name = "a", .f_used = 100, .f_reset = NOW + 3000},
          {.name = "b", .age = 7 * 3600, .f_used = 100, .f_reset = NOW + 1200}},
         0,
         POLICY_HARD,
         0,
         POLICY_NONE_USABLE,
         0,
         "free again in 20m",
         NOW + 1200},
        {"stale and full with an unknown reset is unknown, not exhausted",
         {{.name = "a", .f_used = 100},
          {.name = "b", .age = 7 * 3600, .f_used = 100, .f_reset = -1}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "b: its usage is unknown",
         0},
        {"a window whose reset has passed counts as empty",
         {{.name = "a", .f_used = 100}, {.name = "b", .f_used = 100, .f_reset = NOW - 10}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "not used any",
         0},
        {"disabled, re-login and API-key accounts are never chosen",
         {{.name = "a", .f_used = 100, .f_reset = NOW + 3000},
          {.name = "b", .disabled = true},
          {.name = "c", .relogin = true},
          {.name = "d", .api = true}},
         0,
         POLICY_HARD,
         0,
         POLICY_NONE_USABLE,
         0,
         "no other account can be used",
         NOW + 3000},
        {"a workspace-wide limit exhausts every account of the workspace",
         {{.name = "a",
           .workspace = "ws1",
           .f_used = 20,
           .reached = "workspace_member_usage_limit_reached"},
          {.name = "b", .workspace = "ws1"},
          {.name = "c", .workspace = "ws2", .f_used = 60}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         2,
         "a cannot go on: it has reached its usage limit",
         0},
        {"the workspace reason names the reporting account",
         {{.name = "a", .workspace = "ws1", .f_used = 10},
          {.name = "b", .workspace = "ws1", .reached = "workspace_owner_credits_depleted"},
          {.name = "c", .workspace = "ws2", .f_used = 50}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         2,
         "a cannot go on: its workspace is at its limit (its credits are used up, reported for b)",
         0},
        {"a plain reached type only stops its own account",
         {{.name = "a", .workspace = "ws1", .reached = "rate_limit_reached"},
          {.name = "b", .workspace = "ws1", .f_used = 30}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         1,
         "reached its rate limit",
         0},
        {"credits depleted exhaust; unlimited credits do not",
         {{.name = "a", .f_used = 100},
          {.name = "b", .balance = "0"},
          {.name = "c", .balance = "0", .unlimited = true, .f_used = 30}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         2,
         "; c has",
         0},
        {"a positive balance is fine",
         {{.name = "a", .f_used = 100}, {.name = "b", .balance = "12.5"}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "; b",
         0},
        {"credits balance 0 is the reason",
         {{.name = "a", .balance = "0.00", .f_used = 10}, {.name = "b", .f_used = 30}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         1,
         "its credits balance is 0",
         0},
        {"an additional limit at 100 % exhausts",
         {{.name = "a", .extra_used = 100, .f_used = 10}, {.name = "b", .f_used = 30}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         1,
         "its 'Spark' limit is used up",
         0},
        {"exhausted_until in the future exhausts; a past one does not",
         {{.name = "a", .f_used = 10, .exhausted_until = NOW + 100},
          {.name = "b", .f_used = 30, .exhausted_until = NOW + 100},
          {.name = "c", .f_used = 50, .exhausted_until = NOW - 1}},
         0,
         POLICY_SOFT,
         0,
         POLICY_SWITCH,
         2,
         "a cannot go on",
         0},
        {"none usable: retry at the earliest reset among accounts",
         {{.name = "a", .f_used = 100, .f_reset = NOW + 3000},
          {.name = "b", .w_used = 100, .w_reset = NOW + 1000},
          {.name = "c", .exhausted_until = NOW + 500, .disabled = true},
          {.name = "d",
           .f_used = 100,
           .f_reset = NOW + 2000,
           .w_used = 100,
           .w_reset = NOW + 90000}},
         0,
         POLICY_HARD,
         0,
         POLICY_NONE_USABLE,
         0,
         "free again in 17m",
         NOW + 1000},
        {"none usable and no reset known: retry_at 0",
         {{.name = "a", .reached = "rate_limit_reached", .no_f = true, .no_w = true},
          {.name = "b", .balance = "0"}},
         0,
         POLICY_HARD,
         0,
         POLICY_NONE_USABLE,
         0,
         "no reset time is known",
         0},
        {"no current and nothing usable",
         {{.name = "a", .disabled = true}, {.name = "b", .relogin = true}},
         -1,
         POLICY_INITIAL,
         0,
         POLICY_NONE_USABLE,
         -1,
         "no account is current",
         0},
        {"soft: a low current account goes to one with a clear margin",
         {{.name = "a", .f_used = 96}, {.name = "b", .f_used = 50}},
         0,
         POLICY_SOFT,
         0,
         POLICY_SWITCH,
         1,
         "a has only 4 % of its 5-hour window left",
         0},
        {"soft: above the soft threshold nothing happens",
         {{.name = "a", .f_used = 94}, {.name = "b"}},
         0,
         POLICY_SOFT,
         0,
         POLICY_KEEP,
         0,
         "enough to stay",
         0},
        {"soft: not within the cooldown",
         {{.name = "a", .f_used = 96}, {.name = "b"}},
         0,
         POLICY_SOFT,
         NOW - 600,
         POLICY_KEEP,
         0,
         "allowed in 5m",
         0},
        {"soft: after the cooldown",
         {{.name = "a", .f_used = 96}, {.name = "b"}},
         0,
         POLICY_SOFT,
         NOW - 900,
         POLICY_SWITCH,
         1,
         "not used any",
         0},
        {"soft: a small difference is no reason to switch",
         {{.name = "a", .f_used = 96}, {.name = "b", .f_used = 82}},
         0,
         POLICY_SOFT,
         0,
         POLICY_KEEP,
         0,
         "no other account has at least 15 points more left",
         0},
        {"soft: the margin skips a better-ranked but fuller account",
         {{.name = "a", .f_used = 96},
          {.name = "b", .f_used = 90, .f_reset = NOW + 60},
          {.name = "c", .f_used = 40, .f_reset = NOW + 4000}},
         0,
         POLICY_SOFT,
         0,
         POLICY_SWITCH,
         2,
         "; c has",
         0},
        {"soft: an unknown current account is kept",
         {{.name = "a", .no_usage = true}, {.name = "b"}},
         0,
         POLICY_SOFT,
         0,
         POLICY_KEEP,
         0,
         "its usage is unknown",
         0},
        {"soft: an unknown account is no soft target",
         {{.name = "a", .f_used = 97}, {.name = "b", .no_usage = true}},
         0,
         POLICY_SOFT,
         0,
         POLICY_KEEP,
         0,
         "no other account has",
         0},
        {"hard: switches even to a slightly better account",
         {{.name = "a", .f_used = 10}, {.name = "b", .f_used = 90}},
         0,
         POLICY_HARD,
         0,
         POLICY_SWITCH,
         1,
         "a cannot go on",
         0},
        {"hard ignores the cooldown",
         {{.name = "a", .f_used = 100}, {.name = "b", .f_used = 20}},
         0,
         POLICY_HARD,
         NOW - 5,
         POLICY_SWITCH,
         1,
         "; b",
         0},
        {"initial: keeps a current account within the margin of the best",
         {{.name = "a", .f_used = 10}, {.name = "b"}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_KEEP,
         0,
         "staying on a: the difference is under 15 points",
         0},
        {"initial: switches when the best is clearly better",
         {{.name = "a", .f_used = 30}, {.name = "b"}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         1,
         "a has 70 % of its 5-hour window left",
         0},
        {"initial: keeps the current account when it ranks first",
         {{.name = "a", .f_used = 30, .f_reset = NOW + 60},
          {.name = "b", .f_used = 5, .w_used = 1}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_KEEP,
         0,
         "no other account is better",
         0},
        {"initial: a disabled but usable current account is kept",
         {{.name = "a", .f_used = 60, .disabled = true}, {.name = "b"}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_KEEP,
         0,
         "excluded from automatic switching",
         0},
        {"initial: an API-key current account is kept",
         {{.name = "a", .api = true}, {.name = "b"}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_KEEP,
         0,
         "API key",
         0},
        {"initial: a current account that needs a new login is left",
         {{.name = "a", .relogin = true}, {.name = "b", .f_used = 70}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_SWITCH,
         1,
         "needs a new login",
         0},
        {"initial: an unknown best account is no reason to leave a usable one",
         {{.name = "a", .f_used = 97}, {.name = "b", .no_usage = true}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_KEEP,
         0,
         "the usage of b is unknown",
         0},
        {"initial: nothing else usable keeps the current account",
         {{.name = "a", .f_used = 99}, {.name = "b", .f_used = 100}},
         0,
         POLICY_INITIAL,
         0,
         POLICY_KEEP,
         0,
         "no other account can",
         0},
};

static int failures;

static void run_case(const struct pcase *t)
{
	struct policy_config c;
	struct policy_decision d;
	struct world w;

	policy_config_defaults(&c);
	build(t->a, &w);
	policy_decide(&c, w.a, w.n, t->current, t->mode, NOW, t->last_soft, &d);
	if (d.action != t->want || d.index != t->want_index || !strstr(d.reason, t->want_reason) ||
	    d.retry_at != t->want_retry) {
		print_error("case '%s': action %d index %ld retry %lld reason '%s'\n", t->what,
		            (int)d.action, d.index, (long long)d.retry_at, d.reason);
		release(&w);
		failures++;
		return;
	}
	release(&w);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i]);
	}
	assert_int_equal(failures, 0);
}

/* Two 5-hour windows of one account: which one counts cannot be known. */
static void test_duplicate_kind_is_unknown(void **state)
{
	struct spec s[] = {{.name = "a", .f_used = 100}, {.name = "b", .f_used = 10}, {0}};
	struct policy_config c;
	struct policy_decision d;
	struct world w;

	(void)state;
	policy_config_defaults(&c);
	build(s, &w);
	w.u[1].secondary.window_minutes = FIVE_H;
	policy_decide(&c, w.a, w.n, 0, POLICY_HARD, NOW, 0, &d);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_non_null(strstr(d.reason, "no 5-hour or weekly window"));
	release(&w);
}

static void test_next(void **state)
{
	struct spec s[] = {{.name = "a", .f_used = 20},
	                   {.name = "b", .f_used = 50},
	                   {.name = "c", .f_used = 100},
	                   {0}};
	struct spec none[] = {{.name = "a"}, {.name = "b", .disabled = true}, {0}};
	struct policy_config c;
	struct world w;

	(void)state;
	policy_config_defaults(&c);
	build(s, &w);
	assert_int_equal(policy_next(&c, w.a, w.n, 0, NOW), 1);
	assert_int_equal(policy_next(&c, w.a, w.n, 1, NOW), 0);
	assert_int_equal(policy_next(&c, w.a, w.n, -1, NOW), 0);
	release(&w);
	build(none, &w);
	assert_int_equal(policy_next(&c, w.a, w.n, 0, NOW), -1);
	release(&w);
}

/* policy_explain: plain words, the real % left (weekly unweighted), and when it frees up. */
static void test_explain(void **state)
{
	struct spec s[] = {{.name = "a", .f_used = 12},
	                   {.name = "b", .f_used = 100, .f_reset = NOW + 7200},
	                   {.name = "c", .f_used = 10, .w_used = 98},
	                   {.name = "d", .relogin = true},
	                   {0}};
	struct policy_config c;
	struct world w;
	char out[256];

	(void)state;
	policy_config_defaults(&c);
	build(s, &w);
	assert_true(policy_explain(&c, w.a, w.n, 0, NOW, out, sizeof(out)));
	assert_string_equal(out, "a has 88 % of its 5-hour window left (resets in 1h 0m)");
	assert_false(policy_explain(&c, w.a, w.n, 1, NOW, out, sizeof(out)));
	assert_string_equal(out,
	                    "b cannot be used: its 5-hour window is used up (free again in 2h 0m)");
	assert_true(policy_explain(&c, w.a, w.n, 2, NOW, out, sizeof(out)));
	assert_non_null(strstr(out, "c has 2 % of its weekly window left"));
	assert_false(policy_explain(&c, w.a, w.n, 3, NOW, out, sizeof(out)));
	assert_string_equal(out, "d cannot be used: it needs a new login");
	for (size_t i = 0; i < w.n; i++) {
		policy_explain(&c, w.a, w.n, i, NOW, out, sizeof(out));
		assert_null(strstr(out, "headroom"));
		assert_null(strstr(out, "bottleneck"));
	}
	release(&w);
}

/* The thresholds come from the config: the weekly weight moves the bottleneck. */
static void test_config_changes_decisions(void **state)
{
	struct spec s[] = {{.name = "a", .f_used = 100},
	                   {.name = "b", .f_used = 40, .w_used = 98, .f_reset = NOW + 60},
	                   {.name = "c", .f_used = 30, .f_reset = NOW + 600},
	                   {0}};
	struct policy_config c;
	struct policy_decision d;
	struct world w;

	(void)state;
	policy_config_defaults(&c);
	build(s, &w);
	/* b: 2 weekly points x 5 = 10, resetting in a day; c resets first */
	policy_decide(&c, w.a, w.n, 0, POLICY_HARD, NOW, 0, &d);
	assert_int_equal(d.index, 2);
	c.weekly_weight = 100.0; /* b: the 5-hour window (60) is the bottleneck, resets first */
	policy_decide(&c, w.a, w.n, 0, POLICY_HARD, NOW, 0, &d);
	assert_int_equal(d.index, 1);
	c.min_safe_headroom = 65.0; /* b is unsafe now: c (70) wins */
	policy_decide(&c, w.a, w.n, 0, POLICY_HARD, NOW, 0, &d);
	assert_int_equal(d.index, 2);
	release(&w);
}

/* ---- a simulated day: usage grows on the current account, windows reset on schedule ---- */

#define SIM_N       4
#define SIM_T0      1800000000LL
#define SIM_REFRESH 30 /* minutes between usage fetches of the other accounts */
#define SIM_MAX_SW  64 /* switches remembered for the flapping checks */

struct sim_acct {
	double f, w;              /* true used % */
	int64_t f_reset, w_reset; /* 0: the window has not started */
};

struct sim_switch {
	int64_t at;
	long from, to;
	bool hard;
};

struct sim {
	double rate_f, rate_w; /* % per active minute on the current account */
	int active_minutes;    /* of every 1440, the first ones are active */
	int days;
	size_t max_per_5h; /* switches allowed within any five hours */
	struct sim_acct s[SIM_N];
	struct usage u[SIM_N]; /* what the policy sees */
	struct policy_account a[SIM_N];
	long cur;
	int64_t last_soft;
	struct sim_switch sw[SIM_MAX_SW];
	size_t nsw, nhard, blocked_minutes, total_switches;
};

static void sim_roll(struct sim_acct *s, int64_t now)
{
	if (s->f_reset && now >= s->f_reset) {
		s->f = 0;
		s->f_reset = 0;
	}
	if (s->w_reset && now >= s->w_reset) {
		s->w = 0;
		s->w_reset = 0;
	}
}

static void sim_use(struct sim *m, struct sim_acct *s, int64_t now)
{
	if (!s->f_reset) {
		s->f_reset = now + FIVE_H * 60;
	}
	if (!s->w_reset) {
		s->w_reset = now + WEEK * 60;
	}
	s->f = s->f + m->rate_f > 100 ? 100 : s->f + m->rate_f;
	s->w = s->w + m->rate_w > 100 ? 100 : s->w + m->rate_w;
}

static bool sim_exhausted(const struct sim_acct *s)
{
	return s->f >= 100 || s->w >= 100;
}

/* What a /wham/usage fetch would return now (an unstarted window resets a full period on). */
static void sim_fetch(const struct sim_acct *s, int64_t now, struct usage *u)
{
	usage_release(u);
	usage_init(u);
	u->fetched_at = now;
	set_window(&u->primary, s->f, FIVE_H, s->f_reset, now + FIVE_H * 60);
	set_window(&u->secondary, s->w, WEEK, s->w_reset, now + WEEK * 60);
}

static void sim_check_flapping(const struct sim *m, const struct sim_switch *now_sw,
                               const struct policy_config *c)
{
	size_t recent = 0;

	for (size_t i = 0; i < m->nsw; i++) {
		const struct sim_switch *p = &m->sw[i];
		if (p->from == now_sw->to && p->to == now_sw->from &&
		    now_sw->at - p->at < c->soft_cooldown_s && !now_sw->hard) {
			print_error("flapping: %ld->%ld at %lld and back at %lld\n", p->from, p->to,
			            (long long)p->at, (long long)now_sw->at);
			fail();
		}
		recent += now_sw->at - p->at < FIVE_H * 60;
	}
	if (recent + 1 > m->max_per_5h) {
		print_error("%zu switches within 5 hours at %lld\n", recent + 1,
		            (long long)now_sw->at);
		fail();
	}
}

static void sim_switch(struct sim *m, const struct policy_config *c,
                       const struct policy_decision *d, bool hard, int64_t now)
{
	struct sim_switch sw = {.at = now, .from = m->cur, .to = d->index, .hard = hard};

	if (d->index < 0 || d->index == m->cur || sim_exhausted(&m->s[d->index])) {
		print_error("bad switch to %ld at %lld: %s\n", d->index, (long long)now, d->reason);
		fail();
	}
	sim_check_flapping(m, &sw, c);
	if (m->nsw == SIM_MAX_SW) {
		memmove(m->sw, m->sw + 1, sizeof(m->sw[0]) * (SIM_MAX_SW - 1));
		m->nsw--;
	}
	m->sw[m->nsw++] = sw;
	m->total_switches++;
	m->nhard += hard;
	m->last_soft = hard ? m->last_soft : now;
	m->cur = d->index;
	m->a[m->cur].last_used_at = now;
	sim_fetch(&m->s[m->cur], now, &m->u[m->cur]);
}

/* Every other account is really exhausted when the policy says none is usable. */
static void sim_none_usable(struct sim *m, const struct policy_decision *d, int64_t now)
{
	for (long i = 0; i < SIM_N; i++) {
		if (i != m->cur && !sim_exhausted(&m->s[i])) {
			print_error("none usable at %lld but account %ld is not exhausted: %s\n",
			            (long long)now, i, d->reason);
			fail();
		}
	}
	assert_true(d->retry_at > now);
	m->blocked_minutes++;
}

static void sim_tick(struct sim *m, const struct policy_config *c, int minute)
{
	int64_t now = SIM_T0 + (int64_t)minute * 60;
	struct policy_decision d;
	bool hard;

	for (int i = 0; i < SIM_N; i++) {
		sim_roll(&m->s[i], now);
		if (i == m->cur || minute % SIM_REFRESH == 0) {
			sim_fetch(&m->s[i], now, &m->u[i]);
		}
	}
	if (minute % 1440 >= m->active_minutes || sim_exhausted(&m->s[m->cur])) {
		hard = sim_exhausted(&m->s[m->cur]);
	} else {
		sim_use(m, &m->s[m->cur], now);
		sim_fetch(&m->s[m->cur], now, &m->u[m->cur]);
		hard = sim_exhausted(&m->s[m->cur]);
	}
	policy_decide(c, m->a, SIM_N, m->cur, hard ? POLICY_HARD : POLICY_SOFT, now, m->last_soft,
	              &d);
	if (d.action == POLICY_SWITCH) {
		sim_switch(m, c, &d, hard, now);
	} else if (d.action == POLICY_NONE_USABLE) {
		assert_true(hard);
		sim_none_usable(m, &d, now);
	} else {
		assert_false(hard);
	}
}

static void sim_run(struct sim *m)
{
	static const char *const names[SIM_N] = {"a", "b", "c", "d"};
	struct policy_config c;
	struct policy_decision d;

	policy_config_defaults(&c);
	for (int i = 0; i < SIM_N; i++) {
		usage_init(&m->u[i]);
		sim_fetch(&m->s[i], SIM_T0, &m->u[i]);
		m->a[i] = (struct policy_account){
		        .id = names[i], .label = names[i], .chatgpt = true, .usage = &m->u[i]};
	}
	policy_decide(&c, m->a, SIM_N, -1, POLICY_INITIAL, SIM_T0, 0, &d);
	assert_int_equal(d.action, POLICY_SWITCH);
	m->cur = d.index;
	for (int minute = 1; minute < m->days * 1440; minute++) {
		sim_tick(m, &c, minute);
	}
	for (int i = 0; i < SIM_N; i++) {
		usage_release(&m->u[i]);
	}
}

/* Moderate use: soft switches only, never a hard stop, never back and forth. */
static void test_simulated_day(void **state)
{
	struct sim m = {
	        .rate_f = 0.5, .rate_w = 0.06, .active_minutes = 960, .days = 3, .max_per_5h = 3};

	(void)state;
	sim_run(&m);
	print_message("moderate: %zu switches, %zu hard, %zu blocked minutes\n", m.total_switches,
	              m.nhard, m.blocked_minutes);
	assert_true(m.total_switches >= 3); /* the accounts were actually rotated */
	assert_int_equal(m.nhard, 0);
	assert_int_equal(m.blocked_minutes, 0);
}

/* Heavy use beyond what four accounts hold: hard switches and waits, but no churn. */
static void test_simulated_heavy_day(void **state)
{
	struct sim m = {.rate_f = 2.0,
	                .rate_w = 0.3,
	                .active_minutes = 1440,
	                .days = 2,
	                .max_per_5h = 2 * SIM_N};

	(void)state;
	sim_run(&m);
	print_message("heavy: %zu switches, %zu hard, %zu blocked minutes\n", m.total_switches,
	              m.nhard, m.blocked_minutes);
	assert_true(m.nhard > 0);
	assert_true(m.blocked_minutes > 0);
	assert_true(m.total_switches <= 2 * 24 * 6 / 5 + 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_duplicate_kind_is_unknown),
	        cmocka_unit_test(test_next),
	        cmocka_unit_test(test_explain),
	        cmocka_unit_test(test_config_changes_decisions),
	        cmocka_unit_test(test_simulated_day),
	        cmocka_unit_test(test_simulated_heavy_day),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
