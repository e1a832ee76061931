/*
 * Reading the app-server's notifications for reasons to switch accounts. Pure functions over
 * parsed JSON: no I/O, no state.
 *
 * Hard: the account cannot serve the next turn (a usage-limit error that will not be retried,
 * a rate-limit update with a reached type, depleted credits or a window at 100 %).
 * Soft: it still can, but its bottleneck headroom is under the threshold (issue #5 acts on it).
 */
#ifndef CS_TRIGGER_H
#define CS_TRIGGER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

enum trigger_kind {
	TRIGGER_NONE,
	TRIGGER_SOFT,
	TRIGGER_HARD,
};

struct trigger {
	enum trigger_kind kind;
	char reason[160];    /* for people: "the 5-hour limit is at 100%" */
	char limit_id[64];   /* "codex", "codex_other", ... ("" for errors) */
	int64_t resets_at;   /* Unix seconds when the exhausted window resets; 0 = unknown */
	bool workspace_wide; /* a workspace_* reached type: every account of that workspace */
};

/* Weekly headroom counts this many times the 5-hour headroom (reference DeadlineAware). */
#define TRIGGER_WEEKLY_WEIGHT 5.0
/* Soft below this bottleneck headroom, in 5-hour percentage points. */
#define TRIGGER_SOFT_HEADROOM 5.0

/* Params of an `error` notification. */
void trigger_from_error(const cJSON *params, struct trigger *t);

/* Params of `account/rateLimits/updated` ({"rateLimits":{...}}). */
void trigger_from_rate_limits(const cJSON *params, struct trigger *t);

/* The latest reset among the windows at or over 100 % in a rateLimits snapshot, else the
 * earliest reset of any window; 0 when it has none. */
int64_t trigger_reset_time(const cJSON *rate_limits);

#endif
