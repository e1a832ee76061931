#include "session/park.h"

#include "base/log.h"
#include "base/worker.h"
#include "net/credits.h"
#include "net/usage_fetch.h"
#include "store/usage_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct park_job {
	struct park *p; /* NULL once cancelled: done() only frees */
	const struct paths *paths;
	char id[64];
	bool spend; /* spend a reset credit instead of fetching the usage */
	int err;
	char msg[256];
};

void park_init(struct park *p, const struct session_env *env, void (*wake)(void *ctx), void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->env = env;
	p->wake = wake;
	p->ctx = ctx;
}

static void spend_run(struct park_job *j)
{
	struct credits_result res;
	char err[256], what[160];

	j->err = credits_consume(j->paths, j->id, &res, err, sizeof(err));
	if (j->err) {
		snprintf(j->msg, sizeof(j->msg), "%s", err);
	} else if (res.code != CREDITS_RESET) {
		j->err = -EAGAIN;
		snprintf(j->msg, sizeof(j->msg), "%s", credits_describe(&res, what, sizeof(what)));
	} else {
		snprintf(j->msg, sizeof(j->msg), "%s", credits_describe(&res, what, sizeof(what)));
	}
}

static void fetch_run(void *arg)
{
	struct park_job *j = arg;

	if (j->spend) {
		spend_run(j);
		return;
	}
	const char *ids[1] = {j->id};
	struct usage u;
	char err[256];

	j->err = usage_fetch(j->paths, j->id, &u, err, sizeof(err));
	if (!j->err && !u.error) {
		usage_cache_store(j->paths, ids, &u, 1);
	} else {
		log_info("usage check after the reset failed: %s", u.error ? u.error : err);
	}
	usage_release(&u);
}

static void fetch_done(void *arg)
{
	struct park_job *j = arg;
	struct park *p = j->p;

	if (p && j->spend) {
		p->spent_err = j->err;
		snprintf(p->spent_msg, sizeof(p->spent_msg), "%s", j->msg);
	}
	free(j);
	if (!p) {
		return;
	}
	p->job = NULL;
	p->until = 0;
	p->wake(p->ctx);
}

static void fire(struct ev_timer *t)
{
	struct park *p = EV_CONTAINER_OF(t, struct park, tm);
	struct park_job *j;

	if (p->job) {
		return;
	}
	if (!p->account_id[0]) {
		p->until = 0;
		p->wake(p->ctx); /* nothing to fetch: the cache decides */
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		ev_timer_start(p->env->ev, &p->tm, fire, (int64_t)PARK_RETRY_S * 1000000);
		return;
	}
	j->p = p;
	j->paths = p->env->paths;
	j->err = -ECANCELED;
	snprintf(j->id, sizeof(j->id), "%s", p->account_id);
	p->job = j;
	log_info("the reset time passed; checking the usage again");
	if (worker_submit(p->env->worker, fetch_run, fetch_done, j)) {
		p->job = NULL;
		free(j);
		ev_timer_start(p->env->ev, &p->tm, fire, (int64_t)PARK_RETRY_S * 1000000);
	}
}

void park_until(struct park *p, const char *account_id, int64_t until)
{
	int64_t now = (int64_t)time(NULL);
	int64_t delay = until > now ? until - now + PARK_AFTER_RESET_S : PARK_RETRY_S;

	snprintf(p->account_id, sizeof(p->account_id), "%s", account_id ? account_id : "");
	p->until = until ? until : now + PARK_RETRY_S;
	if (!p->job) {
		ev_timer_start(p->env->ev, &p->tm, fire, delay * 1000000);
	}
}

void park_spend_credit(struct park *p, const char *account_id)
{
	struct park_job *j;

	if (p->job) {
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		return;
	}
	ev_timer_stop(p->env->ev, &p->tm);
	j->p = p;
	j->paths = p->env->paths;
	j->spend = true;
	j->err = -ECANCELED;
	snprintf(j->msg, sizeof(j->msg), "codex-switch is shutting down");
	snprintf(j->id, sizeof(j->id), "%s", account_id);
	p->job = j;
	p->until = (int64_t)time(NULL);
	if (worker_submit(p->env->worker, fetch_run, fetch_done, j)) {
		p->job = NULL;
		free(j);
	}
}

void park_cancel(struct park *p)
{
	ev_timer_stop(p->env->ev, &p->tm);
	if (p->job) {
		p->job->p = NULL;
		p->job = NULL;
	}
	p->until = 0;
}

bool park_active(const struct park *p)
{
	return p->until != 0 || p->job != NULL;
}

void park_release(struct park *p)
{
	if (p->env && p->env->ev) {
		park_cancel(p);
	}
}
