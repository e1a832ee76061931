/*
 * Usage limits of a ChatGPT account: the /wham/usage body and the app-server's
 * account/rateLimits notifications both become a struct usage, so the CLI and the runtime's
 * switch triggers reason about one shape. Windows are told apart by their duration, never by
 * the slot they arrive in.
 */
#ifndef CS_USAGE_H
#define CS_USAGE_H

#include "store/paths.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USAGE_SCHEMA_VERSION 1
/* Largest /wham/usage body we accept. */
#define USAGE_MAX_BODY (1024 * 1024)
/* At most this many usage requests run at once (usage_fetch_all). */
#define USAGE_MAX_IN_FLIGHT 4

struct usage_window {
	bool present;
	double used_percent;
	long window_minutes; /* 0 = unknown */
	int64_t resets_at;   /* Unix seconds; 0 = unknown */
};

struct usage_credits {
	bool known;
	bool has_credits;
	bool unlimited;
	char *balance; /* may be NULL */
};

struct usage_limit {
	char *limit_id; /* metered_feature */
	char *limit_name;
	struct usage_window primary, secondary;
};

struct usage {
	char *plan_type; /* may be NULL */
	struct usage_window primary, secondary;
	struct usage_credits credits;
	long reset_credits_available; /* -1 = unknown */
	/* The earliest expiry of an available reset credit (GET /wham/rate-limit-reset-credits,
	 * not /wham/usage), Unix seconds; 0 = unknown or none. */
	int64_t reset_credits_expire_at;
	struct usage_limit *limits; /* owned array of nlimits */
	size_t nlimits;
	char *rate_limit_reached_type; /* known values only; NULL otherwise */
	int64_t fetched_at;            /* Unix seconds */
	char *error;                   /* NULL on success; "usage unsupported" for API keys */
};

enum usage_window_kind {
	USAGE_WINDOW_OTHER = 0,
	USAGE_WINDOW_FIVE_HOUR,
	USAGE_WINDOW_DAILY,
	USAGE_WINDOW_WEEKLY,
	USAGE_WINDOW_MONTHLY,
	USAGE_WINDOW_ANNUAL,
};

/* Sets u to "nothing known" (reset_credits_available = -1). Does not free. */
void usage_init(struct usage *u);
/* Frees the contents and re-initialises; a zeroed or initialised usage is fine. */
void usage_release(struct usage *u);
/* Deep copy into dst (overwritten, not released). -ENOMEM. */
int usage_copy(struct usage *dst, const struct usage *src);

/* Credits in use and spent: has_credits, not unlimited, and a balance that reads <= 0. */
bool usage_credits_depleted(const struct usage_credits *c);

/* The kind of a window by its duration, with a 5 % tolerance. */
enum usage_window_kind usage_window_kind(const struct usage_window *w);

/* The unique window of that kind in either slot; NULL when none or when both slots are. */
const struct usage_window *usage_five_hour(const struct usage *u);
const struct usage_window *usage_weekly(const struct usage *u);

/*
 * Parses a /wham/usage body into u (initialised by the call; release it even on error).
 * Every field may be null or absent. -EINVAL when body is not a JSON object.
 */
int usage_parse(const char *body, struct usage *u);

/*
 * Converts the `rateLimits` object of account/rateLimits/updated or account/rateLimits/read
 * (borrowed) into u (initialised by the call). -EINVAL when it is not an object.
 */
int usage_from_rate_limits(const cJSON *rate_limits, struct usage *u);

/* The usage as JSON (cache and --json form; no secrets). NULL on -ENOMEM. */
cJSON *usage_to_json(const struct usage *u);
/* The reverse of usage_to_json (u initialised by the call). -EINVAL on a wrong shape. */
int usage_from_json(const cJSON *obj, struct usage *u);

/* A human label for a window kind ("5-hour", "weekly", ...). */
const char *usage_window_label(enum usage_window_kind kind);

#endif
