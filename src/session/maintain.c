/*
 * Keeping a running session healthy without the user: it notices activity (each turn/start,
 * also remembered per thread so a turn can be re-submitted later), re-checks every account's
 * usage at a random 15-45 minute interval while the session is in use, and renews the active
 * account's token a few minutes before it expires, so the app-server never has to ask.
 * Network work runs on the worker thread; nothing here wakes an idle process.
 */
#include "session/session_internal.h"

#include "store/jwt.h"
#include "base/log.h"
#include "store/store.h"
#include "net/token.h"
#include "store/usage_cache.h"
#include "net/usage_fetch.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RECHECK_MIN_S    (15 * 60)
#define RECHECK_MAX_S    (45 * 60)
#define IDLE_AFTER_S     RECHECK_MAX_S /* no re-check after this long without a turn */
#define PREWARM_ACTIVE_S (10 * 60)     /* renew only when a turn happened this recently */
#define PREWARM_BEFORE_S (5 * 60)      /* token_ensure_fresh renews within this of expiry */
#define PREWARM_JITTER_S 20            /* so two sessions rarely renew at the same moment */
#define PREWARM_RETRY_S  60
#define MAX_TURNS        32            /* threads whose last turn/start is remembered */
#define MAX_TURN_BYTES   (1024 * 1024) /* the proxy hands over at most this much anyway */

struct rt_turn {
	char thread[128];
	char *json; /* the whole turn/start request, as the TUI sent it */
	size_t len;
	struct rt_turn *next;
};

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

static void schedule(struct rt *rt, struct ev_timer *t, ev_timer_cb cb, int64_t secs)
{
	ev_timer_start(proxy_loop(rt->proxy), t, cb, (secs > 0 ? secs : 1) * 1000000);
}

/* ---- remembered turns ---- */

static void turn_free(struct rt_turn *t)
{
	free(t->json);
	free(t);
}

static void remember_turn(struct rt *rt, const char *json, size_t len)
{
	cJSON *msg = cJSON_ParseWithLength(json, len);
	const cJSON *tid = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(msg, "params"), "threadId");
	struct rt_turn **p, *t;

	if (!cJSON_IsString(tid) || len > MAX_TURN_BYTES) {
		cJSON_Delete(msg);
		return;
	}
	for (p = &rt->turns; *p; p = &(*p)->next) {
		if (strcmp((*p)->thread, tid->valuestring) == 0) {
			t = *p;
			*p = t->next;
			turn_free(t);
			rt->nturns--;
			break;
		}
	}
	t = calloc(1, sizeof(*t));
	if (t && (t->json = malloc(len + 1))) {
		memcpy(t->json, json, len);
		t->json[len] = '\0';
		t->len = len;
		snprintf(t->thread, sizeof(t->thread), "%s", tid->valuestring);
		t->next = rt->turns;
		rt->turns = t;
		rt->nturns++;
	} else {
		free(t);
	}
	cJSON_Delete(msg);
	/* Forget the oldest beyond the limit. */
	for (p = &rt->turns; *p && rt->nturns > MAX_TURNS; p = &(*p)->next) {
		if (!(*p)->next) {
			turn_free(*p);
			*p = NULL;
			rt->nturns--;
			break;
		}
	}
}

/* ---- periodic re-check ---- */

struct recheck_job {
	struct rt *rt;
	const struct paths *paths;
	char **ids;
	size_t n;
};

static void recheck_fire(struct ev_timer *t);

static void arm_recheck(struct rt *rt)
{
	if (rt->recheck_armed || rt->recheck_running) {
		return;
	}
	rt->recheck_armed = true;
	schedule(rt, &rt->recheck_tm, recheck_fire, random_between(RECHECK_MIN_S, RECHECK_MAX_S));
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
	struct rt *rt = j->rt;

	recheck_job_free(j);
	rt->recheck_running = false;
	if (rt->phase == RT_RUNNING) {
		log_info("periodic usage check done");
		switcher_consider(rt, POLICY_SOFT,
		                  "the periodic usage check found a better account");
		arm_recheck(rt);
	}
}

static struct recheck_job *recheck_job_new(struct rt *rt)
{
	struct recheck_job *j = calloc(1, sizeof(*j));
	struct store s = {0};
	char err[256];

	if (!j || store_load(rt->cfg->paths, &s, err, sizeof(err))) {
		free(j);
		return NULL;
	}
	j->rt = rt;
	j->paths = rt->cfg->paths;
	j->ids = calloc(s.n + 1, sizeof(*j->ids));
	for (size_t i = 0; j->ids && i < s.n; i++) {
		const struct account *a = &s.accounts[i];
		if (a->kind == ACCOUNT_CHATGPT && !a->disabled && !a->relogin_reason) {
			j->ids[j->n++] = strdup(a->id);
		}
	}
	store_release(&s);
	if (!j->ids) {
		free(j);
		return NULL;
	}
	return j;
}

static void recheck_fire(struct ev_timer *t)
{
	struct rt *rt = EV_CONTAINER_OF(t, struct rt, recheck_tm);
	struct recheck_job *j;

	rt->recheck_armed = false;
	if (rt->phase != RT_RUNNING || now_s() - rt->last_activity > IDLE_AFTER_S) {
		return; /* idle: the next turn arms it again */
	}
	j = recheck_job_new(rt);
	if (!j) {
		return;
	}
	rt->recheck_running = true;
	if (worker_submit(rt->worker, recheck_run, recheck_done, j)) {
		rt->recheck_running = false;
		recheck_job_free(j);
		arm_recheck(rt);
	}
}

/* ---- token prewarm ---- */

struct prewarm_job {
	struct rt *rt;
	const struct paths *paths;
	char id[UTIL_UUID_LEN + 1];
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
	struct rt *rt = j->rt;

	rt->prewarm_running = false;
	if (j->err == -ECANCELED || rt->phase != RT_RUNNING) {
		/* shutting down */
	} else if (j->err == -EKEYREVOKED) {
		log_warn("cannot renew the token of %s: %s", rt->active.name, j->msg);
	} else if (j->err) {
		log_info("token renewal failed (%s); trying again in a minute", j->msg);
		schedule(rt, &rt->prewarm_tm, prewarm_fire, PREWARM_RETRY_S);
	} else if (strcmp(j->fresh.id, rt->active.id) == 0 && j->fresh.access_token &&
	           rt->active.access_token &&
	           strcmp(j->fresh.access_token, rt->active.access_token) != 0) {
		switcher_relogin_active(rt, &j->fresh);
	}
	account_release(&j->fresh);
	free(j);
}

static void prewarm_fire(struct ev_timer *t)
{
	struct rt *rt = EV_CONTAINER_OF(t, struct rt, prewarm_tm);
	struct prewarm_job *j;

	if (rt->phase != RT_RUNNING || now_s() - rt->last_activity > PREWARM_ACTIVE_S) {
		return; /* idle: the app-server asks when it needs a token, and we answer then */
	}
	if (rt->login || rt->prewarm_running) {
		schedule(rt, &rt->prewarm_tm, prewarm_fire, PREWARM_RETRY_S);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		return;
	}
	j->rt = rt;
	j->paths = rt->cfg->paths;
	j->err = -ECANCELED;
	snprintf(j->id, sizeof(j->id), "%s", rt->active.id);
	rt->prewarm_running = true;
	log_info("renewing the token of %s before it expires", rt->active.name);
	if (worker_submit(rt->worker, prewarm_run, prewarm_done, j)) {
		prewarm_done(j);
	}
}

void maintain_logged_in(struct rt *rt)
{
	int64_t exp = jwt_exp(rt->active.access_token);

	ev_timer_stop(proxy_loop(rt->proxy), &rt->prewarm_tm);
	if (exp <= 0) {
		return;
	}
	schedule(rt, &rt->prewarm_tm, prewarm_fire,
	         exp - PREWARM_BEFORE_S + random_between(0, PREWARM_JITTER_S) - now_s());
}

enum proxy_verdict maintain_client_message(struct rt *rt, const struct jsonrpc_head *h,
                                           const char *json, size_t len)
{
	if (h->kind == JSONRPC_REQUEST && strcmp(h->method, "turn/start") == 0) {
		rt->last_activity = now_s();
		remember_turn(rt, json, len);
		arm_recheck(rt);
	}
	return PROXY_FORWARD;
}

void maintain_release(struct rt *rt)
{
	ev_timer_stop(proxy_loop(rt->proxy), &rt->recheck_tm);
	ev_timer_stop(proxy_loop(rt->proxy), &rt->prewarm_tm);
	while (rt->turns) {
		struct rt_turn *t = rt->turns;
		rt->turns = t->next;
		turn_free(t);
	}
	rt->nturns = 0;
}
