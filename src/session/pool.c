#include "session/pool.h"

#include "base/log.h"
#include "base/worker.h"
#include "net/credits.h"
#include "store/adopt.h"
#include "store/authjson.h"
#include "store/usage_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct load_job {
	struct pool *pool;
	const struct paths *paths;
	struct pool_snapshot snap;
	int err;
	char msg[512];
};

struct write_job {
	struct pool *pool;
	const struct paths *paths;
	struct account account; /* commit: the account to make current */
	char id[64];            /* limits: whose */
	struct usage usage;     /* limits: what was seen */
	bool commit;
	int err;
	char msg[512];
};

static void snapshot_release(struct pool_snapshot *s)
{
	usage_cache_free_all(s->cached, s->in_cache, s->store.n);
	store_release(&s->store);
	memset(s, 0, sizeof(*s));
}

/* A login in auth.json that the store does not hold is stored first (adopt.h). */
static void adopt_first(const struct paths *paths, struct pool_snapshot *s)
{
	struct adopt_result res;

	memset(&res, 0, sizeof(res));
	if (adopt_authjson(paths, &res) < 0) {
		return; /* logged; the store is read as it is */
	}
	s->adopt_kind = (int)res.kind;
	if (res.kind == ADOPT_ADDED) {
		snprintf(s->adopt_id, sizeof(s->adopt_id), "%s", res.id);
	}
	snprintf(s->adopt_message, sizeof(s->adopt_message), "%s", res.message);
}

/* Blocking: on the worker, or before the loop runs. */
static int snapshot_load(const struct paths *paths, struct pool_snapshot *s, char *err,
                         size_t errsz)
{
	int r;

	memset(s, 0, sizeof(*s));
	adopt_first(paths, s);
	r = store_load(paths, &s->store, err, errsz);
	if (r) {
		return r;
	}
	r = usage_cache_load_store(paths, &s->store, &s->cached, &s->in_cache);
	if (r < 0) {
		snapshot_release(s);
		snprintf(err, errsz, "out of memory");
		return r;
	}
	s->auth_current = authjson_current(paths, &s->store);
	s->auth_present = access(paths->auth_json, F_OK) == 0;
	/* From the usages just read: the file, with its history, is parsed once per load. */
	r = (int)credits_hint_from(&s->store, s->cached, s->in_cache, s->credit_hint,
	                           sizeof(s->credit_hint));
	if (r >= 0) {
		snprintf(s->credit_pick, sizeof(s->credit_pick), "%s", s->store.accounts[r].id);
	}
	return 0;
}

void pool_init(struct pool *p, const struct session_env *env)
{
	memset(p, 0, sizeof(*p));
	p->env = env;
}

void pool_release(struct pool *p)
{
	snapshot_release(&p->cur);
	p->loaded = false;
}

int pool_load_now(struct pool *p, char *err, size_t errsz)
{
	struct pool_snapshot s;
	int r = snapshot_load(p->env->paths, &s, err, errsz);

	if (r) {
		return r;
	}
	snapshot_release(&p->cur);
	p->cur = s;
	p->loaded = true;
	return 0;
}

static void load_run(void *arg)
{
	struct load_job *j = arg;

	j->err = snapshot_load(j->paths, &j->snap, j->msg, sizeof(j->msg));
}

static void load_done(void *arg)
{
	struct load_job *j = arg;
	struct pool *p = j->pool;

	p->loading = false;
	if (!j->err) {
		snapshot_release(&p->cur);
		p->cur = j->snap;
		p->loaded = true;
	}
	if (p->on_loaded) {
		p->on_loaded(p->ctx, j->err, j->msg);
	}
	free(j);
	if (p->again) {
		p->again = false;
		pool_reload(p);
	}
}

void pool_reload(struct pool *p)
{
	struct load_job *j;

	if (p->loading) {
		p->again = true;
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		return;
	}
	j->pool = p;
	j->paths = p->env->paths;
	j->err = -ECANCELED;
	snprintf(j->msg, sizeof(j->msg), "codex-switch is shutting down");
	p->loading = true;
	if (worker_submit(p->env->worker, load_run, load_done, j)) {
		snprintf(j->msg, sizeof(j->msg), "the worker is busy");
		j->err = -EBUSY;
		load_done(j);
	}
}

long pool_index(const struct pool *p, const char *id)
{
	return p->loaded && id ? store_find_id(&p->cur.store, id) : -1;
}

const struct account *pool_account(const struct pool *p, const char *id)
{
	long i = pool_index(p, id);

	return i >= 0 ? &p->cur.store.accounts[i] : NULL;
}

/* ---- writes ---- */

static int set_last_used(struct store *s, void *ctx)
{
	long i = store_find_id(s, ctx);

	if (i < 0) {
		return 0;
	}
	s->accounts[i].last_used_at = (int64_t)time(NULL) * 1000000;
	return 1;
}

static void write_run(void *arg)
{
	struct write_job *j = arg;
	const char *ids[1] = {j->id};
	int r;

	if (!j->commit) {
		j->err = usage_cache_store(j->paths, ids, &j->usage, 1);
		return;
	}
	r = authjson_write(j->paths->auth_json, &j->account);
	if (r) {
		snprintf(j->msg, sizeof(j->msg), "cannot write '%s': %s; it was left as it was",
		         j->paths->auth_json, strerror(-r));
		j->err = r;
		return;
	}
	j->err = 0;
	if (store_update(j->paths, set_last_used, j->account.id, j->msg, sizeof(j->msg)) < 0) {
		log_warn("%s", j->msg); /* the switch stands; only the last use is not recorded */
	}
}

static void write_done(void *arg)
{
	struct write_job *j = arg;
	struct pool *p = j->pool;

	p->writes--;
	if (j->commit) {
		if (j->err && j->err != -ECANCELED) {
			log_warn("%s", j->msg);
		}
		if (p->on_committed) {
			p->on_committed(p->ctx, j->err);
		}
	}
	account_release(&j->account);
	usage_release(&j->usage);
	free(j);
}

static int submit_write(struct pool *p, struct write_job *j)
{
	j->pool = p;
	j->paths = p->env->paths;
	j->err = -ECANCELED;
	p->writes++;
	if (worker_submit(p->env->worker, write_run, write_done, j)) {
		j->err = -EBUSY;
		snprintf(j->msg, sizeof(j->msg), "the worker is busy");
		write_done(j);
		return -EBUSY;
	}
	return 0;
}

int pool_commit(struct pool *p, const struct account *a)
{
	struct write_job *j = calloc(1, sizeof(*j));

	if (!j || account_copy(&j->account, a)) {
		free(j);
		return -ENOMEM;
	}
	usage_init(&j->usage);
	j->commit = true;
	return submit_write(p, j);
}

void pool_note_limits(struct pool *p, const char *id, const struct usage *u)
{
	long i = pool_index(p, id);
	struct write_job *j;

	if (i >= 0) {
		struct usage copy;
		if (usage_copy(&copy, u) == 0) {
			/* The app-server's rate limits do not carry the reset credits: keep the
			 * known. */
			if (copy.reset_credits_available < 0 && p->cur.in_cache[i]) {
				copy.reset_credits_available =
				        p->cur.cached[i].reset_credits_available;
				copy.reset_credits_expire_at =
				        p->cur.cached[i].reset_credits_expire_at;
			}
			usage_release(&p->cur.cached[i]);
			p->cur.cached[i] = copy;
			p->cur.in_cache[i] = true;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		return;
	}
	snprintf(j->id, sizeof(j->id), "%s", id);
	if (usage_copy(&j->usage, i >= 0 ? &p->cur.cached[i] : u)) {
		free(j);
		return;
	}
	submit_write(p, j);
}
