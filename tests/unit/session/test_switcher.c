/*
 * The switcher on a real loop and worker with a temporary store: what it sends on the control
 * connection (captured through ops.send, as a fake proxy would) and what it reports.
 */
#define _GNU_SOURCE /* nftw */
#include "session/switcher.h"

#include "session/rpcmsg.h"

#include "fake_session.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define RUN_ID "run-1"
#define PREFIX RPCMSG_ID_PREFIX RUN_ID "/login/"

struct rec {
	struct fake_sent sent;
	bool connected; /* else send() answers -ENOTCONN, as the proxy does without a control conn
	                 */
	int ready_calls, ready_err;
	int done_calls, done_err;
	enum switch_kind done_kind;
	char done_msg[256], done_name[64], done_access[1024];
};

struct fixture {
	struct fake_session f;
	struct account a, b;
	struct switcher sw;
	struct rec rec;
};

static int rec_send(void *ctx, char *json)
{
	struct rec *r = ctx;

	if (!r->connected) {
		util_free_secret(json);
		return -ENOTCONN;
	}
	fake_sent_take(&r->sent, json);
	return 0;
}

static void rec_ready(void *ctx, int err)
{
	struct rec *r = ctx;

	r->ready_calls++;
	r->ready_err = err;
}

static void rec_done(void *ctx, const struct switch_result *res)
{
	struct rec *r = ctx;

	r->done_calls++;
	r->done_err = res->err;
	r->done_kind = res->req->kind;
	snprintf(r->done_msg, sizeof(r->done_msg), "%s", res->msg ? res->msg : "");
	snprintf(r->done_name, sizeof(r->done_name), "%s", res->account->name);
	snprintf(r->done_access, sizeof(r->done_access), "%s",
	         res->account->access_token ? res->account->access_token : "");
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct switcher_ops ops = {.send = rec_send, .ready = rec_ready, .done = rec_done};

	if (!x || fake_session_setup(&x->f, "switcher")) {
		return -1;
	}
	x->a = fake_session_account("alice", "ws-a");
	x->b = fake_session_account("bob", "ws-b");
	if (fake_session_store(&x->f, &x->a) || fake_session_store(&x->f, &x->b)) {
		return -1;
	}
	ops.ctx = &x->rec;
	x->rec.connected = true;
	switcher_init(&x->sw, &x->f.env, &ops, RUN_ID, "9.9.9");
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fake_session_stop_worker(&x->f);
	switcher_release(&x->sw);
	fake_session_teardown(&x->f);
	fake_sent_clear(&x->rec.sent);
	account_release(&x->a);
	account_release(&x->b);
	free(x);
	return 0;
}

/* Hands the switcher the app-server's answer text for id; returns what on_response said. */
static bool answer(struct fixture *x, const char *id, const char *body)
{
	char *text = util_printf("{\"id\":\"%s\",%s}", id, body);
	cJSON *msg = cJSON_Parse(text);
	bool mine;

	assert_non_null(msg);
	mine = switcher_on_response(&x->sw, id, msg);
	cJSON_Delete(msg);
	free(text);
	return mine;
}

static bool done_called(void *ctx)
{
	return ((struct fixture *)ctx)->rec.done_calls > 0;
}

/* Connects and answers the initialize: the switcher is ready. */
static void connect_ready(struct fixture *x)
{
	size_t first = x->rec.sent.n;
	const char *id;

	x->rec.connected = true;
	assert_int_equal(switcher_connected(&x->sw), 0);
	assert_int_equal(x->rec.sent.n, first + 1);
	assert_string_equal(fake_sent_str(&x->rec.sent, first, "method", NULL), "initialize");
	id = fake_sent_str(&x->rec.sent, first, "id", NULL);
	assert_non_null(id);
	assert_true(answer(x, id, "\"result\":{\"userAgent\":\"codex\"}"));
	assert_string_equal(fake_sent_str(&x->rec.sent, first + 1, "method", NULL), "initialized");
	assert_null(fake_sent_str(&x->rec.sent, first + 1, "id", NULL));
	assert_true(x->sw.ready);
	assert_int_equal(x->rec.ready_err, 0);
}

/* Runs the loop until a login for name's access token went out; its index. */
static size_t wait_login(struct fixture *x, const struct account *who, size_t n_before)
{
	long i;

	for (int tries = 0; tries < 100 && x->rec.sent.n <= n_before; tries++) {
		fake_session_run_for(&x->f, 20000);
	}
	assert_true(x->rec.sent.n > n_before);
	i = fake_sent_find(&x->rec.sent, "account/login/start");
	assert_int_equal(i, (long)x->rec.sent.n - 1);
	assert_string_equal(fake_sent_str(&x->rec.sent, (size_t)i, "params", "type"),
	                    "chatgptAuthTokens");
	assert_string_equal(fake_sent_str(&x->rec.sent, (size_t)i, "params", "accessToken"),
	                    who->access_token);
	assert_string_equal(fake_sent_str(&x->rec.sent, (size_t)i, "params", "chatgptAccountId"),
	                    who->chatgpt_account_id);
	assert_true(strncmp(fake_sent_str(&x->rec.sent, (size_t)i, "id", NULL), PREFIX,
	                    strlen(PREFIX)) == 0);
	return (size_t)i;
}

static void test_initialize(void **state)
{
	struct fixture *x = *state;

	connect_ready(x);
	assert_int_equal(x->rec.ready_calls, 1);
	assert_string_equal(
	        cJSON_GetObjectItemCaseSensitive(
	                cJSON_GetObjectItemCaseSensitive(
	                        cJSON_GetObjectItemCaseSensitive(x->rec.sent.msg[0], "params"),
	                        "clientInfo"),
	                "version")
	                ->valuestring,
	        "9.9.9");
	/* A second answer to the same id is not the initialize's any more, but it is ours. */
	assert_true(answer(x, PREFIX "init", "\"result\":{}"));
	assert_int_equal(x->rec.ready_calls, 1);
	/* Someone else's response is not the switcher's. */
	assert_false(answer(x, "7", "\"result\":{}"));
	assert_false(answer(x, "codex-switch/other-run/login/1", "\"result\":{}"));
}

static void test_initialize_refused(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(switcher_connected(&x->sw), 0);
	assert_true(answer(x, PREFIX "init", "\"error\":{\"code\":-32600,\"message\":\"no\"}"));
	assert_int_equal(x->rec.ready_calls, 1);
	assert_int_equal(x->rec.ready_err, -EPROTO);
	assert_false(x->sw.ready);
	assert_int_equal(x->rec.sent.n, 1); /* no initialized */
}

static void test_policy_login_succeeds(void **state)
{
	struct fixture *x = *state;
	struct switch_request req = {.kind = SWITCH_POLICY, .mode = POLICY_HARD};
	size_t i;

	connect_ready(x);
	assert_int_equal(switcher_start(&x->sw, &x->b, &req), 0);
	assert_true(switcher_busy(&x->sw));
	assert_string_equal(switcher_target(&x->sw)->name, "bob");
	assert_int_equal(switcher_start(&x->sw, &x->a, &req), -EBUSY);
	/* bob's tokens are far from expiry: the login leaves at once, without the worker. */
	assert_int_equal(x->rec.sent.n, 3);
	i = wait_login(x, &x->b, 2);
	assert_int_equal(x->rec.done_calls, 0);
	assert_true(answer(x, fake_sent_str(&x->rec.sent, i, "id", NULL), "\"result\":{}"));
	assert_int_equal(x->rec.done_calls, 1);
	assert_int_equal(x->rec.done_err, 0);
	assert_int_equal(x->rec.done_kind, SWITCH_POLICY);
	assert_string_equal(x->rec.done_name, "bob");
	assert_string_equal(x->rec.done_access, x->b.access_token);
	assert_false(switcher_busy(&x->sw));
	assert_null(switcher_target(&x->sw));
	/* A late second answer is swallowed, not reported. */
	assert_true(answer(x, fake_sent_str(&x->rec.sent, i, "id", NULL), "\"result\":{}"));
	assert_int_equal(x->rec.done_calls, 1);
}

static void test_policy_login_refused(void **state)
{
	struct fixture *x = *state;
	struct switch_request req = {.kind = SWITCH_POLICY, .mode = POLICY_SOFT};
	size_t i;

	connect_ready(x);
	assert_int_equal(switcher_start(&x->sw, &x->b, &req), 0);
	i = wait_login(x, &x->b, 2);
	assert_true(answer(x, fake_sent_str(&x->rec.sent, i, "id", NULL),
	                   "\"error\":{\"code\":-32600,\"message\":\"token rejected\"}"));
	assert_int_equal(x->rec.done_calls, 1);
	assert_int_equal(x->rec.done_err, -EPERM);
	assert_string_equal(x->rec.done_msg, "token rejected");
	assert_false(switcher_busy(&x->sw));
	/* The next login gets a new id. */
	assert_int_equal(switcher_start(&x->sw, &x->a, &req), 0);
	i = wait_login(x, &x->a, 3);
	assert_string_not_equal(fake_sent_str(&x->rec.sent, i, "id", NULL),
	                        fake_sent_str(&x->rec.sent, 2, "id", NULL));
}

/* An access token that expires within a minute: the login waits for the worker's refresh. */
static void expiring(struct account *a)
{
	char *payload =
	        util_printf("{\"exp\":%lld,\"sub\":\"access-x\"}", (long long)time(NULL) + 30);

	util_free_secret(a->access_token);
	a->access_token = fake_jwt(payload);
	free(payload);
}

static void test_unknown_account_fails_on_worker(void **state)
{
	struct fixture *x = *state;
	struct switch_request req = {.kind = SWITCH_POLICY, .mode = POLICY_HARD};
	struct account ghost = fake_session_account("ghost", "ws-g");

	expiring(&ghost);
	connect_ready(x);
	assert_int_equal(switcher_start(&x->sw, &ghost, &req), 0);
	assert_true(fake_session_run_until(&x->f, done_called, x, 5000000));
	assert_int_equal(x->rec.done_err, -ENOENT);
	assert_string_equal(x->rec.done_name, "ghost");
	assert_int_equal(x->rec.sent.n, 2); /* no login */
	assert_false(switcher_busy(&x->sw));
	account_release(&ghost);
}

static void test_initial_login_needs_no_worker(void **state)
{
	struct fixture *x = *state;
	struct switch_request req = {.kind = SWITCH_INITIAL};
	size_t i;

	/* Started before the control connection is up: sent once it is initialized. */
	assert_int_equal(switcher_start(&x->sw, &x->a, &req), 0);
	assert_int_equal(x->rec.sent.n, 0);
	connect_ready(x);
	assert_int_equal(x->rec.sent.n, 3);
	i = wait_login(x, &x->a, 2);
	assert_int_equal(i, 2);
	assert_true(answer(x, fake_sent_str(&x->rec.sent, i, "id", NULL), "\"result\":{}"));
	assert_int_equal(x->rec.done_err, 0);
	assert_int_equal(x->rec.done_kind, SWITCH_INITIAL);
	assert_int_equal(worker_pending(x->f.env.worker), 0);
}

static void test_reconnect_sends_login_again(void **state)
{
	struct fixture *x = *state;
	struct switch_request req = {.kind = SWITCH_EXTERNAL, .mode = POLICY_HARD};
	char first_id[128];
	size_t i;

	connect_ready(x);
	assert_int_equal(switcher_start(&x->sw, &x->b, &req), 0);
	i = wait_login(x, &x->b, 2);
	snprintf(first_id, sizeof(first_id), "%s", fake_sent_str(&x->rec.sent, i, "id", NULL));
	/* The control connection drops before the answer. */
	switcher_disconnected(&x->sw);
	x->rec.connected = false;
	assert_false(x->sw.ready);
	assert_true(switcher_busy(&x->sw));
	fake_session_run_for(&x->f, 50000);
	assert_int_equal(x->rec.done_calls, 0);
	/* Back: initialize, initialized, then the same account again under a new id. */
	connect_ready(x);
	assert_int_equal(x->rec.sent.n, 6);
	i = wait_login(x, &x->b, 5);
	assert_int_equal(i, 5);
	assert_string_not_equal(fake_sent_str(&x->rec.sent, i, "id", NULL), first_id);
	/* The answer to the lost login means nothing now. */
	assert_true(answer(x, first_id, "\"result\":{}"));
	assert_int_equal(x->rec.done_calls, 0);
	assert_true(answer(x, fake_sent_str(&x->rec.sent, i, "id", NULL), "\"result\":{}"));
	assert_int_equal(x->rec.done_calls, 1);
	assert_int_equal(x->rec.done_err, 0);
	assert_int_equal(x->rec.done_kind, SWITCH_EXTERNAL);
}

static void test_send_failure_waits_for_connection(void **state)
{
	struct fixture *x = *state;
	struct switch_request req = {.kind = SWITCH_POLICY, .mode = POLICY_HARD};

	connect_ready(x);
	x->rec.connected = false; /* the proxy lost the connection before telling the session */
	assert_int_equal(switcher_start(&x->sw, &x->b, &req), 0);
	fake_session_run_for(&x->f, 200000);
	assert_int_equal(worker_pending(x->f.env.worker), 0);
	assert_int_equal(x->rec.sent.n, 2);
	assert_int_equal(x->rec.done_calls, 0);
	switcher_disconnected(&x->sw);
	connect_ready(x);
	wait_login(x, &x->b, 4);
}

static void test_release_while_on_worker(void **state)
{
	struct fixture *x = *state;
	struct switch_request req = {.kind = SWITCH_POLICY, .mode = POLICY_HARD};

	connect_ready(x);
	expiring(&x->b);
	assert_int_equal(switcher_start(&x->sw, &x->b, &req), 0);
	switcher_release(&x->sw); /* the job's completion frees the login */
	assert_false(switcher_busy(&x->sw));
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->rec.done_calls, 0);
	assert_int_equal(x->rec.sent.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_initialize, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_initialize_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_policy_login_succeeds, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_policy_login_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_account_fails_on_worker, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_initial_login_needs_no_worker, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_reconnect_sends_login_again, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_send_failure_waits_for_connection, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_release_while_on_worker, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
