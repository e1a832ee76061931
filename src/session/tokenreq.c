#include "session/tokenreq.h"

#include "base/ev.h"
#include "base/log.h"
#include "base/util.h"
#include "base/worker.h"
#include "net/token.h"
#include "session/rpcmsg.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_ERROR_CODE -32000

struct tokenreq_pending {
	struct tokenreq *t;      /* NULL once released: the worker's done() frees it */
	struct proxy_conn *conn; /* NULL once the connection closed */
	const struct paths *paths;
	char raw_id[128];
	char account_id[64];
	char *had_access; /* the token the app-server was refused with (secret) */
	struct account result;
	int err;
	char msg[256];
	bool answered;
	struct ev_timer tm;
	struct tokenreq_pending *next;
};

static void unlink_pending(struct tokenreq *t, struct tokenreq_pending *f)
{
	for (struct tokenreq_pending **p = &t->list; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
}

static void pending_free(struct tokenreq_pending *f)
{
	util_free_secret(f->had_access);
	account_release(&f->result);
	free(f);
}

static void answer(struct tokenreq_pending *f, char *json)
{
	if (!f->answered && f->conn && json && f->t) {
		f->t->ops.answer(f->t->ops.ctx, f->conn, json);
		json = NULL;
	}
	f->answered = true;
	util_free_secret(json);
}

static void too_slow(struct ev_timer *tm)
{
	struct tokenreq_pending *f = EV_CONTAINER_OF(tm, struct tokenreq_pending, tm);

	log_warn("token refresh is taking too long; the app-server will retry");
	answer(f, rpcmsg_error(f->raw_id, PROXY_ERROR_CODE,
	                       "codex-switch: token refresh is taking too long"));
}

static void refresh_run(void *arg)
{
	struct tokenreq_pending *f = arg;
	struct store s = {0};
	char err[256];
	bool force = true;
	long i;

	/* Someone may have refreshed already: a token newer than the refused one is used as is. */
	if (store_load(f->paths, &s, err, sizeof(err)) == 0 &&
	    (i = store_find_id(&s, f->account_id)) >= 0 && s.accounts[i].access_token &&
	    f->had_access && strcmp(s.accounts[i].access_token, f->had_access) != 0) {
		force = false;
	}
	store_release(&s);
	f->err = token_ensure_fresh(f->paths, f->account_id, force, &f->result, f->msg,
	                            sizeof(f->msg));
}

static void refresh_done(void *arg)
{
	struct tokenreq_pending *f = arg;
	struct tokenreq *t = f->t;

	if (!t) {
		pending_free(f); /* released meanwhile */
		return;
	}
	unlink_pending(t, f);
	ev_timer_stop(t->env->ev, &f->tm);
	if (f->err) {
		log_warn("cannot refresh the token for the app-server: %s", f->msg);
		answer(f, rpcmsg_error(f->raw_id, PROXY_ERROR_CODE, f->msg));
		if (f->err == -EKEYREVOKED) {
			t->ops.revoked(t->ops.ctx, f->account_id, f->msg);
		}
	} else {
		answer(f, rpcmsg_refresh_result(f->raw_id, &f->result));
		t->ops.fresh(t->ops.ctx, &f->result);
	}
	pending_free(f);
}

void tokenreq_init(struct tokenreq *t, const struct session_env *env,
                   const struct tokenreq_ops *ops)
{
	memset(t, 0, sizeof(*t));
	t->env = env;
	t->ops = *ops;
}

int tokenreq_on_request(struct tokenreq *t, struct proxy_conn *conn, const char *raw_id,
                        const struct account *active)
{
	struct tokenreq_pending *f = calloc(1, sizeof(*f));

	if (!f) {
		return -ENOMEM;
	}
	f->t = t;
	f->conn = conn;
	f->paths = t->env->paths;
	f->err = -ECANCELED;
	snprintf(f->raw_id, sizeof(f->raw_id), "%s", raw_id);
	snprintf(f->account_id, sizeof(f->account_id), "%s", active->id);
	snprintf(f->msg, sizeof(f->msg), "codex-switch is shutting down");
	f->had_access = util_strdup0(active->access_token);
	f->next = t->list;
	t->list = f;
	log_info("app-server asked for a token refresh");
	ev_timer_start(t->env->ev, &f->tm, too_slow, TOKENREQ_ANSWER_US);
	if (worker_submit(t->env->worker, refresh_run, refresh_done, f)) {
		snprintf(f->msg, sizeof(f->msg), "codex-switch is busy; try again");
		f->err = -EBUSY;
		refresh_done(f);
	}
	return 0;
}

void tokenreq_conn_closed(struct tokenreq *t, struct proxy_conn *conn)
{
	for (struct tokenreq_pending *f = t->list; f; f = f->next) {
		if (f->conn == conn) {
			f->conn = NULL;
		}
	}
}

void tokenreq_release(struct tokenreq *t)
{
	/* Jobs still on the worker free their pending in done(); mark them orphaned. */
	while (t->list) {
		struct tokenreq_pending *f = t->list;
		t->list = f->next;
		ev_timer_stop(t->env->ev, &f->tm);
		f->t = NULL;
		f->conn = NULL;
	}
}
