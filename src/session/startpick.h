/*
 * The start account, chosen on the worker while the app-server starts: runstart_finish() with
 * its usage queries, then the chosen account's tokens read from the store. The answer comes
 * back on the loop through done(); what to do with it is the supervisor's decision.
 */
#ifndef CS_SESSION_STARTPICK_H
#define CS_SESSION_STARTPICK_H

#include "policy/policy.h"
#include "session/part.h"
#include "session/runstart.h"
#include "store/account.h"

#include <stdbool.h>

struct startpick {
	const struct session_env *env;      /* borrowed */
	const struct policy_config *policy; /* borrowed */
	struct runstart *start;             /* borrowed: the pending choice */
	bool provisional;                   /* the session started on start->provisional */
	/* On the loop. status: EXIT_SUCCESS with *account (borrowed for the call), an exit
	 * status that runstart has explained to the user, or -ECANCELED when the worker ended
	 * before the job ran. */
	void (*done)(void *ctx, int status, const struct account *account);
	void *ctx;
	bool pending; /* the job was submitted and has not reported */
};

/* start: a choice runstart_begin() left pending (start->pending). */
void startpick_init(struct startpick *sp, const struct session_env *env,
                    const struct policy_config *policy, struct runstart *start,
                    void (*done)(void *ctx, int status, const struct account *account), void *ctx);

/* Submits the choice to the worker: 0, or a negative errno (nothing was submitted). */
int startpick_begin(struct startpick *sp);

/* Queues runstart_settle() on the worker: the usage that chose the account is stored, so the
 * next pool load reads it. A full worker only delays that; it is logged. */
void startpick_store(struct startpick *sp);

/* The session ends: a choice still waiting for usage stops waiting. Before the worker is
 * destroyed (its pending jobs then report -ECANCELED). */
void startpick_cancel(struct startpick *sp);

#endif
