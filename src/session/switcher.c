/*
 * Accounts inside a running session: the initial login on the control connection, answers to
 * the app-server's token refresh requests, switch triggers, and the hot swap itself.
 * Everything here runs on the loop thread; token refreshes and store writes run as worker
 * jobs, whose run() touches only the job.
 */
#include "session/session_internal.h"

#include "store/authjson.h"
#include "base/codexver.h"
#include "base/log.h"
#include "session/rpcmsg.h"
#include "store/store.h"
#include "net/token.h"
#include "policy/policy_inputs.h"
#include "session/trigger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOGIN_TIMEOUT_US    (20 * 1000000)
#define EXHAUSTED_DEFAULT_S 3600
#define PROXY_ERROR_CODE    -32000

struct rt_login {
	struct rt *rt;
	char id[96];
	struct account target;
	char reason[200];
	char from[256]; /* label of the account switched from; "" for the first login */
	bool initial;
	bool quiet;    /* the same account with fresh tokens: nothing to tell */
	bool external; /* the user chose it outside the session (auth.json changed) */
	enum policy_mode mode;
	int err; /* of the token job */
	char msg[256];
	struct ev_timer tm;
};

struct rt_commit {
	struct rt *rt;
	const struct paths *paths;
	struct account account;
	int err;
	char msg[256];
};

static void start_login(struct rt *rt, const struct account *target, enum policy_mode mode,
                        const char *reason, bool external, bool quiet);

/* ---- sending ---- */

static void send_control(struct rt *rt, char *json)
{
	struct proxy_conn *c = proxy_control(rt->proxy);

	if (json && c) {
		proxy_send_to_server(c, json, strlen(json));
	}
	util_free_secret(json);
}

static void tell_user(struct rt *rt, const char *message)
{
	/* The 0.169 TUI counts it in its status line ("N warnings · f2 to view"). */
	char *w = rpcmsg_warning(message);

	log_warn("%s", message);
	if (w) {
		proxy_broadcast_to_clients(rt->proxy, w, strlen(w));
	}
	free(w);
}

/* ---- exhaustion bookkeeping ---- */

static struct rt_exhausted *find_exhausted(struct rt *rt, const char *id)
{
	for (size_t i = 0; i < rt->nexhausted; i++) {
		if (strcmp(rt->exhausted[i].id, id) == 0) {
			return &rt->exhausted[i];
		}
	}
	return NULL;
}

static void mark_exhausted(struct rt *rt, const char *id, int64_t until)
{
	struct rt_exhausted *e = find_exhausted(rt, id);

	if (!until) {
		until = (int64_t)time(NULL) + EXHAUSTED_DEFAULT_S;
	}
	if (!e && rt->nexhausted < UTIL_ARRAY_LEN(rt->exhausted)) {
		e = &rt->exhausted[rt->nexhausted++];
		snprintf(e->id, sizeof(e->id), "%s", id);
	}
	if (e) {
		e->until = until;
	}
}

/* What the policy sees: the store and cached usage (policy_inputs), and what the session
 * knows better: the live limits of the active account and which accounts ran out. */
struct view {
	struct store s;
	struct policy_inputs pv;
	long current;
};

static void view_release(struct view *v)
{
	policy_inputs_release(&v->pv);
	store_release(&v->s);
}

static int view_load(struct rt *rt, struct view *v)
{
	char err[512];

	memset(v, 0, sizeof(*v));
	if (store_load(rt->cfg->paths, &v->s, err, sizeof(err))) {
		log_warn("%s", err);
		return -EINVAL;
	}
	if (policy_inputs_init(&v->pv, rt->cfg->paths, &v->s, NULL, NULL, 0)) {
		store_release(&v->s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < v->pv.n; i++) {
		struct policy_account *pa = &v->pv.accounts[i];
		struct rt_exhausted *e = find_exhausted(rt, pa->id);
		pa->exhausted_until = e ? e->until : 0;
		if (rt->live_valid && strcmp(pa->id, rt->active.id) == 0) {
			pa->usage = &rt->live;
		}
	}
	v->current = store_find_id(&v->s, rt->active.id);
	return 0;
}

static void tell_all_exhausted(struct rt *rt, int64_t earliest)
{
	char msg[256], when[64] = "an unknown time";
	time_t t;
	struct tm tm;

	if (rt->all_exhausted_told) {
		return;
	}
	rt->all_exhausted_told = true;
	for (size_t i = 0; !earliest && i < rt->nexhausted; i++) {
		if (!earliest || rt->exhausted[i].until < earliest) {
			earliest = rt->exhausted[i].until;
		}
	}
	if (earliest) {
		t = (time_t)earliest;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%H:%M on %b %d", &tm);
	}
	snprintf(msg, sizeof(msg),
	         "codex-switch: every stored account has reached its usage limit; the earliest "
	         "resets at %s",
	         when);
	tell_user(rt, msg);
}

/* ---- the login on the control connection ---- */

static void login_free(struct rt_login *l)
{
	if (!l) {
		return;
	}
	ev_timer_stop(proxy_loop(l->rt->proxy), &l->tm);
	account_release(&l->target);
	free(l);
}

static void login_timeout(struct ev_timer *t)
{
	struct rt_login *l = EV_CONTAINER_OF(t, struct rt_login, tm);
	struct rt *rt = l->rt;

	log_warn("the app-server did not answer the login of the next account within 20 s");
	rt->login = NULL;
	if (l->initial) {
		rt_fail(rt, "the codex app-server did not accept the account within 20 s");
	} else if (l->external) {
		reconcile_after_login(rt);
	} else if (!l->quiet) {
		mark_exhausted(rt, l->target.id, 0);
		switcher_consider(rt, POLICY_HARD, l->reason);
	}
	login_free(l);
}

static void send_login(struct rt *rt, struct rt_login *l)
{
	rt_next_id(rt, l->id, sizeof(l->id));
	send_control(rt, rpcmsg_login(l->id, &l->target));
	ev_timer_start(proxy_loop(rt->proxy), &l->tm, login_timeout, LOGIN_TIMEOUT_US);
}

static void commit_run(void *arg)
{
	struct rt_commit *c = arg;
	int r;

	r = authjson_write(c->paths->auth_json, &c->account);
	if (r) {
		snprintf(c->msg, sizeof(c->msg), "cannot write '%s': %s; it was left as it was",
		         c->paths->auth_json, strerror(-r));
	}
	c->err = r;
}

static void commit_done(void *arg)
{
	struct rt_commit *c = arg;

	if (c->err && c->err != -ECANCELED) {
		log_warn("%s", c->msg);
	}
	c->rt->auth_write_pending = false;
	reconcile_after_login(c->rt);
	account_release(&c->account);
	free(c);
}

static int set_last_used(struct store *s, void *ctx)
{
	long i = store_find_id(s, ctx);

	if (i < 0) {
		return 0;
	}
	s->accounts[i].last_used_at = (int64_t)time(NULL) * 1000000;
	return 1;
}

/* Makes the switch visible outside the session: auth.json and last_used_at. */
static void commit_switch(struct rt *rt)
{
	struct rt_commit *c = calloc(1, sizeof(*c));
	char err[256];

	if (store_update(rt->cfg->paths, set_last_used, rt->active.id, err, sizeof(err)) < 0) {
		log_warn("%s", err);
	}
	if (!c || account_copy(&c->account, &rt->active)) {
		free(c);
		return;
	}
	c->rt = rt;
	c->paths = rt->cfg->paths;
	c->err = -ECANCELED;
	rt->auth_write_pending = true;
	if (worker_submit(rt->worker, commit_run, commit_done, c)) {
		commit_done(c);
	}
}

static void login_succeeded(struct rt *rt, struct rt_login *l)
{
	char to[256], msg[768];

	account_release(&rt->active);
	rt->active = l->target;
	memset(&l->target, 0, sizeof(l->target));
	account_label(&rt->active, to, sizeof(to));
	maintain_logged_in(rt);
	if (l->initial) {
		log_info("logged in %s", to);
		rt_control_ready(rt);
		reconcile_after_login(rt);
		return;
	}
	if (l->quiet) {
		log_info("gave the app-server fresh tokens of %s", to);
		return;
	}
	rt->live_valid = false; /* the limits we saw were the previous account's */
	rt->all_exhausted_told = false;
	if (l->mode == POLICY_SOFT) {
		rt->last_soft_switch = (int64_t)time(NULL);
	}
	snprintf(msg, sizeof(msg), "codex-switch switched account from %s to %s because %s",
	         l->from, to, l->reason);
	tell_user(rt, msg);
	if (!l->external) {
		commit_switch(rt); /* an external choice is in auth.json already */
	}
	reconcile_after_login(rt);
}

static void login_answered(struct rt *rt, const cJSON *msg)
{
	struct rt_login *l = rt->login;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(err, "message");

	rt->login = NULL;
	ev_timer_stop(proxy_loop(rt->proxy), &l->tm);
	if (!err) {
		login_succeeded(rt, l);
	} else if (l->initial) {
		rt_fail(rt, "the codex app-server refused the account: %s",
		        cJSON_IsString(text) ? text->valuestring : "unknown error");
	} else {
		log_warn("the app-server refused the account: %s",
		         cJSON_IsString(text) ? text->valuestring : "unknown error");
		if (l->external) {
			reconcile_after_login(rt);
		} else if (!l->quiet) {
			mark_exhausted(rt, l->target.id, 0);
			switcher_consider(rt, POLICY_HARD, l->reason);
		}
	}
	login_free(l);
}

static void prepare_run(void *arg)
{
	struct rt_login *l = arg;
	struct account fresh = {0};

	l->err = token_ensure_fresh(l->rt->cfg->paths, l->target.id, false, &fresh, l->msg,
	                            sizeof(l->msg));
	if (!l->err) {
		account_release(&l->target);
		l->target = fresh;
	}
}

static void prepare_done(void *arg)
{
	struct rt_login *l = arg;
	struct rt *rt = l->rt;

	if (rt->phase != RT_RUNNING) {
		rt->login = NULL;
		login_free(l);
		return;
	}
	if (l->err) {
		log_warn("cannot log in %s: %s", l->target.name, l->msg);
		rt->login = NULL;
		if (l->external) {
			reconcile_after_login(rt);
		} else if (!l->quiet) {
			mark_exhausted(rt, l->target.id, 0);
			switcher_consider(rt, POLICY_HARD, l->reason);
		}
		login_free(l);
		return;
	}
	send_login(rt, l);
}

/* Takes a copy of target; its tokens are made fresh on the worker, then sent. */
static void start_login(struct rt *rt, const struct account *target, enum policy_mode mode,
                        const char *reason, bool external, bool quiet)
{
	struct rt_login *l = calloc(1, sizeof(*l));

	if (!l || account_copy(&l->target, target)) {
		free(l);
		return;
	}
	l->rt = rt;
	l->err = -ECANCELED;
	l->mode = mode;
	l->external = external;
	l->quiet = quiet;
	snprintf(l->reason, sizeof(l->reason), "%s", reason);
	account_label(&rt->active, l->from, sizeof(l->from));
	rt->login = l;
	if (worker_submit(rt->worker, prepare_run, prepare_done, l)) {
		prepare_done(l);
	}
}

void switcher_consider(struct rt *rt, enum policy_mode mode, const char *reason)
{
	struct policy_decision d;
	struct view v;
	char why[512];

	if (rt->login || rt->phase != RT_RUNNING || view_load(rt, &v)) {
		return; /* one login at a time; a pending one re-checks when it ends */
	}
	policy_decide(&rt->policy, v.pv.accounts, v.pv.n, v.current, mode, (int64_t)time(NULL),
	              rt->last_soft_switch, &d);
	if (d.action == POLICY_SWITCH && d.index >= 0 && d.index != v.current) {
		snprintf(why, sizeof(why), "%s", mode == POLICY_HARD ? reason : d.reason);
		log_info("switching from %s: %s (policy: %s)", rt->active.name, reason, d.reason);
		start_login(rt, &v.s.accounts[d.index], mode, why, false, false);
	} else if (d.action == POLICY_NONE_USABLE ||
	           (mode == POLICY_HARD && d.index == v.current)) {
		log_info("no account to switch to: %s", d.reason);
		tell_all_exhausted(rt, d.retry_at);
	} else {
		log_debug("keeping %s: %s", rt->active.name, d.reason);
	}
	view_release(&v);
}

void switcher_login_revoked(struct rt *rt)
{
	struct policy_decision d;
	char reason[256], label[256], msg[640];
	struct view v;

	account_label(&rt->active, label, sizeof(label));
	snprintf(reason, sizeof(reason),
	         "its login is no longer valid (run 'codex-switch login %s --replace')",
	         rt->active.name);
	log_warn("%s: %s", label, reason);
	/* Until a new login: the store marks it too, but the session must not wait for that. */
	mark_exhausted(rt, rt->active.id, (int64_t)time(NULL) + 365 * 86400);
	if (rt->login || rt->phase != RT_RUNNING || view_load(rt, &v)) {
		return;
	}
	policy_decide(&rt->policy, v.pv.accounts, v.pv.n, v.current, POLICY_HARD,
	              (int64_t)time(NULL), rt->last_soft_switch, &d);
	if (d.action == POLICY_SWITCH && d.index >= 0 && d.index != v.current) {
		start_login(rt, &v.s.accounts[d.index], POLICY_HARD, reason, false, false);
	} else {
		snprintf(
		        msg, sizeof(msg),
		        "codex-switch: the login of %s is no longer valid and no other account can "
		        "take over; run 'codex-switch login %s --replace'",
		        label, rt->active.name);
		tell_user(rt, msg);
	}
	view_release(&v);
}

void switcher_follow(struct rt *rt, const char *id, const char *reason)
{
	struct view v;
	long i;

	if (rt->login || rt->phase != RT_RUNNING || view_load(rt, &v)) {
		return;
	}
	i = store_find_id(&v.s, id);
	if (i >= 0) {
		log_info("following the account chosen outside the session: %s", v.pv.e[i].label);
		start_login(rt, &v.s.accounts[i], POLICY_HARD, reason, true, false);
	}
	view_release(&v);
}

void switcher_relogin_active(struct rt *rt, const struct account *fresh)
{
	if (rt->login || rt->phase != RT_RUNNING) {
		return;
	}
	start_login(rt, fresh, POLICY_SOFT, "its token was renewed", false, true);
}

int switcher_initial_login(struct rt *rt)
{
	struct rt_login *l = calloc(1, sizeof(*l));
	struct store s = {0};
	char err[512];
	long i;

	if (!l) {
		return -ENOMEM;
	}
	if (store_load(rt->cfg->paths, &s, err, sizeof(err))) {
		rt_fail(rt, "%s", err);
		free(l);
		return -EINVAL;
	}
	i = store_find_id(&s, rt->cfg->account_id);
	if (i < 0 || account_copy(&l->target, &s.accounts[i])) {
		store_release(&s);
		free(l);
		return -ENOENT;
	}
	store_release(&s);
	l->rt = rt;
	l->initial = true;
	rt->login = l;
	rt_next_id(rt, rt->init_id, sizeof(rt->init_id));
	send_control(rt, rpcmsg_initialize(rt->init_id, codexver_for_agent()));
	return 0;
}

static void initialize_answered(struct rt *rt, const cJSON *msg)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(msg, "error");

	rt->init_id[0] = '\0';
	if (err) {
		rt_fail(rt, "the codex app-server refused to initialize the control connection");
		return;
	}
	send_control(rt, rpcmsg_initialized());
	if (rt->login && rt->login->initial) {
		send_login(rt, rt->login);
	}
}

/* ---- triggers ---- */

static void mark_workspace(struct rt *rt, int64_t until)
{
	struct store st = {0};
	char err[256];

	/* A workspace-wide limit stops every account of that workspace, not just this one. */
	if (!rt->active.chatgpt_account_id || store_load(rt->cfg->paths, &st, err, sizeof(err))) {
		return;
	}
	for (size_t i = 0; i < st.n; i++) {
		const char *ws = st.accounts[i].chatgpt_account_id;
		if (ws && strcmp(ws, rt->active.chatgpt_account_id) == 0) {
			mark_exhausted(rt, st.accounts[i].id, until);
		}
	}
	store_release(&st);
}

static void on_trigger(struct rt *rt, const struct trigger *t)
{
	int64_t until = t->resets_at ? t->resets_at : rt->last_reset_hint;

	if (rt->phase != RT_RUNNING || t->kind == TRIGGER_NONE) {
		return;
	}
	if (t->kind == TRIGGER_SOFT) {
		switcher_consider(rt, POLICY_SOFT, t->reason);
		return;
	}
	log_info("account %s cannot go on: %s", rt->active.name, t->reason);
	mark_exhausted(rt, rt->active.id, until);
	if (t->workspace_wide) {
		mark_workspace(rt, until);
	}
	switcher_consider(rt, POLICY_HARD, t->reason);
}

/* The policy judges the active account by what the app-server just reported. */
static void remember_limits(struct rt *rt, const struct trigger *t, const cJSON *params)
{
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(params, "rateLimits");

	if (t->limit_id[0] && strcmp(t->limit_id, "codex") != 0) {
		return; /* other families feed triggers only */
	}
	usage_release(&rt->live);
	rt->live_valid = usage_from_rate_limits(rl, &rt->live) == 0;
	rt->live.fetched_at = (int64_t)time(NULL);
}

static void on_notification(struct rt *rt, const char *method, const cJSON *msg)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	struct trigger t;

	if (strcmp(method, "error") == 0) {
		trigger_from_error(params, &t);
	} else {
		trigger_from_rate_limits(params, &t);
		if (t.resets_at) {
			rt->last_reset_hint = t.resets_at;
		}
		remember_limits(rt, &t, params);
	}
	on_trigger(rt, &t);
}

static void on_internal_response(struct rt *rt, const char *id, const cJSON *msg)
{
	if (rt->init_id[0] && strcmp(id, rt->init_id) == 0) {
		initialize_answered(rt, msg);
	} else if (rt->login && strcmp(id, rt->login->id) == 0) {
		login_answered(rt, msg);
	}
	/* Anything else is a late answer to a request we gave up on: swallowed. */
}

enum proxy_verdict switcher_server_message(struct rt *rt, struct proxy_conn *c,
                                           const struct jsonrpc_head *h, const char *json,
                                           size_t len)
{
	cJSON *msg;
	const cJSON *id;

	if (h->kind == JSONRPC_REQUEST &&
	    strcmp(h->method, "account/chatgptAuthTokens/refresh") == 0) {
		tokenreq_on_request(rt, c, h);
		return PROXY_DROP; /* the TUI never answers it */
	}
	msg = cJSON_ParseWithLength(json, len);
	if (!msg) {
		return h->kind == JSONRPC_RESPONSE ? PROXY_DROP : PROXY_FORWARD;
	}
	if (h->kind == JSONRPC_RESPONSE) {
		id = cJSON_GetObjectItemCaseSensitive(msg, "id");
		if (cJSON_IsString(id)) {
			on_internal_response(rt, id->valuestring, msg);
		}
		cJSON_Delete(msg);
		return PROXY_DROP;
	}
	if (h->kind == JSONRPC_NOTIFICATION && !proxy_conn_is_control(c)) {
		on_notification(rt, h->method, msg);
	}
	cJSON_Delete(msg);
	return PROXY_FORWARD;
}

void switcher_conn_closed(struct rt *rt, struct proxy_conn *c)
{
	tokenreq_conn_closed(rt, c);
}

void switcher_release(struct rt *rt)
{
	login_free(rt->login);
	rt->login = NULL;
	tokenreq_release(rt);
	account_release(&rt->active);
	usage_release(&rt->live);
}
