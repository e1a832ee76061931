/*
 * What the `run` supervisor hands its parts, for tests: a real event loop, a real worker whose
 * completions wake the loop, and real paths in a temporary CODEX_SWITCH_HOME / CODEX_HOME.
 * Accounts carry JWTs that expire in 2100, so token_ensure_fresh() never needs the network.
 * nftw() (tmpstore.h) needs _GNU_SOURCE defined at the top of the including file.
 */
#ifndef CS_TEST_FAKE_SESSION_H
#define CS_TEST_FAKE_SESSION_H

#include "base/ev.h"
#include "base/util.h"
#include "base/worker.h"
#include "session/part.h"
#include "store/paths.h"
#include "store/store.h"

#include <cjson/cJSON.h>

#include "fake_jwt.h"
#include "tmpstore.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FAKE_SESSION_FAR_EXP 4102444800LL /* 2100-01-01 */

struct fake_session {
	char dir[64];
	struct paths paths;
	struct session_env env;
	struct ev_timer guard;
	bool expired;
};

static inline void fake_session_wake(void *ctx)
{
	ev_wake(ctx);
}

static inline void fake_session_drain(void *ctx)
{
	worker_drain(ctx);
}

/* A temporary home for the store and for codex, a loop and a worker. 0 or -1. */
static inline int fake_session_setup(struct fake_session *f, const char *tag)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/cs-%s-XXXXXX", tag);
	if (tmpstore_setup(f->dir, "codex", true, &f->paths)) {
		return -1;
	}
	mkdir(f->paths.codex_home, 0700);
	f->env.paths = &f->paths;
	f->env.ev = ev_new();
	f->env.worker = f->env.ev ? worker_create(8, fake_session_wake, f->env.ev) : NULL;
	if (!f->env.worker) {
		return -1;
	}
	ev_set_wake(f->env.ev, fake_session_drain, f->env.worker);
	return 0;
}

/* Ends the worker: jobs still queued end cancelled, while the parts they report to live. */
static inline void fake_session_stop_worker(struct fake_session *f)
{
	worker_destroy(f->env.worker);
	f->env.worker = NULL;
}

/* After fake_session_stop_worker() and the parts' release. */
static inline void fake_session_teardown(struct fake_session *f)
{
	if (f->env.worker) {
		fake_session_stop_worker(f);
	}
	ev_free(f->env.ev);
	tmpstore_teardown(f->dir, &f->paths);
}

static inline void fake_session_expire(struct ev_timer *t)
{
	EV_CONTAINER_OF(t, struct fake_session, guard)->expired = true;
}

/* Runs the loop until done(ctx) holds (true) or timeout_us passed (false). */
static inline bool fake_session_run_until(struct fake_session *f, bool (*done)(void *ctx),
                                          void *ctx, int64_t timeout_us)
{
	f->expired = false;
	ev_timer_start(f->env.ev, &f->guard, fake_session_expire, timeout_us);
	while (!done(ctx) && !f->expired) {
		if (ev_run_once(f->env.ev) < 0) {
			break;
		}
	}
	ev_timer_stop(f->env.ev, &f->guard);
	return done(ctx);
}

static inline bool fake_session_idle_fn(void *ctx)
{
	return worker_pending(ctx) == 0;
}

/* Runs the loop until the worker has nothing left (true) or 10 s passed. */
static inline bool fake_session_settle(struct fake_session *f)
{
	return fake_session_run_until(f, fake_session_idle_fn, f->env.worker, 10 * 1000000);
}

/* Runs the loop for about us microseconds, whatever happens. */
static inline void fake_session_run_for(struct fake_session *f, int64_t us)
{
	f->expired = false;
	ev_timer_start(f->env.ev, &f->guard, fake_session_expire, us);
	while (!f->expired && ev_run_once(f->env.ev) == 0) {
	}
	ev_timer_stop(f->env.ev, &f->guard);
}

/* A ChatGPT account as login makes it, with tokens that stay valid; release it. */
static inline struct account fake_session_account(const char *name, const char *ws)
{
	struct account a = {.kind = ACCOUNT_CHATGPT};
	char id[UTIL_UUID_LEN + 1], *email = util_printf("%s@example.com", name);
	char *payload =
	        util_printf("{\"exp\":%lld,\"sub\":\"access-%s\"}", FAKE_SESSION_FAR_EXP, name);
	char *user = util_printf("user-%s", name);

	util_uuid(id);
	a.id = strdup(id);
	a.name = strdup(name);
	a.id_token = fake_id_token(email, user, ws, "plus");
	a.access_token = fake_jwt(payload);
	a.refresh_token = util_printf("refresh-%s", name);
	a.created_at = util_now_ms() * 1000;
	a.token_last_refresh_at = a.created_at;
	account_apply_id_token(&a);
	free(email);
	free(payload);
	free(user);
	return a;
}

static inline int fake_session_add_fn(struct store *s, void *ctx)
{
	return store_add(s, ctx) ? -ENOMEM : 1;
}

/* Stores a (copied) in accounts.json. 0 or -errno. */
static inline int fake_session_store(struct fake_session *f, const struct account *a)
{
	char err[256];

	return store_update(&f->paths, fake_session_add_fn, (void *)a, err, sizeof(err));
}

/* Messages a part sent, parsed, in order (a fake proxy's connection). */
#define FAKE_SENT_MAX 64
struct fake_sent {
	cJSON *msg[FAKE_SENT_MAX];
	size_t n;
	int nulls; /* NULL messages handed over (a builder ran out of memory) */
};

/* Takes json (owned; freed as a secret). */
static inline void fake_sent_take(struct fake_sent *r, char *json)
{
	if (!json) {
		r->nulls++;
		return;
	}
	if (r->n < FAKE_SENT_MAX) {
		r->msg[r->n++] = cJSON_Parse(json);
	}
	util_free_secret(json);
}

static inline void fake_sent_clear(struct fake_sent *r)
{
	for (size_t i = 0; i < r->n; i++) {
		cJSON_Delete(r->msg[i]);
	}
	memset(r, 0, sizeof(*r));
}

/* A string member of message i (path a, then b when not NULL), or NULL. */
static inline const char *fake_sent_str(const struct fake_sent *r, size_t i, const char *a,
                                        const char *b)
{
	const cJSON *v = i < r->n ? cJSON_GetObjectItemCaseSensitive(r->msg[i], a) : NULL;

	if (b) {
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	}
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The index of the last message with this method, or -1. */
static inline long fake_sent_find(const struct fake_sent *r, const char *method)
{
	for (size_t i = r->n; i-- > 0;) {
		const char *m = fake_sent_str(r, i, "method", NULL);
		if (m && strcmp(m, method) == 0) {
			return (long)i;
		}
	}
	return -1;
}

#endif
