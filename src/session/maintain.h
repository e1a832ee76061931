/*
 * Keeping a running session healthy without the user: while the session is in use it re-checks
 * every account's usage at a random 15-45 minute interval, and renews the active account's
 * token a few minutes before it expires, so the app-server never has to ask. Network work
 * runs on the worker; nothing here wakes an idle process.
 */
#ifndef CS_SESSION_MAINTAIN_H
#define CS_SESSION_MAINTAIN_H

#include "base/ev.h"
#include "session/part.h"
#include "session/pool.h"
#include "store/account.h"

#include <stdbool.h>
#include <stdint.h>

#define MAINTAIN_RECHECK_MIN_S    (15 * 60)
#define MAINTAIN_RECHECK_MAX_S    (45 * 60)
#define MAINTAIN_PREWARM_ACTIVE_S (10 * 60) /* renew only when a turn happened this recently */
#define MAINTAIN_PREWARM_BEFORE_S (5 * 60)  /* token_ensure_fresh renews within this of expiry */

struct maintain_ops {
	void *ctx;
	/* A usage re-check finished (usage-cache.json was updated). */
	void (*checked)(void *ctx);
	/* The active account's token was renewed; fresh is borrowed for the call. */
	void (*renewed)(void *ctx, const struct account *fresh);
	/* A login is under way: a renewal waits. */
	bool (*busy)(void *ctx);
};

struct maintain {
	const struct session_env *env; /* borrowed */
	const struct pool *pool;       /* borrowed: whose usage to re-check */
	struct maintain_ops ops;
	char active_id[64];
	char active_access_hash[17]; /* to tell renewed tokens from the same ones */
	int64_t last_activity;       /* Unix seconds of the last turn; 0 = none yet */
	bool recheck_armed, recheck_running, prewarm_running;
	struct ev_timer recheck_tm, prewarm_tm;
};

void maintain_init(struct maintain *m, const struct session_env *env, const struct pool *pool,
                   const struct maintain_ops *ops);
void maintain_release(struct maintain *m);

/* A turn started now: arms the re-check. */
void maintain_activity(struct maintain *m, int64_t now);
/* The app-server holds active's tokens (borrowed for the call): plans the renewal. */
void maintain_logged_in(struct maintain *m, const struct account *active);

#endif
