/*
 * Waiting for a reset when every account is spent. The session keeps running and the TUI stays
 * usable; at the reset time (a moment after, so the backend agrees) the account that frees up
 * first has its usage fetched again on the worker and written to the cache, and the supervisor
 * is woken to decide again. Nothing else wakes an idle process while parked.
 */
#ifndef CS_SESSION_PARK_H
#define CS_SESSION_PARK_H

#include "base/ev.h"
#include "session/part.h"

#include <stdbool.h>
#include <stdint.h>

#define PARK_AFTER_RESET_S 2  /* look this long after the announced reset */
#define PARK_RETRY_S       60 /* the fetch failed, or the account is still spent */

struct park_job;

struct park {
	const struct session_env *env; /* borrowed */
	void (*wake)(void *ctx);       /* the reset time passed and the usage was fetched again */
	void *ctx;
	char account_id[64];
	int64_t until; /* Unix seconds; 0 = not parked */
	struct ev_timer tm;
	struct park_job *job; /* the fetch under way, or NULL */
	/* The last park_spend_credit(): 0 or -errno, and what happened in plain words. */
	int spent_err;
	char spent_msg[256];
};

void park_init(struct park *p, const struct session_env *env, void (*wake)(void *ctx), void *ctx);
void park_release(struct park *p);

/* Waits for account_id's reset at `until` (Unix seconds; 0 = unknown: PARK_RETRY_S). */
void park_until(struct park *p, const char *account_id, int64_t until);
void park_cancel(struct park *p);
/*
 * Spends one rate-limit reset credit of account_id now (config.json auto_reset_credits: the
 * user asked for it), on the worker; wake() follows with spent_err and spent_msg set.
 */
void park_spend_credit(struct park *p, const char *account_id);
bool park_active(const struct park *p);

#endif
