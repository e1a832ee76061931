#include "session/steer_start.h"

#include "base/log.h"
#include "base/util.h"
#include "session/steer_decide.h"
#include "session/steer_server.h"
#include "session/steer_tell.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int steer_load(struct steer *s, const char *start_id, char *err, size_t errsz)
{
	snprintf(s->start_id, sizeof(s->start_id), "%s", start_id ? start_id : "");
	if (pool_load_now(&s->pool, err, errsz)) {
		return -EINVAL;
	}
	if (start_id && !pool_account(&s->pool, start_id)) {
		snprintf(err, errsz,
		         "the start account is no longer stored; run 'codex-switch list'");
		return -ENOENT;
	}
	return 0;
}

int steer_control_opened(struct steer *s)
{
	struct switch_request req = {.kind = SWITCH_INITIAL};
	const struct account *a;
	int r = switcher_connected(&s->sw);

	if (r < 0 || s->active.id || switcher_busy(&s->sw) || !s->start_id[0]) {
		/* a reconnect: a pending login is sent again once initialized; or the start
		 * account is still being chosen: steer_start() logs it in */
		return r;
	}
	a = pool_account(&s->pool, s->start_id);
	return a ? switcher_start(&s->sw, a, &req) : -ENOENT;
}

int steer_start(struct steer *s, const struct account *a, const char *note)
{
	struct switch_request req = {.kind = SWITCH_INITIAL};

	snprintf(s->start_id, sizeof(s->start_id), "%s", a->id);
	if (note && *note) {
		steer_tell(s, note);
	}
	/* Before the control connection is ready the switcher holds the login until it is. */
	return switcher_start(&s->sw, a, &req);
}

/* ---- the provisional start ---- */

/* A held turn goes its normal way now (the gate is open). */
static void send_held(void *ctx, struct proxy_conn *conn, char *json)
{
	struct steer *s = ctx;
	struct jsonrpc_head h;
	size_t len = strlen(json);

	if (jsonrpc_scan(json, len, true, &h) == 0 &&
	    steer_client_message(s, conn, &h, json, len) == PROXY_FORWARD) {
		s->ops->send_to_server(s->ctx, conn, json);
		return;
	}
	util_free_secret(json);
}

void steer_start_open_gate(struct steer *s)
{
	if (startgate_closed(&s->gate)) {
		startgate_open(&s->gate, send_held, s);
	}
}

static void apply_settle(struct steer *s, const struct account *a, const char *note)
{
	struct switch_request req = {.kind = SWITCH_POLICY, .mode = POLICY_HARD};

	if (strcmp(a->id, s->active.id) == 0) {
		/* Kept even when every account is spent (nothing better): the load says which. */
		s->settle_load = true;
		pool_reload(&s->pool);
		return;
	}
	snprintf(req.reason, sizeof(req.reason), "%s", note && *note ? note : "the start policy");
	log_info("the fresh usage chose %s at start: switching from %s", a->name, s->active.name);
	if (switcher_start(&s->sw, a, &req) < 0) {
		log_warn("cannot switch to %s; the session stays on %s", a->name, s->active.name);
		steer_start_open_gate(s);
	}
}

/* The fresh usage is later than STEER_GATE_WAIT_US. */
static void gate_late(void *ctx)
{
	struct steer *s = ctx;

	/* A login under way (the provisional one, or the settled switch) opens it when it ends. */
	if (!s->active.id || s->settle.id || switcher_busy(&s->sw)) {
		return;
	}
	log_info("the fresh usage is late: the held turn goes on %s", s->active.name);
	steer_start_open_gate(s);
}

void steer_provisional(struct steer *s)
{
	startgate_close(&s->gate, s->env->ev, STEER_GATE_WAIT_US, gate_late, s);
}

int steer_settle(struct steer *s, const struct account *a, const char *note)
{
	if (!startgate_closed(&s->gate)) {
		if (a && s->active.id && strcmp(a->id, s->active.id) != 0) {
			log_info(
			        "the fresh usage chose %s after the first turn went on %s; a usage "
			        "limit there switches as usual",
			        a->name, s->active.name);
		}
		return 0;
	}
	if (!a && s->active.id) {
		steer_start_open_gate(s);
		return 0;
	}
	if (!a) {
		s->settle_keep = true;
		return 0;
	}
	if (!s->active.id) { /* the provisional login is still under way */
		account_release(&s->settle);
		snprintf(s->settle_note, sizeof(s->settle_note), "%s", note ? note : "");
		return account_copy(&s->settle, a);
	}
	apply_settle(s, a, note);
	return 0;
}

void steer_start_logged_in(struct steer *s)
{
	if (s->settle_keep) {
		s->settle_keep = false;
		steer_start_open_gate(s);
	}
	if (s->settle.id) {
		struct account a = s->settle;
		memset(&s->settle, 0, sizeof(s->settle));
		apply_settle(s, &a, s->settle_note);
		account_release(&a);
	}
}

void steer_start_pool_loaded(struct steer *s)
{
	if (!s->settle_load || s->pool.again) {
		return; /* a later load reads the fresh usage */
	}
	s->settle_load = false;
	if (steer_deciding(s)) { /* else steer_running() checks */
		steer_start_check_spent(s);
	}
	steer_start_open_gate(s); /* parked, the held turns wait for the reset */
}

void steer_start_check_spent(struct steer *s)
{
	struct policy_decision d;

	if (chooser_decide(&s->chooser, &s->pool.cur, s->active.id, NULL, POLICY_INITIAL,
	                   steer_now(), &d) == 0 &&
	    d.action == POLICY_NONE_USABLE) {
		const char *const *lines;
		notice_take(&s->notice, &lines); /* the waiting line says it all */
		steer_decide_park(s);
	}
}
