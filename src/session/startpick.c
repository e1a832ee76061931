/*
 * The start account's choice on the worker. The job owns what it reads until done() has
 * seen it; the account's tokens are wiped with it (account_release).
 */
#include "session/startpick.h"

#include "base/log.h"
#include "base/worker.h"
#include "session/runstart.h"

#include <errno.h>
#include <stdlib.h>

struct pick_job {
	struct startpick *sp;
	int status; /* an exit status, or -ECANCELED until run */
	struct account account;
};

void startpick_init(struct startpick *sp, const struct session_env *env,
                    const struct policy_config *policy, struct runstart *start,
                    void (*done)(void *ctx, int status, const struct account *account), void *ctx)
{
	*sp = (struct startpick){.env = env,
	                         .policy = policy,
	                         .start = start,
	                         .provisional = start && start->provisional[0],
	                         .done = done,
	                         .ctx = ctx};
}

static void pick_run(void *arg)
{
	struct pick_job *j = arg;
	const struct startpick *sp = j->sp;
	const struct paths *p = sp->env->paths;

	j->status = runstart_finish(p, sp->policy, sp->start);
	if (j->status == EXIT_SUCCESS && sp->provisional) {
		/* A switch to another account writes auth.json itself. */
		j->status = runstart_fresh(p, sp->start->id, &j->account);
	} else if (j->status == EXIT_SUCCESS) {
		j->status = runstart_tokens(p, sp->start->id, &j->account);
	}
}

static void pick_done(void *arg)
{
	struct pick_job *j = arg;
	struct startpick *sp = j->sp;

	sp->pending = false;
	sp->done(sp->ctx, j->status, j->status == EXIT_SUCCESS ? &j->account : NULL);
	account_release(&j->account);
	free(j);
}

int startpick_begin(struct startpick *sp)
{
	struct pick_job *j = calloc(1, sizeof(*j));
	int r;

	if (!j) {
		return -ENOMEM;
	}
	j->sp = sp;
	j->status = -ECANCELED;
	r = worker_submit(sp->env->worker, pick_run, pick_done, j);
	if (r) {
		free(j);
		return r;
	}
	sp->pending = true;
	return 0;
}

static void store_run(void *arg)
{
	struct startpick *sp = arg;

	runstart_settle(sp->start);
}

static void store_done(void *arg)
{
	(void)arg;
}

void startpick_store(struct startpick *sp)
{
	if (worker_submit(sp->env->worker, store_run, store_done, sp)) {
		log_warn("the worker is busy; the usage of the start is read on the next load");
	}
}

void startpick_cancel(struct startpick *sp)
{
	if (sp->pending) {
		runstart_cancel(sp->start); /* no waiting for usage nobody needs */
	}
}
