#include "session/switcher.h"

#include "base/log.h"
#include "base/util.h"
#include "base/worker.h"
#include "net/token.h"
#include "session/rpcmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct switch_pending {
	struct switcher *s;
	struct switch_request req;
	struct account target;
	char id[128];   /* of the account/login/start sent; "" before */
	bool prepared;  /* the tokens are fresh: ready to send */
	bool in_worker; /* the token job is out: it frees the pending on return */
	bool cancelled; /* released while the token job was out */
	int err;        /* of the token job */
	char msg[256];
	struct ev_timer tm;
};

static void pending_free(struct switch_pending *p)
{
	if (!p) {
		return;
	}
	ev_timer_stop(p->s->env->ev, &p->tm);
	account_release(&p->target);
	free(p);
}

/* Ends the pending login with err/msg; the switcher is free before done() runs, so done()
 * may start the next login. */
static void finish(struct switcher *s, int err, const char *msg)
{
	struct switch_pending *p = s->pending;
	struct switch_result r = {.req = &p->req, .err = err, .msg = msg, .account = &p->target};

	s->pending = NULL;
	ev_timer_stop(s->env->ev, &p->tm);
	if (s->ops.done) {
		s->ops.done(s->ops.ctx, &r);
	}
	pending_free(p);
}

static void login_timeout(struct ev_timer *t)
{
	struct switch_pending *p = EV_CONTAINER_OF(t, struct switch_pending, tm);

	finish(p->s, -ETIMEDOUT, "the app-server did not answer the login within 20 s");
}

static void send_login(struct switcher *s)
{
	struct switch_pending *p = s->pending;

	snprintf(p->id, sizeof(p->id), "%s%ld", s->prefix, ++s->next_id);
	if (s->ops.send(s->ops.ctx, rpcmsg_login(p->id, &p->target)) < 0) {
		p->id[0] = '\0'; /* sent again once the control connection is back */
		return;
	}
	ev_timer_start(s->env->ev, &p->tm, login_timeout, SWITCHER_LOGIN_TIMEOUT_US);
}

void switcher_init(struct switcher *s, const struct session_env *env,
                   const struct switcher_ops *ops, const char *run_id, const char *client_version)
{
	memset(s, 0, sizeof(*s));
	s->env = env;
	s->ops = *ops;
	snprintf(s->prefix, sizeof(s->prefix), RPCMSG_ID_PREFIX "%s/login/", run_id);
	snprintf(s->client_version, sizeof(s->client_version), "%s", client_version);
}

void switcher_set_client_version(struct switcher *s, const char *client_version)
{
	snprintf(s->client_version, sizeof(s->client_version), "%s", client_version);
}

void switcher_release(struct switcher *s)
{
	struct switch_pending *p = s->pending;

	s->pending = NULL;
	if (p && p->in_worker) {
		p->cancelled = true; /* the job's done() frees it */
		ev_timer_stop(s->env->ev, &p->tm);
	} else {
		pending_free(p);
	}
}

int switcher_connected(struct switcher *s)
{
	snprintf(s->init_id, sizeof(s->init_id), "%sinit", s->prefix);
	s->ready = false;
	return s->ops.send(s->ops.ctx, rpcmsg_initialize(s->init_id, s->client_version));
}

void switcher_disconnected(struct switcher *s)
{
	s->ready = false;
	s->init_id[0] = '\0';
	if (s->pending && s->pending->id[0]) {
		ev_timer_stop(s->env->ev, &s->pending->tm);
		s->pending->id[0] = '\0';
	}
}

bool switcher_busy(const struct switcher *s)
{
	return s->pending != NULL;
}

bool switcher_logging_in(const struct switcher *s)
{
	return s->pending && s->pending->id[0];
}

const struct account *switcher_target(const struct switcher *s)
{
	return s->pending ? &s->pending->target : NULL;
}

static void prepare_run(void *arg)
{
	struct switch_pending *p = arg;
	struct account fresh = {0};

	p->err = token_ensure_fresh(p->s->env->paths, p->target.id, false, &fresh, p->msg,
	                            sizeof(p->msg));
	if (!p->err) {
		account_release(&p->target);
		p->target = fresh;
	}
}

static void prepare_done(void *arg)
{
	struct switch_pending *p = arg;
	struct switcher *s = p->s;

	p->in_worker = false;
	if (p->cancelled) {
		pending_free(p);
		return;
	}
	if (p->err) {
		finish(s, p->err, p->msg);
		return;
	}
	p->prepared = true;
	if (s->ready) {
		send_login(s);
	}
}

int switcher_start(struct switcher *s, const struct account *target,
                   const struct switch_request *req)
{
	struct switch_pending *p;

	if (s->pending) {
		return -EBUSY;
	}
	p = calloc(1, sizeof(*p));
	if (!p || account_copy(&p->target, target)) {
		free(p);
		return -ENOMEM;
	}
	p->s = s;
	p->req = *req;
	p->err = -ECANCELED;
	snprintf(p->msg, sizeof(p->msg), "codex-switch is shutting down");
	s->pending = p;
	/* Tokens that are not near their expiry go at once: the worker may be busy writing the
	 * last switch out, and a refused token is refreshed on the app-server's request anyway. */
	if (req->kind == SWITCH_INITIAL || req->kind == SWITCH_RENEW ||
	    !token_needs_refresh(target, (int64_t)time(NULL))) {
		p->prepared = true;
		if (s->ready) {
			send_login(s);
		}
		return 0;
	}
	p->in_worker = true;
	if (worker_submit(s->env->worker, prepare_run, prepare_done, p)) {
		p->in_worker = false;
		s->pending = NULL;
		pending_free(p);
		return -EBUSY;
	}
	return 0;
}

static const char *error_text(const cJSON *msg)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(msg, "error"), "message");

	return cJSON_IsString(text) ? text->valuestring : "unknown error";
}

static void initialize_answered(struct switcher *s, const cJSON *msg)
{
	s->init_id[0] = '\0';
	if (cJSON_GetObjectItemCaseSensitive(msg, "error")) {
		log_warn("the app-server refused to initialize the control connection: %s",
		         error_text(msg));
		s->ops.ready(s->ops.ctx, -EPROTO);
		return;
	}
	s->ops.send(s->ops.ctx, rpcmsg_initialized());
	s->ready = true;
	s->ops.ready(s->ops.ctx, 0);
	if (s->pending && s->pending->prepared && !s->pending->id[0]) {
		send_login(s);
	}
}

bool switcher_on_response(struct switcher *s, const char *id, const cJSON *msg)
{
	if (s->init_id[0] && strcmp(id, s->init_id) == 0) {
		initialize_answered(s, msg);
		return true;
	}
	if (!util_starts_with(id, s->prefix)) {
		return false;
	}
	if (s->pending && s->pending->id[0] && strcmp(id, s->pending->id) == 0) {
		if (cJSON_GetObjectItemCaseSensitive(msg, "error")) {
			finish(s, -EPERM, error_text(msg));
		} else {
			finish(s, 0, NULL);
		}
	}
	return true; /* a late answer to a login we gave up on: swallowed */
}
