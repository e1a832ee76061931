#include "session/maintain.h"

#include "base/log.h"
#include "base/util.h"
#include "base/worker.h"
#include "net/token.h"
#include "net/usage_fetch.h"
#include "store/jwt.h"
#include "store/usage_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_AFTER_S     MAINTAIN_RECHECK_MAX_S /* no re-check after this long without a turn */
#define PREWARM_JITTER_S 20 /* so two sessions rarely renew at the same moment */
#define PREWARM_RETRY_S  60

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* A uniform random number in [lo, hi]. */
static int64_t random_between(int64_t lo, int64_t hi)
{
	uint32_t r = 0;

	util_random_bytes(&r, sizeof(r));
	return lo + (int64_t)(r % (uint32_t)(hi - lo + 1));
}

static void schedule(struct maintain *m, struct ev_timer *t, ev_timer_cb cb, int64_t secs)
{
	ev_timer_start(m->env->ev, t, cb, (secs > 0 ? secs : 1) * 1000000);
}

/* A short fingerprint of a token, so the part keeps no secret of its own. */
static void token_hash(const char *tok, char out[17])
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = tok ? tok : ""; *p; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- periodic re-check ---- */

struct recheck_job {
	struct maintain *m;
	const struct paths *paths;
	char **ids;
	size_t n;
};

static void recheck_fire(struct ev_timer *t);

static void arm_recheck(struct maintain *m)
{
	if (m->recheck_armed || m->recheck_running) {
		return;
	}
	m->recheck_armed = true;
	schedule(m, &m->recheck_tm, recheck_fire,
	         random_between(MAINTAIN_RECHECK_MIN_S, MAINTAIN_RECHECK_MAX_S));
}

static void recheck_run(void *arg)
{
	struct recheck_job *j = arg;
	struct usage *out = calloc(j->n + 1, sizeof(*out));

	if (!out) {
		return;
	}
	if (usage_fetch_all(j->paths, (const char *const *)j->ids, j->n, out, NULL, NULL) == 0) {
		usage_cache_store(j->paths, (const char *const *)j->ids, out, j->n);
	}
	for (size_t i = 0; i < j->n; i++) {
		usage_release(&out[i]);
	}
	free(out);
}

static void recheck_job_free(struct recheck_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->ids[i]);
	}
	free(j->ids);
	free(j);
}

static void recheck_done(void *arg)
{
	struct recheck_job *j = arg;
	struct maintain *m = j->m;

	recheck_job_free(j);
	if (!m) {
		return;
	}
	m->recheck_running = false;
	log_info("periodic usage check done");
	m->ops.checked(m->ops.ctx);
	arm_recheck(m);
}

static struct recheck_job *recheck_job_new(struct maintain *m)
{
	const struct store *s = &m->pool->cur.store;
	struct recheck_job *j = calloc(1, sizeof(*j));

	if (!j || !(j->ids = calloc(s->n + 1, sizeof(*j->ids)))) {
		free(j);
		return NULL;
	}
	j->m = m;
	j->paths = m->env->paths;
	for (size_t i = 0; i < s->n; i++) {
		const struct account *a = &s->accounts[i];
		if (a->kind == ACCOUNT_CHATGPT && !a->disabled && !a->relogin_reason &&
		    (j->ids[j->n] = strdup(a->id))) {
			j->n++;
		}
	}
	return j;
}

static void recheck_fire(struct ev_timer *t)
{
	struct maintain *m = EV_CONTAINER_OF(t, struct maintain, recheck_tm);
	struct recheck_job *j;

	m->recheck_armed = false;
	if (now_s() - m->last_activity > IDLE_AFTER_S) {
		return; /* idle: the next turn arms it again */
	}
	j = recheck_job_new(m);
	if (!j) {
		return;
	}
	m->recheck_running = true;
	if (worker_submit(m->env->worker, recheck_run, recheck_done, j)) {
		m->recheck_running = false;
		recheck_job_free(j);
		arm_recheck(m);
	}
}

/* ---- token prewarm ---- */

struct prewarm_job {
	struct maintain *m; /* NULL once released */
	const struct paths *paths;
	char id[64];
	struct account fresh;
	int err;
	char msg[256];
};

static void prewarm_fire(struct ev_timer *t);

static void prewarm_run(void *arg)
{
	struct prewarm_job *j = arg;

	j->err = token_ensure_fresh(j->paths, j->id, false, &j->fresh, j->msg, sizeof(j->msg));
}

static void prewarm_done(void *arg)
{
	struct prewarm_job *j = arg;
	struct maintain *m = j->m;
	char h[17];

	if (m) {
		m->prewarm_running = false;
	}
	if (!m || j->err == -ECANCELED) {
		/* shutting down */
	} else if (j->err == -EKEYREVOKED) {
		log_warn("cannot renew the token of the active account: %s", j->msg);
	} else if (j->err) {
		log_info("token renewal failed (%s); trying again in a minute", j->msg);
		schedule(m, &m->prewarm_tm, prewarm_fire, PREWARM_RETRY_S);
	} else if (strcmp(j->fresh.id, m->active_id) == 0) {
		token_hash(j->fresh.access_token, h);
		if (strcmp(h, m->active_access_hash) != 0) {
			m->ops.renewed(m->ops.ctx, &j->fresh);
		}
	}
	account_release(&j->fresh);
	free(j);
}

static void prewarm_fire(struct ev_timer *t)
{
	struct maintain *m = EV_CONTAINER_OF(t, struct maintain, prewarm_tm);
	struct prewarm_job *j;

	if (now_s() - m->last_activity > MAINTAIN_PREWARM_ACTIVE_S) {
		return; /* idle: the app-server asks when it needs a token, and we answer then */
	}
	if (m->ops.busy(m->ops.ctx) || m->prewarm_running) {
		schedule(m, &m->prewarm_tm, prewarm_fire, PREWARM_RETRY_S);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		return;
	}
	j->m = m;
	j->paths = m->env->paths;
	j->err = -ECANCELED;
	snprintf(j->id, sizeof(j->id), "%s", m->active_id);
	m->prewarm_running = true;
	log_info("renewing the token of the active account before it expires");
	if (worker_submit(m->env->worker, prewarm_run, prewarm_done, j)) {
		prewarm_done(j);
	}
}

void maintain_init(struct maintain *m, const struct session_env *env, const struct pool *pool,
                   const struct maintain_ops *ops)
{
	memset(m, 0, sizeof(*m));
	m->env = env;
	m->pool = pool;
	m->ops = *ops;
}

void maintain_release(struct maintain *m)
{
	ev_timer_stop(m->env->ev, &m->recheck_tm);
	ev_timer_stop(m->env->ev, &m->prewarm_tm);
}

void maintain_activity(struct maintain *m, int64_t now)
{
	m->last_activity = now;
	arm_recheck(m);
}

void maintain_logged_in(struct maintain *m, const struct account *active)
{
	int64_t exp = jwt_exp(active->access_token);

	snprintf(m->active_id, sizeof(m->active_id), "%s", active->id);
	token_hash(active->access_token, m->active_access_hash);
	ev_timer_stop(m->env->ev, &m->prewarm_tm);
	if (exp <= 0) {
		return;
	}
	schedule(m, &m->prewarm_tm, prewarm_fire,
	         exp - MAINTAIN_PREWARM_BEFORE_S + random_between(0, PREWARM_JITTER_S) - now_s());
}
