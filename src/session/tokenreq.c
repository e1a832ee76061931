/*
 * Answers to the app-server's account/chatgptAuthTokens/refresh requests (sent when a backend
 * request got a 401). The TUI never answers them, so codex-switch does, within the server's
 * 10 s, with the active account's tokens: refreshed on the worker thread through the same
 * locked path as every other refresh, or as they are when someone refreshed them meanwhile.
 */
#include "session/session_internal.h"

#include "base/log.h"
#include "session/rpcmsg.h"
#include "store/store.h"
#include "net/token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_ANSWER_US (8 * 1000000) /* the app-server gives up after 10 s */
#define PROXY_ERROR_CODE  -32000

struct rt_refresh {
	struct rt *rt;
	struct proxy_conn *conn; /* NULL once the connection closed */
	char raw_id[128];
	char account_id[UTIL_UUID_LEN + 1];
	char *had_access; /* the token the app-server was refused with (secret) */
	struct account result;
	int err;
	char msg[256];
	bool answered, finished;
	struct ev_timer tm;
	struct rt_refresh *next;
};

static void refresh_free(struct rt *rt, struct rt_refresh *f)
{
	for (struct rt_refresh **p = &rt->refreshes; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	ev_timer_stop(proxy_loop(rt->proxy), &f->tm);
	util_free_secret(f->had_access);
	account_release(&f->result);
	free(f);
}

static void refresh_answer(struct rt_refresh *f, char *json)
{
	if (!f->answered && f->conn && json) {
		proxy_send_to_server(f->conn, json, strlen(json));
	}
	f->answered = true;
	util_free_secret(json);
}

static void refresh_too_slow(struct ev_timer *t)
{
	struct rt_refresh *f = EV_CONTAINER_OF(t, struct rt_refresh, tm);

	log_warn("token refresh is taking too long; the app-server will retry");
	refresh_answer(f, rpcmsg_error(f->raw_id, PROXY_ERROR_CODE,
	                               "codex-switch: token refresh is taking too long"));
}

static void refresh_run(void *arg)
{
	struct rt_refresh *f = arg;
	const struct paths *p = f->rt->cfg->paths;
	struct store s = {0};
	char err[256];
	long i;

	/* Someone may have refreshed already: a token newer than the refused one is used as is. */
	if (store_load(p, &s, err, sizeof(err)) == 0 &&
	    (i = store_find_id(&s, f->account_id)) >= 0 && s.accounts[i].access_token &&
	    f->had_access && strcmp(s.accounts[i].access_token, f->had_access) != 0) {
		f->err = token_ensure_fresh(p, f->account_id, false, &f->result, f->msg,
		                            sizeof(f->msg));
	} else {
		f->err = token_ensure_fresh(p, f->account_id, true, &f->result, f->msg,
		                            sizeof(f->msg));
	}
	store_release(&s);
}

static void refresh_done(void *arg)
{
	struct rt_refresh *f = arg;
	struct rt *rt = f->rt;

	f->finished = true;
	if (f->err) {
		log_warn("cannot refresh the token for the app-server: %s", f->msg);
		refresh_answer(f, rpcmsg_error(f->raw_id, PROXY_ERROR_CODE, f->msg));
		if (f->err == -EKEYREVOKED && strcmp(f->account_id, rt->active.id) == 0) {
			switcher_login_revoked(rt);
		}
	} else {
		refresh_answer(f, rpcmsg_refresh_result(f->raw_id, &f->result));
		if (strcmp(f->result.id, rt->active.id) == 0) {
			account_release(&rt->active);
			account_copy(&rt->active, &f->result);
			maintain_logged_in(rt);
		}
	}
	refresh_free(rt, f);
}

void tokenreq_on_request(struct rt *rt, struct proxy_conn *c, const struct jsonrpc_head *h)
{
	struct rt_refresh *f = calloc(1, sizeof(*f));

	if (!f) {
		return;
	}
	f->rt = rt;
	f->conn = c;
	f->err = -ECANCELED;
	snprintf(f->raw_id, sizeof(f->raw_id), "%s", h->id);
	snprintf(f->account_id, sizeof(f->account_id), "%s", rt->active.id);
	snprintf(f->msg, sizeof(f->msg), "codex-switch is shutting down");
	f->had_access = util_strdup0(rt->active.access_token);
	f->next = rt->refreshes;
	rt->refreshes = f;
	log_info("app-server asked for a token refresh");
	ev_timer_start(proxy_loop(rt->proxy), &f->tm, refresh_too_slow, REFRESH_ANSWER_US);
	if (worker_submit(rt->worker, refresh_run, refresh_done, f)) {
		snprintf(f->msg, sizeof(f->msg), "codex-switch is busy; try again");
		refresh_done(f);
	}
}

void tokenreq_conn_closed(struct rt *rt, struct proxy_conn *c)
{
	for (struct rt_refresh *f = rt->refreshes; f; f = f->next) {
		if (f->conn == c) {
			f->conn = NULL;
		}
	}
}

void tokenreq_release(struct rt *rt)
{
	while (rt->refreshes) {
		refresh_free(rt, rt->refreshes);
	}
}
