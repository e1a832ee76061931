#include "session/resubmit.h"

#include "base/log.h"
#include "base/util.h"
#include "session/rpcmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void resubmit_init(struct resubmit *r, const struct resubmit_ops *ops, const char *run_id)
{
	memset(r, 0, sizeof(*r));
	r->ops = *ops;
	snprintf(r->prefix, sizeof(r->prefix), RPCMSG_ID_PREFIX "%s/turn/", run_id);
}

static void clear(struct resubmit *r)
{
	free(r->request);
	free(r->held);
	r->request = r->held = NULL;
	r->state = RESUBMIT_IDLE;
	r->conn = NULL;
	r->completed = r->account_ready = r->produced = r->parked = r->abandon = false;
	r->req_id[0] = r->new_turn[0] = '\0';
}

void resubmit_release(struct resubmit *r)
{
	clear(r);
}

bool resubmit_active(const struct resubmit *r)
{
	return r->state != RESUBMIT_IDLE;
}

bool resubmit_held(const struct resubmit *r)
{
	return r->state == RESUBMIT_HELD;
}

static bool tried(const struct resubmit *r, const char *account_id)
{
	for (size_t i = 0; i < r->ntried; i++) {
		if (strcmp(r->tried[i], account_id) == 0) {
			return true;
		}
	}
	return false;
}

int resubmit_hold(struct resubmit *r, struct proxy_conn *conn, const char *thread_id,
                  const char *failed_turn, const char *request, size_t len, bool produced,
                  const char *account_id)
{
	bool same_turn = strcmp(r->new_turn, failed_turn) == 0 && r->new_turn[0];

	/* A re-sent turn that fails again is the same prompt: its tries carry over. */
	if (!same_turn) {
		r->ntried = 0;
	}
	/* Held even when it ran on that account already: it may wait for a reset there; only an
	 * immediate second try on the same account is refused (resubmit_go). */
	if (r->ntried >= RESUBMIT_MAX_TRIES) {
		clear(r);
		return -EALREADY;
	}
	free(r->request);
	free(r->held);
	r->held = NULL;
	r->request = malloc(len + 1);
	if (!r->request) {
		clear(r);
		return -ENOMEM;
	}
	memcpy(r->request, request, len);
	r->request[len] = '\0';
	r->len = len;
	if (!tried(r, account_id)) {
		snprintf(r->tried[r->ntried++], sizeof(r->tried[0]), "%s", account_id);
	}
	r->conn = conn;
	snprintf(r->thread_id, sizeof(r->thread_id), "%s", thread_id);
	snprintf(r->failed_turn, sizeof(r->failed_turn), "%s", failed_turn);
	snprintf(r->scrub_turn, sizeof(r->scrub_turn), "%s", failed_turn);
	r->new_turn[0] = r->req_id[0] = '\0';
	r->produced = produced || (same_turn && r->produced);
	r->foreign = same_turn;
	r->completed = r->account_ready = r->parked = r->abandon = false;
	r->state = RESUBMIT_HELD;
	return 0;
}

static void next_id(struct resubmit *r)
{
	snprintf(r->req_id, sizeof(r->req_id), "%s%ld", r->prefix, ++r->next_id);
}

/* The TUI's turn/start with our id, and for a continuation the plain request to go on. */
static char *start_request(struct resubmit *r)
{
	cJSON *msg = cJSON_ParseWithLength(r->request, r->len), *params, *input, *item;
	char *out = NULL;

	params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	if (!cJSON_IsObject(params)) {
		cJSON_Delete(msg);
		return NULL;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(msg, "id");
	cJSON_AddStringToObject(msg, "id", r->req_id);
	if (r->produced) {
		input = cJSON_CreateArray();
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "type", "text");
		cJSON_AddStringToObject(item, "text", RESUBMIT_CONTINUE_TEXT);
		cJSON_AddItemToArray(input, item);
		cJSON_ReplaceItemInObjectCaseSensitive(params, "input", input);
	}
	out = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	return out;
}

static void send_start(struct resubmit *r)
{
	char *json;

	next_id(r);
	json = start_request(r);
	r->state = RESUBMIT_STARTING;
	if (!json || r->ops.to_server(r->ops.ctx, r->conn, json) < 0) {
		log_warn("cannot send the turn again; the prompt has to be sent by hand");
		resubmit_cancel(r);
	}
}

/* thread/revert {beforeTurnId} names the turn to drop; codex before 0.15x has only the older
 * thread/rollback {numTurns}, which drops the last turns: the failed turn is the last. */
static void send_revert(struct resubmit *r)
{
	cJSON *o = cJSON_CreateObject(), *p = o ? cJSON_AddObjectToObject(o, "params") : NULL;
	char *json = NULL;

	next_id(r);
	if (p) {
		cJSON_AddStringToObject(o, "id", r->req_id);
		cJSON_AddStringToObject(o, "method",
		                        r->rollback ? "thread/rollback" : "thread/revert");
		cJSON_AddStringToObject(p, "threadId", r->thread_id);
		if (r->rollback) {
			cJSON_AddNumberToObject(p, "numTurns", 1);
		} else {
			cJSON_AddStringToObject(p, "beforeTurnId", r->failed_turn);
		}
		json = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	r->state = RESUBMIT_REVERTING;
	if (!json || r->ops.to_server(r->ops.ctx, r->conn, json) < 0) {
		log_warn("cannot revert the failed turn; the prompt has to be sent by hand");
		resubmit_cancel(r);
	}
}

static void release_tui(struct resubmit *r);

static void maybe_send(struct resubmit *r)
{
	if (r->state != RESUBMIT_HELD || !r->completed || !r->account_ready) {
		return;
	}
	release_tui(r);
	log_info("sending the turn again on the next account (%s)",
	         r->produced ? "continuing" : "redoing");
	if (r->produced) {
		send_start(r);
	} else {
		send_revert(r);
	}
}

void resubmit_go(struct resubmit *r, const char *account_id)
{
	if (r->state != RESUBMIT_HELD) {
		return;
	}
	if (!r->parked && tried(r, account_id)) {
		resubmit_cancel(r); /* it ran there already and nothing has reset since */
		return;
	}
	if (!tried(r, account_id) && r->ntried < RESUBMIT_MAX_TRIES) {
		snprintf(r->tried[r->ntried++], sizeof(r->tried[0]), "%s", account_id);
	}
	r->account_ready = true;
	r->parked = false;
	maybe_send(r);
}

static void release_tui(struct resubmit *r)
{

	if (r->held && r->conn) {
		r->ops.to_tui(r->ops.ctx, r->conn, r->held);
		r->ops.released(r->ops.ctx, r->failed_turn);
	}
	free(r->held);
	r->held = NULL;
}

void resubmit_go_again(struct resubmit *r, const char *account_id)
{
	r->parked = true; /* the tried-accounts rule is about limits not yet reset */
	resubmit_go(r, account_id);
}

void resubmit_park(struct resubmit *r)
{
	r->parked = true;
	release_tui(r);
}

void resubmit_cancel(struct resubmit *r)
{
	if (r->state == RESUBMIT_IDLE) {
		return;
	}
	release_tui(r);
	clear(r);
}

bool resubmit_on_response(struct resubmit *r, const char *id, const cJSON *msg)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *turn;

	if (!util_starts_with(id, r->prefix)) {
		return false;
	}
	if (strcmp(id, r->req_id) != 0) {
		return true; /* a late answer: swallowed */
	}
	if (err && r->state == RESUBMIT_REVERTING && !r->rollback) {
		log_info("thread/revert refused; trying thread/rollback");
		r->rollback = true;
		send_revert(r);
	} else if (err) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
		log_warn("the app-server refused to send the turn again: %s",
		         cJSON_IsString(m) ? m->valuestring : "unknown error");
		resubmit_cancel(r);
	} else if (r->state == RESUBMIT_REVERTING && r->abandon) {
		clear(r);
	} else if (r->state == RESUBMIT_REVERTING) {
		send_start(r);
	} else if (r->state == RESUBMIT_STARTING) {
		turn = cJSON_GetObjectItemCaseSensitive(
		        cJSON_GetObjectItemCaseSensitive(
		                cJSON_GetObjectItemCaseSensitive(msg, "result"), "turn"),
		        "id");
		if (cJSON_IsString(turn) && !r->new_turn[0]) {
			snprintf(r->new_turn, sizeof(r->new_turn), "%s", turn->valuestring);
		}
		r->state = RESUBMIT_RUNNING;
	}
	return true;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* The failed turn's completion without its error, so the TUI shows no usage-limit cell. */
static char *without_error(const char *json, size_t len)
{
	cJSON *msg = cJSON_ParseWithLength(json, len);
	cJSON *turn = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(msg, "params"), "turn");
	char *out = NULL;

	if (cJSON_IsObject(turn)) {
		cJSON_DeleteItemFromObjectCaseSensitive(turn, "error");
		cJSON_ReplaceItemInObjectCaseSensitive(turn, "status",
		                                       cJSON_CreateString("completed"));
		out = cJSON_PrintUnformatted(msg);
	}
	cJSON_Delete(msg);
	return out;
}

static bool is_user_message(const cJSON *params)
{
	return strcmp(str(cJSON_GetObjectItemCaseSensitive(params, "item"), "type"),
	              "userMessage") == 0;
}

/* The failed turn ended after its plan was given up (the user pressed Esc meanwhile): its
 * error was not shown, so its completion must not show it either. */
static bool scrub(struct resubmit *r, struct proxy_conn *conn, const char *method,
                  const cJSON *params, const char *json, size_t len)
{
	char *clean;

	if (!r->scrub_turn[0] || strcmp(method, "turn/completed") != 0 ||
	    strcmp(str(cJSON_GetObjectItemCaseSensitive(params, "turn"), "id"), r->scrub_turn) !=
	            0) {
		return false;
	}
	r->scrub_turn[0] = '\0';
	clean = without_error(json, len);
	if (clean) {
		r->ops.to_tui(r->ops.ctx, conn, clean);
		r->ops.released(r->ops.ctx,
		                str(cJSON_GetObjectItemCaseSensitive(params, "turn"), "id"));
	}
	free(clean);
	return clean != NULL;
}

bool resubmit_filter(struct resubmit *r, struct proxy_conn *conn, const char *method,
                     const cJSON *params, const char *json, size_t len)
{
	const char *thread = str(params, "threadId");

	if (r->state == RESUBMIT_IDLE && scrub(r, conn, method, params, json, len)) {
		return false;
	}

	if (r->state == RESUBMIT_IDLE || conn != r->conn || strcmp(thread, r->thread_id) != 0) {
		return true;
	}
	if (strcmp(method, "turn/completed") == 0 && r->state == RESUBMIT_HELD &&
	    strcmp(str(cJSON_GetObjectItemCaseSensitive(params, "turn"), "id"), r->failed_turn) ==
	            0) {
		/* Held until the switch is told (the TUI shows a notice only during its own
		 * turn); then the TUI ends the turn quietly and the turn goes again as a new one.
		 */
		free(r->held);
		r->held = without_error(json, len);
		r->completed = true;
		r->scrub_turn[0] = '\0';
		if (r->parked) {
			release_tui(r);
		}
		maybe_send(r);
		return false;
	}
	if (strcmp(method, "thread/reverted") == 0 || strcmp(method, "thread/rolledBack") == 0) {
		return r->state == RESUBMIT_HELD; /* ours, while the re-sent turn is under way */
	}
	if (strcmp(method, "turn/started") == 0 && r->state == RESUBMIT_STARTING &&
	    !r->new_turn[0]) {
		snprintf(r->new_turn, sizeof(r->new_turn), "%s",
		         str(cJSON_GetObjectItemCaseSensitive(params, "turn"), "id"));
		return true;
	}
	if ((strcmp(method, "item/started") == 0 || strcmp(method, "item/completed") == 0) &&
	    is_user_message(params) &&
	    (r->state == RESUBMIT_STARTING || strcmp(str(params, "turnId"), r->new_turn) == 0)) {
		return false;
	}
	if (strcmp(method, "turn/completed") == 0 &&
	    strcmp(str(cJSON_GetObjectItemCaseSensitive(params, "turn"), "id"), r->new_turn) == 0) {
		r->state = RESUBMIT_IDLE; /* done; the tries stay until another turn fails */
		free(r->request);
		r->request = NULL;
	}
	return true;
}

bool resubmit_owns(const struct resubmit *r, const char *turn_id)
{
	return r->state == RESUBMIT_STARTING ||
	       (r->new_turn[0] && strcmp(r->new_turn, turn_id) == 0);
}

void resubmit_user_acted(struct resubmit *r, const char *thread_id)
{
	if (strcmp(thread_id, r->thread_id) != 0) {
		return;
	}
	if (r->state == RESUBMIT_HELD) {
		log_info("the user acted: the held turn is not sent again");
		resubmit_cancel(r);
	} else if (r->state == RESUBMIT_REVERTING) {
		/* The failed turn is being taken out; the user's new turn goes instead of it. */
		log_info("the user acted: the turn is not sent again");
		r->abandon = true;
	}
}

void resubmit_conn_closed(struct resubmit *r, struct proxy_conn *conn)
{
	if (r->conn == conn) {
		free(r->held);
		r->held = NULL;
		clear(r);
	}
}
