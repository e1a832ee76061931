/*
 * "What next" for a running session: what the session learned about its accounts (which ran
 * out, and until when; when the last soft switch was) held beside the pool, and the policy's
 * decision over both. No I/O and no clock: `now` is an input, as in the policy itself.
 */
#ifndef CS_SESSION_CHOOSER_H
#define CS_SESSION_CHOOSER_H

#include "policy/policy.h"
#include "session/pool.h"

#include <stddef.h>
#include <stdint.h>

#define CHOOSER_MAX_MARKS     64
#define CHOOSER_UNKNOWN_RESET 3600 /* a limit without a reset time counts for an hour */

struct chooser_mark {
	char id[64];
	int64_t until; /* Unix seconds */
};

struct chooser {
	struct policy_config policy;
	struct chooser_mark marks[CHOOSER_MAX_MARKS];
	size_t nmarks;
	int64_t last_soft_switch; /* Unix seconds; 0 = never */
};

void chooser_init(struct chooser *c, const struct policy_config *policy);

/* Account id cannot serve until `until` (0 = unknown: CHOOSER_UNKNOWN_RESET from now). */
void chooser_mark(struct chooser *c, const char *id, int64_t until, int64_t now);
/* Every account of workspace (a ChatGPT account id) in snap, likewise. */
void chooser_mark_workspace(struct chooser *c, const struct pool_snapshot *snap,
                            const char *workspace, int64_t until, int64_t now);
/* When id is free again by the session's knowledge; 0 = not marked. */
int64_t chooser_marked_until(const struct chooser *c, const char *id);

/*
 * The policy's decision for the accounts of snap with active_id current. live (may be NULL)
 * is what the app-server last reported for the active account and wins over the cache.
 * -ENOMEM, else 0 with d filled.
 */
int chooser_decide(const struct chooser *c, const struct pool_snapshot *snap, const char *active_id,
                   const struct usage *live, enum policy_mode mode, int64_t now,
                   struct policy_decision *d);

/*
 * Of the accounts of snap, the one whose limit lifts first: its index or -1, when into *when
 * (0 = unknown) and why it is spent now into why (may be NULL), as policy_first_free().
 */
long chooser_first_free(const struct chooser *c, const struct pool_snapshot *snap,
                        const char *active_id, const struct usage *live, int64_t now, int64_t *when,
                        char *why, size_t whysz);

/* A switch of this mode happened at now (soft switches start the cooldown). */
void chooser_switched(struct chooser *c, enum policy_mode mode, int64_t now);

#endif
