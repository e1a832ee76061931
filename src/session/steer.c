#include "session/steer.h"

#include "base/codexver.h"
#include "base/log.h"
#include "base/util.h"
#include "session/steer_decide.h"
#include "session/steer_pool.h"
#include "session/steer_start.h"
#include "session/steer_tell.h"
#include "store/adopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_ATTEMPTS 5
#define REVOKED_FOR_S   (365 * 86400) /* until a new login */

static const int follow_delay_s[] = {1, 2, 5, 10};

/* ---- what the parts report ---- */

static void set_active(struct steer *s, const struct account *a)
{
	struct account copy;

	if (account_copy(&copy, a)) {
		return;
	}
	account_release(&s->active);
	s->active = copy;
	maintain_logged_in(&s->maint, &s->active);
}

static void switched(struct steer *s, const struct switch_result *r)
{
	char to[320], msg[640];

	set_active(s, r->account);
	steer_tell_who(&s->active, to, sizeof(to));
	s->live_valid = false; /* the limits we saw were the previous account's */
	s->limits_stale = true;
	s->all_exhausted_told = s->credit_tried = false;
	s->park_told_turn[0] = '\0';
	chooser_switched(&s->chooser, r->req->mode, steer_now());
	snprintf(msg, sizeof(msg), "Switched to %s: %s", to, r->req->reason);
	if (r->req->kind != SWITCH_EXTERNAL) { /* an outside choice is in auth.json already */
		s->auth_write_pending = pool_commit(&s->pool, &s->active) == 0;
	}
	steer_tell(s, msg);
	steer_pool_switched(s); /* poolview */
	park_cancel(&s->park);
	resubmit_go(&s->resub, s->active.id);
}

static void follow_retry(struct ev_timer *t);

/* A followed choice failed: look again after 1, 2, 5, 10 s, up to FOLLOW_ATTEMPTS times for
 * the same choice; a new change to auth.json starts over. */
static void follow_later(struct steer *s)
{
	int i = s->follow_attempts - 1, last = (int)UTIL_ARRAY_LEN(follow_delay_s) - 1;

	if (s->follow_attempts >= FOLLOW_ATTEMPTS) {
		log_warn("cannot log in the account of auth.json after %d attempts; the session "
		         "stays on %s until auth.json changes again",
		         FOLLOW_ATTEMPTS, s->active.name);
		return;
	}
	i = i < 0 ? 0 : i > last ? last : i;
	ev_timer_start(s->env->ev, &s->follow_tm, follow_retry,
	               (int64_t)follow_delay_s[i] * 1000000);
}

static void switch_failed(struct steer *s, const struct switch_result *r)
{
	const struct account *a = r->account;

	log_warn("cannot log in %s: %s", a->name, r->msg);
	if (r->req->kind == SWITCH_EXTERNAL) {
		follow_later(s);
	} else if (r->req->kind == SWITCH_POLICY) {
		chooser_mark(&s->chooser, a->id, 0, steer_now());
		steer_decide_consider(s, POLICY_HARD, r->req->reason);
	}
}

/* Without the start account the session cannot go on: nothing to fall back on yet. */
static void initial_done(struct steer *s, const struct switch_result *r)
{
	if (r->err) {
		char msg[512];
		snprintf(msg, sizeof(msg), "the codex app-server refused the account: %s", r->msg);
		s->ops->fail(s->ctx, msg);
		return;
	}
	set_active(s, r->account);
	log_info("logged in %s", s->active.name);
	s->ops->logged_in(s->ctx);
	steer_start_logged_in(s);
}

static void switch_done(void *ctx, const struct switch_result *r)
{
	struct steer *s = ctx;

	if (s->stopping) {
		return;
	}
	if (r->req->kind == SWITCH_INITIAL) {
		initial_done(s, r);
		return;
	}
	if (r->err) {
		switch_failed(s, r);
		if (r->req->kind == SWITCH_EXTERNAL) {
			steer_start_open_gate(s); /* follow_later() looks again */
			return;
		}
	} else if (r->req->kind == SWITCH_RENEW) {
		set_active(s, r->account);
		log_info("gave the app-server fresh tokens of %s", s->active.name);
	} else {
		switched(s, r);
	}
	s->check_auth = true; /* auth.json may have changed while the login was pending */
	pool_reload(&s->pool);
	if (!switcher_busy(&s->sw)) {
		/* a provisional start is settled, or the login ended: what was held goes now */
		steer_start_open_gate(s);
		steer_decide_deferred(s);
	}
}

static void control_ready(void *ctx, int err)
{
	struct steer *s = ctx;

	if (err && !s->running) {
		s->ops->fail(s->ctx, "the codex app-server refused to initialize the control "
		                     "connection");
	}
}

static void tokens_fresh(void *ctx, const struct account *a)
{
	struct steer *s = ctx;

	if (strcmp(a->id, s->active.id) == 0) {
		set_active(s, a);
	}
}

static void tokens_revoked(void *ctx, const char *account_id, const char *msg)
{
	struct steer *s = ctx;
	char reason[512], stuck[640];

	if (strcmp(account_id, s->active.id) != 0 || !steer_deciding(s)) {
		return;
	}
	log_warn("%s: %s", s->active.name, msg);
	/* Until a new login: the store marks it too, but the session must not wait for that. */
	chooser_mark(&s->chooser, s->active.id, steer_now() + REVOKED_FOR_S, steer_now());
	snprintf(reason, sizeof(reason),
	         "%s's login is no longer valid (run 'codex-switch login %s --replace')",
	         s->active.name, s->active.name);
	snprintf(stuck, sizeof(stuck),
	         "The login of %s is no longer valid and no other account can take over; run "
	         "'codex-switch login %s --replace'",
	         s->active.name, s->active.name);
	/* The turn that asked for the refresh fails now: the switch need not wait for its end,
	 * and its line shows in it. */
	s->revoking = true;
	steer_decide_consider_or(s, POLICY_HARD, reason, stuck);
	s->revoking = false;
}

static void renewed(void *ctx, const struct account *fresh)
{
	struct steer *s = ctx;

	if (steer_deciding(s) && !switcher_busy(&s->sw)) {
		steer_decide_switch(s, fresh, SWITCH_RENEW, POLICY_SOFT, "its token was renewed");
	}
}

static void checked(void *ctx)
{
	struct steer *s = ctx;

	s->consider_after_load = true;
	pool_reload(&s->pool);
}

static bool login_busy(void *ctx)
{
	return switcher_busy(&((struct steer *)ctx)->sw);
}

/* ---- outside changes ---- */

static void follow_retry(struct ev_timer *t)
{
	struct steer *s = EV_CONTAINER_OF(t, struct steer, follow_tm);

	s->check_auth = true;
	pool_reload(&s->pool);
}

/* auth.json names another stored account than the active one: the user chose it. */
static void check_auth(struct steer *s)
{
	const struct pool_snapshot *snap = &s->pool.cur;
	const struct account *target = switcher_target(&s->sw), *a;

	if (!steer_deciding(s) || s->auth_write_pending || switcher_busy(&s->sw)) {
		return; /* the end of that write or login looks again */
	}
	if (snap->auth_current < 0) {
		if (snap->auth_present && !s->unknown_current_told) {
			s->unknown_current_told = true;
			log_warn(
			        "'%s' holds a login codex-switch cannot store; the session stays on %s",
			        s->env->paths->auth_json, s->active.name);
		}
		return;
	}
	a = &snap->store.accounts[snap->auth_current];
	if (strcmp(a->id, s->active.id) == 0 || (target && strcmp(a->id, target->id) == 0)) {
		s->follow_attempts = 0;
		return;
	}
	if (s->follow_attempts >= FOLLOW_ATTEMPTS) {
		return;
	}
	s->follow_attempts++;
	log_info("following the account chosen outside the session: %s", a->name);
	steer_decide_switch(s, a, SWITCH_EXTERNAL, POLICY_HARD,
	                    strcmp(a->id, snap->adopt_id) == 0
	                            ? "you logged in to it with 'codex login' (it is stored now)"
	                            : "you chose it with 'codex-switch switch'");
}

static void pool_loaded(void *ctx, int err, const char *msg)
{
	struct steer *s = ctx;

	if (err) {
		if (err != -ECANCELED) {
			log_warn("%s", msg);
		}
		if (err != -ECANCELED) {
			steer_start_pool_loaded(s); /* the held turns go without the check */
		}
		return; /* the next change or check tries again: nothing is stuck */
	}
	steer_start_pool_loaded(s);
	if (s->pool.cur.adopt_message[0] && s->pool.cur.adopt_kind != ADOPT_REFRESHED) {
		/* a login taken in, or a file saved aside */
		steer_tell(s, s->pool.cur.adopt_message);
	}
	if (s->check_auth) {
		s->check_auth = false;
		check_auth(s);
	}
	if (s->resume_after_load) {
		s->resume_after_load = false;
		steer_decide_resume(s);
	}
	if (s->consider_after_load) {
		s->consider_after_load = false;
		/* the policy's reason says what the check found */
		steer_decide_consider(s, POLICY_SOFT, NULL);
	}
}

static void parked_wake(void *ctx)
{
	struct steer *s = ctx;
	char msg[512];

	if (s->park.spent_msg[0]) {
		const struct account *c = pool_account(&s->pool, s->pool.cur.credit_pick);
		snprintf(msg, sizeof(msg), "Reset credit of %s: %s", c && c->name ? c->name : "?",
		         s->park.spent_msg);
		steer_tell(s, msg);
		if (!s->park.spent_err && c) {
			/* free again now */
			chooser_mark(&s->chooser, c->id, steer_now(), steer_now());
		}
		s->park.spent_msg[0] = '\0';
	}

	s->resume_after_load = true;
	pool_reload(&s->pool);
}

static void committed(void *ctx, int err)
{
	struct steer *s = ctx;

	(void)err;
	s->auth_write_pending = false;
	s->check_auth = true;
	pool_reload(&s->pool);
}

static void outside_change(void *ctx, int what)
{
	struct steer *s = ctx;

	if (what & (RECONCILE_AUTH | RECONCILE_ACCOUNTS)) {
		s->check_auth = true;
		s->follow_attempts = 0; /* a new choice gets its own attempts */
		s->unknown_current_told = false;
	}
	pool_reload(&s->pool);
}

/* ---- life cycle ---- */

static const struct switcher_ops switcher_ops_tpl = {
        .ready = control_ready,
        .done = switch_done,
};

static int send_control(void *ctx, char *json)
{
	struct steer *s = ctx;

	return s->ops->send_control(s->ctx, json);
}

static int answer_refresh(void *ctx, struct proxy_conn *conn, char *json)
{
	struct steer *s = ctx;

	return s->ops->send_to_server(s->ctx, conn, json);
}

static int to_tui(void *ctx, struct proxy_conn *conn, const char *json)
{
	struct steer *s = ctx;

	return s->ops->send_to_tui(s->ctx, conn, json);
}

static void turn_released(void *ctx, const char *turn_id)
{
	struct steer *s = ctx;

	notice_turn_ended(&s->notice, turn_id);
}

void steer_init(struct steer *s, const struct session_env *env, const struct steer_ops *ops,
                void *ctx, const char *run_id, const struct policy_config *policy)
{
	struct switcher_ops so = switcher_ops_tpl;
	struct tokenreq_ops to = {.ctx = s,
	                          .answer = answer_refresh,
	                          .fresh = tokens_fresh,
	                          .revoked = tokens_revoked};
	struct maintain_ops mo = {
	        .ctx = s, .checked = checked, .renewed = renewed, .busy = login_busy};
	struct resubmit_ops ro = {
	        .ctx = s, .to_server = answer_refresh, .to_tui = to_tui, .released = turn_released};

	memset(s, 0, sizeof(*s));
	s->env = env;
	s->ops = ops;
	s->ctx = ctx;
	so.ctx = s;
	so.send = send_control;
	pool_init(&s->pool, env);
	s->pool.on_loaded = pool_loaded;
	s->pool.on_committed = committed;
	s->pool.ctx = s;
	chooser_init(&s->chooser, policy);
	/* The installed codex's version comes later (steer_codex_version). */
	switcher_init(&s->sw, env, &so, run_id, CODEXVER_PINNED);
	tokenreq_init(&s->tokens, env, &to);
	maintain_init(&s->maint, env, &s->pool, &mo);
	reconcile_init(&s->watch, env, outside_change, s);
	notice_init(&s->notice);
	notice_set_codex(&s->notice, CODEXVER_PINNED);
	turns_init(&s->turns);
	startgate_init(&s->gate);
	resubmit_init(&s->resub, &ro, run_id);
	park_init(&s->park, env, parked_wake, s);
	usage_init(&s->live);
}

void steer_release(struct steer *s)
{
	switcher_release(&s->sw);
	tokenreq_release(&s->tokens);
	maintain_release(&s->maint);
	reconcile_release(&s->watch);
	turns_release(&s->turns);
	resubmit_release(&s->resub);
	park_release(&s->park);
	if (s->env->ev) {
		ev_timer_stop(s->env->ev, &s->follow_tm);
	}
	pool_release(&s->pool);
	account_release(&s->active);
	account_release(&s->settle);
	account_release(&s->deferred);
	startgate_release(&s->gate);
	usage_release(&s->live);
}

void steer_conn_closed(struct steer *s, struct proxy_conn *conn, bool control)
{
	startgate_conn_closed(&s->gate, conn);
	tokenreq_conn_closed(&s->tokens, conn);
	turns_conn_closed(&s->turns, conn);
	resubmit_conn_closed(&s->resub, conn);
	if (control) {
		switcher_disconnected(&s->sw);
	}
	steer_decide_deferred(s);
}

void steer_codex_version(struct steer *s, const char *version)
{
	switcher_set_client_version(&s->sw, version);
	notice_set_codex(&s->notice, version);
}

void steer_running(struct steer *s)
{
	int r;

	s->running = true;
	r = reconcile_start(&s->watch);
	if (r) {
		log_warn("cannot watch '%s' for account changes: %s; a 'codex-switch switch' in "
		         "another terminal will not reach this session",
		         s->env->paths->auth_json, strerror(-r));
	}
	s->check_auth = true; /* auth.json may have changed since the start */
	pool_reload(&s->pool);
	steer_start_check_spent(s);
}

void steer_stopping(struct steer *s)
{
	s->stopping = true;
}
