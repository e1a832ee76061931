/*
 * The account policy (README "Policy"). Every account is assessed on its own (usable or not,
 * and if usable which tier and how much headroom), then the candidates are compared pairwise.
 * Stores hold a handful of accounts, so assessments are recomputed instead of allocated: the
 * decision stays a pure function that cannot fail.
 */
#include "policy/policy.h"

#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ties in headroom: percentages come from JSON integers, so anything closer is equal. */
#define HEADROOM_EPSILON 1e-9

enum tier {
	TIER_UNUSED,  /* 0 % in every reported 5-hour/weekly window */
	TIER_SAFE,    /* bottleneck >= min_safe_headroom */
	TIER_UNKNOWN, /* no usage, an error, too old, or no 5-hour/weekly window */
	TIER_UNSAFE,  /* known, below min_safe_headroom */
};

/* What is known about one account at `now`. */
struct cand {
	bool usable;        /* ChatGPT, no re-login needed, not exhausted */
	bool exhausted;     /* a limit is reached (why says which) */
	bool stale;         /* while checking windows: only full windows with a known reset count */
	enum tier tier;     /* when usable */
	double bottleneck;  /* TIER_UNUSED/SAFE/UNSAFE: the smaller weighted headroom */
	double left;        /* % left of the bottleneck window, unweighted, for people */
	const char *window; /* the bottleneck window: "5-hour" or "weekly" */
	int64_t reset;      /* the bottleneck window's reset; 0 = unknown */
	int64_t free_at;    /* exhausted: when the limit lifts; 0 = unknown */
	char why[160];      /* not usable, or TIER_UNKNOWN: why */
};

struct ctx {
	const struct policy_config *c;
	const struct policy_account *a;
	size_t n;
	int64_t now;
};

void policy_config_defaults(struct policy_config *c)
{
	memset(c, 0, sizeof(*c)); /* padding too: configs compare with memcmp */
	c->min_safe_headroom = 5.0;
	c->weekly_weight = 5.0;
	c->soft_headroom = 5.0;
	c->switch_margin = 15.0;
	c->soft_cooldown_s = 900;
	c->usage_max_age_s = 21600;
	c->auto_reset_credits = false;
}

static void say(char *out, size_t outsz, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void say(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
}

static const char *label_of(const struct policy_account *a)
{
	return a->label ? a->label : a->id ? a->id : "?";
}

static bool fresh(const struct ctx *x, const struct usage *u)
{
	return u && !u->error && u->fetched_at > 0 &&
	       x->now - u->fetched_at <= x->c->usage_max_age_s;
}

/* The used % of a window now: a window whose reset time has passed starts over at 0. */
static double used_now(const struct usage_window *w, int64_t now)
{
	if (w->resets_at > 0 && w->resets_at <= now) {
		return 0.0;
	}
	return w->used_percent < 0 ? 0.0 : w->used_percent;
}

static int64_t reset_now(const struct usage_window *w, int64_t now)
{
	return w->resets_at > now ? w->resets_at : 0;
}

/*
 * A full window (>= 100 % and not yet reset): the first one found names the reason, and
 * free_at becomes the latest reset among them (0 once any is unknown). Old data only counts
 * with a known reset time still ahead: the limit cannot have lifted before it.
 */
static void check_window(const struct usage_window *w, const char *name, int64_t now,
                         struct cand *k, bool *any_unknown)
{
	if (!w->present || used_now(w, now) < 100.0 || (k->stale && w->resets_at <= 0)) {
		return;
	}
	if (!k->exhausted) {
		k->exhausted = true;
		say(k->why, sizeof(k->why), "its %s is used up", name);
	}
	if (w->resets_at <= 0) {
		*any_unknown = true;
	} else if (w->resets_at > k->free_at) {
		k->free_at = w->resets_at;
	}
}

static void check_windows(const struct usage *u, int64_t now, struct cand *k)
{
	bool unknown = false;
	char name[96];

	say(name, sizeof(name), "%s window", usage_window_label(usage_window_kind(&u->primary)));
	check_window(&u->primary, name, now, k, &unknown);
	say(name, sizeof(name), "%s window", usage_window_label(usage_window_kind(&u->secondary)));
	check_window(&u->secondary, name, now, k, &unknown);
	for (size_t i = 0; i < u->nlimits; i++) {
		const struct usage_limit *l = &u->limits[i];
		say(name, sizeof(name), "'%s' limit",
		    l->limit_name ? l->limit_name
		    : l->limit_id ? l->limit_id
		                  : "additional");
		check_window(&l->primary, name, now, k, &unknown);
		check_window(&l->secondary, name, now, k, &unknown);
	}
	if (unknown) {
		k->free_at = 0;
	}
}

static const char *reached_text(const char *type)
{
	return strstr(type, "credits")       ? "its credits are used up"
	       : strstr(type, "usage_limit") ? "it has reached its usage limit"
	                                     : "it has reached its rate limit";
}

static bool workspace_wide(const struct usage *u)
{
	return u->rate_limit_reached_type &&
	       strncmp(u->rate_limit_reached_type, "workspace_", 10) == 0;
}

/* An account of the same workspace reported a workspace-wide limit. */
static void check_workspace(const struct ctx *x, size_t i, struct cand *k)
{
	const char *ws = x->a[i].workspace;
	struct cand lift = {0};

	for (size_t j = 0; ws && !k->exhausted && j < x->n; j++) {
		const struct usage *u = x->a[j].usage;
		if (j == i || !x->a[j].workspace || strcmp(x->a[j].workspace, ws) != 0 ||
		    !fresh(x, u) || !workspace_wide(u)) {
			continue;
		}
		k->exhausted = true;
		say(k->why, sizeof(k->why), "its workspace is at its limit (%s, reported for %s)",
		    reached_text(u->rate_limit_reached_type), label_of(&x->a[j]));
		check_windows(u, x->now, &lift);
		k->free_at = lift.free_at;
	}
}

/* Limits that stop the account now; old usage still counts for windows not yet reset. */
static void check_exhausted(const struct ctx *x, size_t i, struct cand *k)
{
	const struct policy_account *a = &x->a[i];
	const struct usage *u = a->usage;

	if (u && !u->error) {
		k->stale = !fresh(x, u);
		check_windows(u, x->now, k);
	}
	if (fresh(x, u) && u->rate_limit_reached_type) {
		k->exhausted = true;
		say(k->why, sizeof(k->why), "%s", reached_text(u->rate_limit_reached_type));
	} else if (fresh(x, u) && !k->exhausted && usage_credits_depleted(&u->credits)) {
		k->exhausted = true;
		say(k->why, sizeof(k->why), "its credits balance is 0");
	}
	if (!k->exhausted) {
		check_workspace(x, i, k);
	}
	if (a->exhausted_until > x->now) {
		if (!k->exhausted) {
			say(k->why, sizeof(k->why), "its usage limit was reached");
		}
		k->exhausted = true;
		k->free_at = a->exhausted_until > k->free_at ? a->exhausted_until : k->free_at;
	}
}

static void unknown_why(const struct ctx *x, const struct usage *u, struct cand *k)
{
	char ago[32];

	k->tier = TIER_UNKNOWN;
	if (!u) {
		say(k->why, sizeof(k->why), "its usage is unknown");
	} else if (u->error) {
		say(k->why, sizeof(k->why), "its usage is unknown (%s)", u->error);
	} else if (u->fetched_at <= 0) {
		say(k->why, sizeof(k->why), "its usage is unknown (no fetch time)");
	} else if (x->now - u->fetched_at > x->c->usage_max_age_s) {
		util_format_countdown(x->now - u->fetched_at, ago, sizeof(ago));
		say(k->why, sizeof(k->why), "its usage is unknown (the last data is %s old)", ago);
	} else {
		say(k->why, sizeof(k->why), "its usage is unknown (no 5-hour or weekly window)");
	}
}

/* Tier and bottleneck from the 5-hour and weekly windows, classified by duration. */
static void headroom(const struct ctx *x, const struct usage *u, struct cand *k)
{
	const struct usage_window *f = fresh(x, u) ? usage_five_hour(u) : NULL;
	const struct usage_window *w = fresh(x, u) ? usage_weekly(u) : NULL;
	double hf = f ? 100.0 - used_now(f, x->now) : 0.0;
	double hw = w ? (100.0 - used_now(w, x->now)) * x->c->weekly_weight : 0.0;

	if (!f && !w) {
		unknown_why(x, u, k);
		return;
	}
	if (f && (!w || hf <= hw)) {
		k->bottleneck = hf;
		k->left = hf;
		k->window = "5-hour";
		k->reset = reset_now(f, x->now);
	} else {
		k->bottleneck = hw;
		k->left = hw / x->c->weekly_weight;
		k->window = "weekly";
		k->reset = reset_now(w, x->now);
	}
	if ((!f || used_now(f, x->now) <= 0.0) && (!w || used_now(w, x->now) <= 0.0)) {
		k->tier = TIER_UNUSED;
	} else {
		k->tier = k->bottleneck >= x->c->min_safe_headroom ? TIER_SAFE : TIER_UNSAFE;
	}
}

static void assess(const struct ctx *x, size_t i, struct cand *k)
{
	const struct policy_account *a = &x->a[i];

	memset(k, 0, sizeof(*k));
	if (!a->chatgpt) {
		say(k->why, sizeof(k->why), "it uses an API key");
		return;
	}
	check_exhausted(x, i, k);
	if (k->exhausted) {
		return;
	}
	if (a->needs_relogin) {
		say(k->why, sizeof(k->why), "it needs a new login");
		return;
	}
	k->usable = true;
	headroom(x, a->usage, k);
}

static int cmp_num(double a, double b)
{
	return a < b - HEADROOM_EPSILON ? -1 : a > b + HEADROOM_EPSILON ? 1 : 0;
}

/* Earlier first; an unknown reset (0) after every known one. */
static int cmp_reset(int64_t a, int64_t b)
{
	if (a == b) {
		return 0;
	}
	if (!a || !b) {
		return a ? -1 : 1;
	}
	return a < b ? -1 : 1;
}

/* < 0 when account i (assessed as ki) ranks ahead of j (kj); both usable. */
static int rank_cmp(const struct ctx *x, size_t i, const struct cand *ki, size_t j,
                    const struct cand *kj)
{
	int r = (int)ki->tier - (int)kj->tier;

	if (!r && ki->tier == TIER_SAFE) {
		r = cmp_reset(ki->reset, kj->reset);
		r = r ? r : -cmp_num(ki->bottleneck, kj->bottleneck);
	} else if (!r && ki->tier == TIER_UNSAFE) {
		r = -cmp_num(ki->bottleneck, kj->bottleneck);
		r = r ? r : cmp_reset(ki->reset, kj->reset);
	}
	if (!r && x->a[i].last_used_at != x->a[j].last_used_at) {
		r = x->a[i].last_used_at < x->a[j].last_used_at ? -1 : 1;
	}
	return r ? r : i < j ? -1 : i > j ? 1 : 0;
}

/*
 * The best-ranked account that may be switched to (not `exclude`, not disabled, usable) and,
 * when min_bottleneck >= 0, has known headroom of at least that much. Returns it or -1.
 */
static long pick(const struct ctx *x, long exclude, double min_bottleneck, struct cand *best)
{
	struct cand k;
	long found = -1;

	for (size_t i = 0; i < x->n; i++) {
		if ((long)i == exclude || x->a[i].disabled) {
			continue;
		}
		assess(x, i, &k);
		if (!k.usable || (min_bottleneck >= 0 &&
		                  (k.tier == TIER_UNKNOWN || k.bottleneck < min_bottleneck))) {
			continue;
		}
		if (found < 0 || rank_cmp(x, i, &k, (size_t)found, best) < 0) {
			found = (long)i;
			*best = k;
		}
	}
	return found;
}

/*
 * Plain words about a usable account: "bob (5678abcd) has 88 % of its 5-hour window left
 * (resets in 1h 2m)", "... has not used any of its windows yet", "the usage of ... is unknown".
 */
static void describe(const struct ctx *x, size_t i, const struct cand *k, char *out, size_t outsz)
{
	const char *name = label_of(&x->a[i]);
	char left[32];

	if (k->tier == TIER_UNUSED) {
		say(out, outsz, "%s has not used any of its windows yet", name);
		return;
	}
	if (k->tier == TIER_UNKNOWN) {
		say(out, outsz, "%s: %s", name, k->why);
		return;
	}
	if (k->reset) {
		util_format_countdown(k->reset - x->now, left, sizeof(left));
	}
	say(out, outsz, "%s has %s%.0f %% of its %s window left%s%s%s", name,
	    k->tier == TIER_UNSAFE ? "only " : "", k->left, k->window,
	    k->reset ? " (resets in " : "", k->reset ? left : "", k->reset ? ")" : "");
}

/* The account that could be chosen (or the current one) that frees up first, or -1; its
 * time into *when and why it is spent into why (may be NULL). */
static long first_free(const struct ctx *x, long current, int64_t *when, char *why, size_t whysz)
{
	struct cand k;
	long who = -1;

	*when = 0;
	for (size_t i = 0; i < x->n; i++) {
		const struct policy_account *a = &x->a[i];
		if (!a->chatgpt || a->needs_relogin || (a->disabled && (long)i != current)) {
			continue;
		}
		assess(x, i, &k);
		if (k.exhausted && k.free_at > x->now && (!*when || k.free_at < *when)) {
			*when = k.free_at;
			who = (long)i;
			if (why) {
				say(why, whysz, "%s", k.why);
			}
		}
	}
	return who;
}

static int64_t earliest_free(const struct ctx *x, long current)
{
	int64_t when;

	first_free(x, current, &when, NULL, 0);
	return when;
}

long policy_first_free(const struct policy_config *c, const struct policy_account *accounts,
                       size_t n, long current, int64_t now, int64_t *when, char *why, size_t whysz)
{
	struct ctx x = {c, accounts, n, now};

	if (why && whysz) {
		why[0] = '\0';
	}
	return first_free(&x, current, when, why, whysz);
}

static void keep(struct policy_decision *d, long current, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void keep(struct policy_decision *d, long current, const char *fmt, ...)
{
	va_list ap;

	d->action = POLICY_KEEP;
	d->index = current;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

static void switch_to(const struct ctx *x, struct policy_decision *d, long to, const struct cand *k,
                      const char *why_leave)
{
	char desc[192];

	describe(x, (size_t)to, k, desc, sizeof(desc));
	d->action = POLICY_SWITCH;
	d->index = to;
	say(d->reason, sizeof(d->reason), "%s; %s", why_leave, desc);
}

/* The current account cannot go on (or there is none): the best other one, whatever it is. */
static void decide_hard(const struct ctx *x, long current, const struct cand *cur,
                        struct policy_decision *d)
{
	char why[256], left[32];
	struct cand best;
	long to = pick(x, current, -1, &best);

	if (current < 0) {
		say(why, sizeof(why), "no account is current");
	} else {
		say(why, sizeof(why), "%s cannot go on%s%s", label_of(&x->a[current]),
		    cur->why[0] ? ": " : "", cur->why);
	}
	if (to >= 0) {
		switch_to(x, d, to, &best, why);
		return;
	}
	d->action = POLICY_NONE_USABLE;
	d->index = current;
	d->retry_at = earliest_free(x, current);
	if (d->retry_at) {
		util_format_countdown(d->retry_at - x->now, left, sizeof(left));
	}
	say(d->reason, sizeof(d->reason), "%s, and no other account can be used; %s%s", why,
	    d->retry_at ? "the first account is free again in " : "no reset time is known",
	    d->retry_at ? left : "");
}

/* SOFT: leave only a nearly exhausted account, for a clearly better one, once per cooldown. */
static void decide_soft(const struct ctx *x, long current, const struct cand *cur,
                        int64_t last_soft, struct policy_decision *d)
{
	int64_t since = x->now - last_soft;
	char left[32], why[200];
	struct cand best;
	long to;

	describe(x, (size_t)current, cur, why, sizeof(why));
	if (cur->bottleneck > x->c->soft_headroom) {
		keep(d, current, "%s, enough to stay", why);
		return;
	}
	if (last_soft > 0 && since < x->c->soft_cooldown_s) {
		util_format_countdown(x->c->soft_cooldown_s - since, left, sizeof(left));
		keep(d, current,
		     "%s, but the last early switch was recent; the next one is allowed in %s", why,
		     left);
		return;
	}
	to = pick(x, current, cur->bottleneck + x->c->switch_margin, &best);
	if (to < 0) {
		keep(d, current, "%s, but no other account has at least %.0f points more left", why,
		     x->c->switch_margin);
		return;
	}
	switch_to(x, d, to, &best, why);
}

/* INITIAL: the best account, unless the current one is within the margin of it. */
static void decide_initial(const struct ctx *x, long current, const struct cand *cur,
                           struct policy_decision *d)
{
	const char *name = label_of(&x->a[current]);
	char desc[192], other[192];
	struct cand best;
	long to = pick(x, current, -1, &best);

	if (to < 0) {
		keep(d, current, "%s can be used and no other account can", name);
		return;
	}
	describe(x, (size_t)current, cur, desc, sizeof(desc));
	describe(x, (size_t)to, &best, other, sizeof(other));
	if (rank_cmp(x, (size_t)current, cur, (size_t)to, &best) < 0) {
		keep(d, current, "%s; no other account is better", desc);
		return;
	}
	if (best.tier == TIER_UNKNOWN) {
		keep(d, current, "%s; staying on %s: the usage of %s is unknown", desc, name,
		     label_of(&x->a[to]));
		return;
	}
	if (cmp_num(best.bottleneck, cur->bottleneck + x->c->switch_margin) < 0) {
		keep(d, current, "%s; %s; staying on %s: the difference is under %.0f points", desc,
		     other, name, x->c->switch_margin);
		return;
	}
	switch_to(x, d, to, &best, desc);
}

/* Reasons to stay on a usable current account whatever the others look like. */
static bool keep_anyway(const struct ctx *x, long current, const struct cand *cur,
                        struct policy_decision *d)
{
	const struct policy_account *a = &x->a[current];

	if (a->disabled) {
		keep(d, current, "%s is excluded from automatic switching and can still be used",
		     label_of(a));
	} else if (cur->tier == TIER_UNUSED) {
		keep(d, current, "%s has not used any of its windows yet", label_of(a));
	} else if (cur->tier == TIER_UNKNOWN) {
		keep(d, current, "staying on %s: %s", label_of(a), cur->why);
	} else {
		return false;
	}
	return true;
}

void policy_decide(const struct policy_config *c, const struct policy_account *accounts, size_t n,
                   long current, enum policy_mode mode, int64_t now, int64_t last_soft_switch,
                   struct policy_decision *d)
{
	struct ctx x = {.c = c, .a = accounts, .n = n, .now = now};
	struct cand cur = {0};

	memset(d, 0, sizeof(*d));
	d->index = -1;
	if (current < 0 || (size_t)current >= n) {
		decide_hard(&x, -1, &cur, d);
		return;
	}
	if (mode != POLICY_HARD && !accounts[current].chatgpt) {
		keep(d, current, "%s uses an API key, which has no usage windows to manage",
		     label_of(&accounts[current]));
		return;
	}
	assess(&x, (size_t)current, &cur);
	if (mode == POLICY_HARD || !cur.usable) {
		decide_hard(&x, current, &cur, d);
	} else if (!keep_anyway(&x, current, &cur, d)) {
		if (mode == POLICY_SOFT) {
			decide_soft(&x, current, &cur, last_soft_switch, d);
		} else {
			decide_initial(&x, current, &cur, d);
		}
	}
}

long policy_next(const struct policy_config *c, const struct policy_account *accounts, size_t n,
                 long current, int64_t now)
{
	struct policy_decision d;

	policy_decide(c, accounts, n, current, POLICY_HARD, now, 0, &d);
	return d.action == POLICY_SWITCH ? d.index : -1;
}

bool policy_explain(const struct policy_config *c, const struct policy_account *accounts, size_t n,
                    size_t i, int64_t now, char *out, size_t outsz)
{
	struct ctx x = {.c = c, .a = accounts, .n = n, .now = now};
	char left[32];
	struct cand k;

	assess(&x, i, &k);
	if (k.usable) {
		describe(&x, i, &k, out, outsz);
		return true;
	}
	if (k.free_at > now) {
		util_format_countdown(k.free_at - now, left, sizeof(left));
	}
	say(out, outsz, "%s cannot be used: %s%s%s%s", label_of(&accounts[i]), k.why,
	    k.free_at > now ? " (free again in " : "", k.free_at > now ? left : "",
	    k.free_at > now ? ")" : "");
	return false;
}
