#include "session/steer_server.h"

#include "base/log.h"
#include "session/steer_decide.h"
#include "session/steer_pool.h"
#include "session/steer_tell.h"
#include "session/trigger.h"

#include <stdlib.h>
#include <string.h>

const char *const steer_server_methods[] = {
        "account/chatgptAuthTokens/refresh",
        "account/rateLimits/updated",
        "error",
        "thread/started",
        "turn/started",
        "turn/completed",
        "item/started",
        "item/completed",
        "account/updated", /* poolview: the TUI's limits follow a switch */
        NULL,
};

const char *const steer_client_methods[] = {
        "turn/start",
        "turn/interrupt",
        "account/rateLimits/read", /* poolview: /status lists every account */
        "thread/list",             /* poolview: resume lists every account's sessions */
        NULL,
};

/* The policy judges the active account by what the app-server just reported, and the cache
 * learns it too, so `list` and `usage` show what the session saw. */
static void remember_limits(struct steer *s, const struct trigger *t, const cJSON *params)
{
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(params, "rateLimits");

	if (t->limit_id[0] && strcmp(t->limit_id, "codex") != 0) {
		return; /* other families feed triggers only */
	}
	usage_release(&s->live);
	s->live_valid = usage_from_rate_limits(rl, &s->live) == 0;
	s->live.fetched_at = steer_now();
	if (s->live_valid) {
		pool_note_limits(&s->pool, s->active.id, &s->live);
	}
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b) {
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	}
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The turn of an error notification, when the TUI sent it through us. */
static struct turn *turn_of(struct steer *s, struct proxy_conn *conn, const cJSON *params)
{
	const char *tid = str_at(params, "threadId", NULL),
	           *turn_id = str_at(params, "turnId", NULL);
	struct turn *t = tid ? turns_find(&s->turns, tid) : NULL;

	/* The TUI's hidden helper threads (the thread title) are not the user's prompts. */
	if (!t || !turn_id || t->conn != conn || notice_hidden(&s->notice, tid)) {
		return NULL;
	}
	return t;
}

/* The turn that hit the limit is held, so the user need not type it again. */
static bool hold_turn(struct steer *s, struct proxy_conn *conn, const cJSON *params, struct turn *t)
{
	return resubmit_hold(&s->resub, conn, t->thread_id, str_at(params, "turnId", NULL),
	                     t->request, t->len, t->produced,
	                     t->account_id[0] ? t->account_id : s->active.id) == 0;
}

/* A usage-limit error: decided before it reaches the TUI. When another account takes over, or
 * the session waits for a reset, the TUI never sees it: the turn is sent again instead. */
static enum proxy_verdict on_limit_error(struct steer *s, struct proxy_conn *conn,
                                         const cJSON *params, const struct trigger *t)
{
	const char *turn_id = str_at(params, "turnId", NULL);
	struct turn *turn = turn_of(s, conn, params);
	bool held;
	enum policy_action a;

	/* scripts/bench's switch workload measures from this line to the turn sent again. */
	log_info("usage-limit error on turn %s", turn_id ? turn_id : "?");
	held = steer_deciding(s) && turn && hold_turn(s, conn, params, turn);
	/* The limit was the account's that ran the turn: when the session already moved on (a
	 * rate-limit update came first), the turn just goes again on the new account. */
	if (held && turn->account_id[0] && strcmp(turn->account_id, s->active.id) != 0) {
		if (!switcher_busy(&s->sw)) {
			resubmit_go_again(&s->resub, s->active.id);
		}
		return PROXY_DROP;
	}
	s->in_error = true;
	a = steer_decide_trigger(s, t);
	s->in_error = false;
	if (!held) {
		return PROXY_FORWARD;
	}
	if (a == POLICY_SWITCH || a == POLICY_NONE_USABLE) {
		return PROXY_DROP;
	}
	resubmit_cancel(&s->resub);
	return PROXY_FORWARD;
}

/* ---- the app-server's notifications, one kind each ---- */

static void on_turn_started(struct steer *s, const cJSON *params)
{
	const char *tid = str_at(params, "threadId", NULL);
	const char *turn = str_at(params, "turn", "id");

	if (tid && turn) {
		/* A turn codex-switch sent again is not the TUI's own. */
		notice_turn_started(&s->notice, tid, turn, !resubmit_owns(&s->resub, turn));
		s->limits_stale = false;
		turns_on_started(&s->turns, tid, turn, s->active.id);
		steer_tell_flush(s);
	}
}

static void on_item_started(struct steer *s, const cJSON *params)
{
	const char *tid = str_at(params, "threadId", NULL);
	const char *turn = str_at(params, "turnId", NULL);
	const char *type = str_at(params, "item", "type");

	if (tid && turn && type) {
		turns_on_item(&s->turns, tid, turn, type);
	}
}

static void on_thread_started(struct steer *s, const cJSON *params)
{
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(params, "thread");

	notice_thread(&s->notice, str_at(params, "thread", "id"),
	              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(th, "ephemeral")));
	steer_tell_flush(s);
}

static enum proxy_verdict on_error(struct steer *s, struct proxy_conn *conn, const cJSON *params)
{
	struct trigger t;

	trigger_from_error(params, &t);
	if (t.kind == TRIGGER_HARD) {
		return on_limit_error(s, conn, params, &t);
	}
	return PROXY_FORWARD;
}

static enum proxy_verdict on_rate_limits(struct steer *s, const cJSON *params)
{
	struct trigger t;

	if (s->limits_stale) {
		/* 0.117's thread/rollback replays the thread's last snapshot: the old
		 * account's. The TUI already has the pool's view of the new one. */
		log_debug("ignoring a rate-limit snapshot from before the switch");
		return PROXY_DROP;
	}
	trigger_from_rate_limits(params, &t);
	if (t.resets_at) {
		s->last_reset_hint = t.resets_at;
	}
	remember_limits(s, &t, params);
	steer_decide_trigger(s, &t);
	return PROXY_FORWARD;
}

static enum proxy_verdict on_kind(struct steer *s, struct proxy_conn *conn, const char *method,
                                  const cJSON *params)
{
	if (strcmp(method, "turn/completed") == 0) {
		notice_turn_ended(&s->notice, str_at(params, "turn", "id"));
	} else if (strcmp(method, "turn/started") == 0) {
		on_turn_started(s, params);
	} else if (strcmp(method, "item/started") == 0) {
		on_item_started(s, params);
	} else if (strcmp(method, "thread/started") == 0) {
		on_thread_started(s, params);
	} else if (strcmp(method, "error") == 0) {
		return on_error(s, conn, params);
	} else if (strcmp(method, "account/rateLimits/updated") == 0) {
		return on_rate_limits(s, params);
	}
	return PROXY_FORWARD;
}

static enum proxy_verdict on_notification(struct steer *s, struct proxy_conn *conn,
                                          const char *method, const cJSON *params, const char *json,
                                          size_t len)
{
	enum proxy_verdict v;
	const char *turn = str_at(params, "turn", "id");
	bool ended = strcmp(method, "turn/completed") == 0 && turn;

	/* Before the filter: a turn sent again ends unseen by the TUI, but it ends. */
	if (strcmp(method, "turn/started") == 0 && turn) {
		turns_run_started(&s->turns, conn, turn);
	} else if (ended) {
		turns_run_ended(&s->turns, turn);
	}
	if (!resubmit_filter(&s->resub, conn, method, params, json, len)) {
		v = PROXY_DROP;
	} else {
		v = on_kind(s, conn, method, params);
	}
	if (ended) {
		steer_decide_deferred(s); /* a switch waiting for the turn's end */
	}
	return v;
}

/* Answers to our requests count only where we sent them: logins on the control connection,
 * re-sent turns on the TUI connection they went out on. */
static void on_response(struct steer *s, struct proxy_conn *conn, bool control, const cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

	if (cJSON_IsString(id) && control) {
		switcher_on_response(&s->sw, id->valuestring, msg);
	} else if (cJSON_IsString(id) && conn == s->resub.conn) {
		resubmit_on_response(&s->resub, id->valuestring, msg);
	}
}

enum proxy_verdict steer_server_message(struct steer *s, struct proxy_conn *conn, bool control,
                                        const struct jsonrpc_head *h, const char *json, size_t len)
{
	enum proxy_verdict v = PROXY_FORWARD;
	cJSON *msg;

	if (h->kind == JSONRPC_REQUEST &&
	    strcmp(h->method, "account/chatgptAuthTokens/refresh") == 0) {
		tokenreq_on_request(&s->tokens, conn, h->id, &s->active);
		return PROXY_DROP; /* the TUI never answers it */
	}
	if (h->kind != JSONRPC_RESPONSE && (h->kind != JSONRPC_NOTIFICATION || control)) {
		return PROXY_FORWARD;
	}
	if (!control && steer_pool_server(s, conn, h, json, len, &v)) { /* poolview */
		return v;
	}
	msg = cJSON_ParseWithLength(json, len);
	if (!msg) {
		return h->kind == JSONRPC_RESPONSE ? PROXY_DROP : PROXY_FORWARD;
	}
	if (h->kind == JSONRPC_RESPONSE) {
		on_response(s, conn, control, msg);
		v = PROXY_DROP; /* ours: the TUI never asked */
	} else {
		v = on_notification(s, conn, h->method,
		                    cJSON_GetObjectItemCaseSensitive(msg, "params"), json, len);
		v = steer_pool_notified(s, conn, h, json, len, v); /* poolview */
	}
	cJSON_Delete(msg);
	return v;
}

/*
 * Requests for which the app-server loads its configuration. One that arrives while an
 * account/login/start is being answered fails ("failed to load configuration: application
 * network permission was revoked", 0.169, about one in ten back to back), and the user would
 * read that error instead of an answer: they wait for the login's end, a few milliseconds.
 */
static bool loads_config(const char *method)
{
	static const char *const methods[] = {"turn/start", "thread/start", "thread/resume",
	                                      "thread/fork"};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(method, methods[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* A provisional start holds the TUI's turns; a login under way, whatever loads the
 * configuration. The gate opens when the start is settled or the login ends. */
static bool held(struct steer *s, const char *method)
{
	if (strcmp(method, "turn/start") == 0 && startgate_closed(&s->gate)) {
		return true;
	}
	if (loads_config(method) && switcher_logging_in(&s->sw)) {
		if (!startgate_closed(&s->gate)) {
			startgate_close(&s->gate, NULL, 0, NULL, NULL);
		}
		return true;
	}
	return false;
}

enum proxy_verdict steer_client_message(struct steer *s, struct proxy_conn *conn,
                                        const struct jsonrpc_head *h, const char *json, size_t len)
{
	cJSON *msg;
	const char *tid;

	if (h->kind != JSONRPC_REQUEST) {
		return PROXY_FORWARD;
	}
	/* The user's own prompt or Esc wins over a turn held for sending again, also when it
	 * waits for a login itself. */
	msg = cJSON_ParseWithLength(json, len);
	tid = str_at(cJSON_GetObjectItemCaseSensitive(msg, "params"), "threadId", NULL);
	if (tid) {
		resubmit_user_acted(&s->resub, tid);
	}
	cJSON_Delete(msg);
	if (held(s, h->method)) {
		if (startgate_hold(&s->gate, conn, json, len)) {
			log_warn("too many requests while an account is logged in; one is dropped");
		}
		return PROXY_DROP; /* sent once the start account is settled or the login ended */
	}
	if (strcmp(h->method, "turn/start") == 0) {
		maintain_activity(&s->maint, steer_now());
		turns_on_start(&s->turns, conn, json, len);
	}
	return steer_pool_client(s, conn, h, json, len); /* poolview */
}
