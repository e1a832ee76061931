/*
 * Choosing the account: pure functions over what is known (usage, flags, last use, the
 * runtime's own knowledge of exhausted accounts). No I/O and no clock: `now` is an input, so
 * the same inputs always give the same decision and a test can replay a whole day.
 *
 * The ordering starts from the Rust tool's DeadlineAware policy (README "Policy"): accounts
 * untouched in every window first, then accounts with safe headroom by earliest reset, weekly
 * headroom weighted against 5-hour headroom, least recently used as the tie-breaker.
 * Hysteresis: a soft (proactive) switch needs a clear margin and respects a cooldown; a hard
 * limit always switches at once.
 */
#ifndef CS_POLICY_H
#define CS_POLICY_H

#include "policy/usage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_config {
	double min_safe_headroom; /* 5.0: bottleneck headroom (5-hour points) that counts as safe */
	double weekly_weight;     /* 5.0: one weekly point is worth this many 5-hour points */
	double soft_headroom;     /* 5.0: soft switch when the current bottleneck is at or below */
	double switch_margin;     /* 15.0: a soft switch needs this much more bottleneck headroom */
	int64_t soft_cooldown_s;  /* 900: at most one soft switch per cooldown */
	int64_t usage_max_age_s;  /* 21600: older usage counts as unknown */
	/* false: a rate-limit reset credit is spent only by `reset-usage`; true: `run` may spend
	 * one by itself when every account is spent (credits_pick, credits_consume). */
	bool auto_reset_credits;
};

/* The defaults above. */
void policy_config_defaults(struct policy_config *c);

/*
 * Reads $CODEX_SWITCH_HOME/config.json over the defaults. A missing file is fine. A bad file
 * or key returns -EINVAL with err naming the file and the key ("'/x/config.json': 'weekly_weight'
 * must be a number between 0.1 and 100"); c is then left at the defaults. A file that cannot
 * be read returns its -errno, with err saying so. Unknown keys are errors (README "Policy").
 */
int policy_config_load(const char *path, struct policy_config *c, char *err, size_t errsz);

struct policy_account {
	const char *id;        /* borrowed */
	const char *label;     /* "name (id8)", for reasons; borrowed */
	const char *workspace; /* ChatGPT account id (workspace), may be NULL; borrowed */
	bool chatgpt;          /* API-key accounts are never chosen */
	bool disabled;         /* auto_switch_disabled */
	bool needs_relogin;
	int64_t last_used_at;      /* Unix seconds; 0 = never */
	const struct usage *usage; /* NULL = unknown; borrowed */
	int64_t exhausted_until;   /* runtime knowledge; Unix seconds; 0 = none */
};

enum policy_mode {
	POLICY_INITIAL, /* choosing the start account: any better account wins, no cooldown */
	POLICY_SOFT,    /* the current one still works: switch only on a clear margin, cooldown */
	POLICY_HARD,    /* the current one cannot go on: the best usable other account */
};

enum policy_action {
	POLICY_KEEP,       /* stay on the current account */
	POLICY_SWITCH,     /* switch to `index` */
	POLICY_NONE_USABLE /* the current one cannot go on and no other can: wait for retry_at */
};

struct policy_decision {
	enum policy_action action;
	long index;       /* SWITCH: the account to switch to; KEEP: the current one (or -1) */
	char reason[256]; /* for people and the run log */
	int64_t retry_at; /* NONE_USABLE: the earliest moment an account frees up; 0 = unknown */
};

/*
 * Decides for accounts[0..n) with the current one at index `current` (-1 = none).
 * last_soft_switch is when the last soft switch happened (0 = never).
 * A usage whose rate_limit_reached_type is workspace_* makes every account of that workspace
 * unusable.
 */
void policy_decide(const struct policy_config *c, const struct policy_account *accounts, size_t n,
                   long current, enum policy_mode mode, int64_t now, int64_t last_soft_switch,
                   struct policy_decision *d);

/*
 * Plain words about accounts[i] at now, for people: "bob (5678abcd) has 88 % of its 5-hour
 * window left (resets in 1h 2m)", or why it cannot be used: "alice (1234abcd) cannot be used:
 * its 5-hour window is used up (free again in 2h 3m)". Returns whether it can be used (a
 * ChatGPT account, no new login needed, no limit reached; `disabled` is not looked at).
 */
bool policy_explain(const struct policy_config *c, const struct policy_account *accounts, size_t n,
                    size_t i, int64_t now, char *out, size_t outsz);

/*
 * Of the accounts that could be chosen (and the current one), the one whose limit lifts first:
 * its index (or -1 when none is spent with a known reset), the time into *when (Unix seconds,
 * 0 = none) and why it is spent now into why (may be NULL), e.g. "its 5-hour window is used up".
 */
long policy_first_free(const struct policy_config *c, const struct policy_account *accounts,
                       size_t n, long current, int64_t now, int64_t *when, char *why, size_t whysz);

/*
 * The account the policy would pick next if the current one stopped now (for `list` and
 * `usage --all`), or -1.
 */
long policy_next(const struct policy_config *c, const struct policy_account *accounts, size_t n,
                 long current, int64_t now);

#endif
