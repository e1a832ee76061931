/*
 * Accounts inside a running session: the initial login on the control connection, answers to
 * the app-server's token refresh requests, switch triggers, and the hot swap itself.
 * Everything here runs on the loop thread; token refreshes and store writes run as worker
 * jobs, whose run() touches only the job.
 */
#include "runtime_internal.h"

#include "authjson.h"
#include "log.h"
#include "rpcmsg.h"
#include "store.h"
#include "token.h"
#include "trigger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOGIN_TIMEOUT_US    (20 * LWS_US_PER_SEC)
#define REFRESH_ANSWER_US   (8 * LWS_US_PER_SEC) /* the app-server gives up after 10 s */
#define EXHAUSTED_DEFAULT_S 3600
#define PROXY_ERROR_CODE    -32000

struct rt_login {
	struct rt *rt;
	char id[96];
	struct account target;
	char reason[200];
	char from[256]; /* label of the account switched from; "" for the first login */
	bool initial;
	int err; /* of the token job */
	char msg[256];
	lws_sorted_usec_list_t sul;
};

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
	lws_sorted_usec_list_t sul;
	struct rt_refresh *next;
};

struct rt_commit {
	const struct paths *paths;
	struct account account;
	int err;
	char msg[256];
};

static void try_switch(struct rt *rt, const char *reason);

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

static bool is_exhausted(struct rt *rt, const char *id, int64_t now)
{
	struct rt_exhausted *e = find_exhausted(rt, id);

	return e && e->until > now;
}

static bool usable(struct rt *rt, const struct account *a, int64_t now)
{
	return a->kind == ACCOUNT_CHATGPT && !a->disabled && !a->relogin_reason &&
	       a->chatgpt_account_id && strcmp(a->id, rt->active.id) != 0 &&
	       !is_exhausted(rt, a->id, now);
}

/*
 * The next account: usable, least recently used first (never used before any), then store
 * order. Issue #5 replaces this with the policy module. Returns the index or -1.
 */
static long choose_next(struct rt *rt, const struct store *s)
{
	int64_t now = (int64_t)time(NULL);
	long best = -1;

	for (size_t i = 0; i < s->n; i++) {
		if (!usable(rt, &s->accounts[i], now)) {
			continue;
		}
		if (best < 0 || s->accounts[i].last_used_at < s->accounts[best].last_used_at) {
			best = (long)i;
		}
	}
	return best;
}

static void tell_all_exhausted(struct rt *rt)
{
	int64_t earliest = 0;
	char msg[256], when[64] = "an unknown time";
	time_t t;
	struct tm tm;

	if (rt->all_exhausted_told) {
		return;
	}
	rt->all_exhausted_told = true;
	for (size_t i = 0; i < rt->nexhausted; i++) {
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
	lws_sul_cancel(&l->sul);
	account_release(&l->target);
	free(l);
}

static void login_timeout(lws_sorted_usec_list_t *sul)
{
	struct rt_login *l = lws_container_of(sul, struct rt_login, sul);
	struct rt *rt = l->rt;

	log_warn("the app-server did not answer the login of the next account within 20 s");
	rt->login = NULL;
	if (l->initial) {
		rt_fail(rt, "the codex app-server did not accept the account within 20 s");
	} else {
		mark_exhausted(rt, l->target.id, 0);
		try_switch(rt, l->reason);
	}
	login_free(l);
}

static void send_login(struct rt *rt, struct rt_login *l)
{
	rt_next_id(rt, l->id, sizeof(l->id));
	send_control(rt, rpcmsg_login(l->id, &l->target));
	lws_sul_schedule(proxy_context(rt->proxy), 0, &l->sul, login_timeout, LOGIN_TIMEOUT_US);
}

static void commit_run(void *arg)
{
	struct rt_commit *c = arg;
	int r;

	r = authjson_write(c->paths->auth_json, &c->account);
	if (r) {
		snprintf(c->msg, sizeof(c->msg), "cannot write '%s': %s", c->paths->auth_json,
		         strerror(-r));
	}
	c->err = r;
}

static void commit_done(void *arg)
{
	struct rt_commit *c = arg;

	if (c->err) {
		log_warn("%s", c->msg);
	}
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
	c->paths = rt->cfg->paths;
	c->err = -ECANCELED;
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
	if (l->initial) {
		log_info("logged in %s", to);
		rt_control_ready(rt);
		return;
	}
	rt->all_exhausted_told = false;
	snprintf(msg, sizeof(msg), "codex-switch switched account from %s to %s because %s",
	         l->from, to, l->reason);
	tell_user(rt, msg);
	commit_switch(rt);
}

static void login_answered(struct rt *rt, const cJSON *msg)
{
	struct rt_login *l = rt->login;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(err, "message");

	rt->login = NULL;
	lws_sul_cancel(&l->sul);
	if (!err) {
		login_succeeded(rt, l);
	} else if (l->initial) {
		rt_fail(rt, "the codex app-server refused the account: %s",
		        cJSON_IsString(text) ? text->valuestring : "unknown error");
	} else {
		log_warn("the app-server refused the next account: %s",
		         cJSON_IsString(text) ? text->valuestring : "unknown error");
		mark_exhausted(rt, l->target.id, 0);
		try_switch(rt, l->reason);
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
		log_warn("cannot switch to the next account: %s", l->msg);
		rt->login = NULL;
		mark_exhausted(rt, l->target.id, 0);
		try_switch(rt, l->reason);
		login_free(l);
		return;
	}
	send_login(rt, l);
}

static void try_switch(struct rt *rt, const char *reason)
{
	struct store s = {0};
	struct rt_login *l;
	char err[512];
	long i;

	if (rt->login || rt->phase != RT_RUNNING) {
		return; /* one switch at a time */
	}
	if (store_load(rt->cfg->paths, &s, err, sizeof(err))) {
		log_warn("%s", err);
		return;
	}
	i = choose_next(rt, &s);
	if (i < 0) {
		store_release(&s);
		tell_all_exhausted(rt);
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l || account_copy(&l->target, &s.accounts[i])) {
		free(l);
		store_release(&s);
		return;
	}
	store_release(&s);
	l->rt = rt;
	l->err = -ECANCELED;
	snprintf(l->reason, sizeof(l->reason), "%s", reason);
	account_label(&rt->active, l->from, sizeof(l->from));
	rt->login = l;
	log_info("switching from %s because %s", l->from, reason);
	if (worker_submit(rt->worker, prepare_run, prepare_done, l)) {
		prepare_done(l);
	}
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
	send_control(rt, rpcmsg_initialize(rt->init_id, CS_VERSION));
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

/* ---- answering account/chatgptAuthTokens/refresh ---- */

static void refresh_free(struct rt *rt, struct rt_refresh *f)
{
	for (struct rt_refresh **p = &rt->refreshes; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	lws_sul_cancel(&f->sul);
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

static void refresh_too_slow(lws_sorted_usec_list_t *sul)
{
	struct rt_refresh *f = lws_container_of(sul, struct rt_refresh, sul);

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
	} else {
		refresh_answer(f, rpcmsg_refresh_result(f->raw_id, &f->result));
		if (strcmp(f->result.id, rt->active.id) == 0) {
			account_release(&rt->active);
			account_copy(&rt->active, &f->result);
		}
	}
	refresh_free(rt, f);
}

static void on_refresh_request(struct rt *rt, struct proxy_conn *c, const struct jsonrpc_head *h)
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
	lws_sul_schedule(proxy_context(rt->proxy), 0, &f->sul, refresh_too_slow, REFRESH_ANSWER_US);
	if (worker_submit(rt->worker, refresh_run, refresh_done, f)) {
		snprintf(f->msg, sizeof(f->msg), "codex-switch is busy; try again");
		refresh_done(f);
	}
}

/* ---- triggers ---- */

static void on_trigger(struct rt *rt, const struct trigger *t)
{
	if (t->kind != TRIGGER_HARD || rt->phase != RT_RUNNING) {
		return;
	}
	log_info("account %s cannot go on: %s", rt->active.name, t->reason);
	mark_exhausted(rt, rt->active.id, t->resets_at ? t->resets_at : rt->last_reset_hint);
	try_switch(rt, t->reason);
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
		on_refresh_request(rt, c, h);
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
	for (struct rt_refresh *f = rt->refreshes; f; f = f->next) {
		if (f->conn == c) {
			f->conn = NULL;
		}
	}
}

void switcher_release(struct rt *rt)
{
	login_free(rt->login);
	rt->login = NULL;
	while (rt->refreshes) {
		refresh_free(rt, rt->refreshes);
	}
	account_release(&rt->active);
}
