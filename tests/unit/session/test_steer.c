/*
 * Account steering end to end with a fake proxy: steer_ops record what would go on the control
 * connection, toward the app-server and to the TUI; the app-server's messages are fed in as the
 * proxy hands them over (a jsonrpc_scan head and the whole text). A real loop, worker, store,
 * inotify and a token endpoint on 127.0.0.1.
 */
#define _GNU_SOURCE /* nftw, strcasestr */
#include "base/fileio.h"
#include "session/steer.h"

#include "proxy/jsonrpc.h"
#include "store/authjson.h"
#include "store/usage_cache.h"

#include "fake_session.h"
#include "fake_token_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

/* Stand for the proxy's connections: only their addresses matter. */
static char conn_storage[2];
#define CONTROL ((struct proxy_conn *)(void *)&conn_storage[0])
#define TUI     ((struct proxy_conn *)(void *)&conn_storage[1])

struct fixture {
	struct fake_session f;
	struct fake_token_server srv;
	struct account a, b;
	struct steer s;
	struct fake_sent control, server, tui;
	struct proxy_conn *server_conn[FAKE_SENT_MAX];
	struct proxy_conn *tui_conn[FAKE_SENT_MAX];
	int logged_in, failed;
	char fail_msg[512];
};

static int fake_send_control(void *ctx, char *json)
{
	fake_sent_take(&((struct fixture *)ctx)->control, json);
	return 0;
}

static int fake_send_to_server(void *ctx, struct proxy_conn *conn, char *json)
{
	struct fixture *x = ctx;

	x->server_conn[x->server.n % FAKE_SENT_MAX] = conn;
	fake_sent_take(&x->server, json);
	return 0;
}

static int fake_send_to_tui(void *ctx, struct proxy_conn *conn, const char *json)
{
	struct fixture *x = ctx;

	x->tui_conn[x->tui.n % FAKE_SENT_MAX] = conn;
	fake_sent_take(&x->tui, strdup(json));
	return 0;
}

static void fake_logged_in(void *ctx)
{
	((struct fixture *)ctx)->logged_in++;
}

static void fake_fail(void *ctx, const char *msg)
{
	struct fixture *x = ctx;

	x->failed++;
	snprintf(x->fail_msg, sizeof(x->fail_msg), "%s", msg);
}

static const struct steer_ops fake_ops = {
        .send_control = fake_send_control,
        .send_to_server = fake_send_to_server,
        .send_to_tui = fake_send_to_tui,
        .logged_in = fake_logged_in,
        .fail = fake_fail,
};

/* Two stored accounts, alice in auth.json; steer loaded with alice as the start account, or
 * with none yet (the choice pending, as while the usage queries of `run` are out). */
static int setup_with(void **state, bool pending)
{
	struct fixture *x = calloc(1, sizeof(*x));
	char err[256];

	if (!x || fake_session_setup(&x->f, "steer") || fake_token_server_start(&x->srv)) {
		return -1;
	}
	x->a = fake_session_account("alice", "ws-a");
	x->b = fake_session_account("bob", "ws-b");
	if (fake_session_store(&x->f, &x->a) || fake_session_store(&x->f, &x->b) ||
	    authjson_write(x->f.paths.auth_json, &x->a)) {
		return -1;
	}
	steer_init(&x->s, &x->f.env, &fake_ops, x, "run-1", NULL);
	if (steer_load(&x->s, pending ? NULL : x->a.id, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_pending(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	steer_stopping(&x->s);
	fake_session_stop_worker(&x->f);
	steer_release(&x->s);
	fake_session_teardown(&x->f);
	fake_token_server_stop(&x->srv);
	fake_sent_clear(&x->control);
	fake_sent_clear(&x->server);
	fake_sent_clear(&x->tui);
	account_release(&x->a);
	account_release(&x->b);
	free(x);
	return 0;
}

/* The proxy hands over a message from the app-server. */
static enum proxy_verdict from_server(struct fixture *x, bool control, const char *json)
{
	struct jsonrpc_head h;

	assert_int_equal(jsonrpc_scan(json, strlen(json), true, &h), 0);
	return steer_server_message(&x->s, control ? CONTROL : TUI, control, &h, json,
	                            strlen(json));
}

/* The app-server answers our request number i on the control connection. */
static void answer_control(struct fixture *x, size_t i, const char *body)
{
	const char *id = fake_sent_str(&x->control, i, "id", NULL);
	char *json;

	assert_non_null(id);
	json = util_printf("{\"id\":\"%s\",%s}", id, body);
	assert_int_equal(from_server(x, true, json), PROXY_DROP);
	free(json);
}

struct login_wait {
	struct fixture *x;
	size_t after;
};

static bool login_sent(void *ctx)
{
	struct login_wait *w = ctx;

	return fake_sent_find(&w->x->control, "account/login/start") >= (long)w->after;
}

/* Runs the loop until a login goes out at index >= after; checks whose it is; its index. */
static size_t expect_login(struct fixture *x, size_t after, const struct account *who)
{
	struct login_wait w = {x, after};
	long i;

	assert_true(fake_session_run_until(&x->f, login_sent, &w, 10000000));
	i = fake_sent_find(&x->control, "account/login/start");
	assert_string_equal(fake_sent_str(&x->control, (size_t)i, "params", "accessToken"),
	                    who->access_token);
	assert_string_equal(fake_sent_str(&x->control, (size_t)i, "params", "chatgptAccountId"),
	                    who->chatgpt_account_id);
	return (size_t)i;
}

static bool tui_told(void *ctx)
{
	return ((struct fixture *)ctx)->tui.n > 0;
}

/* Control connection, initialize, the start account's login: the TUI may start; then it runs
 * on thread th-1 and the session watches for outside changes. */
static void start_session(struct fixture *x)
{
	size_t i;

	assert_int_equal(steer_control_opened(&x->s), 0);
	assert_int_equal(x->control.n, 1);
	assert_string_equal(fake_sent_str(&x->control, 0, "method", NULL), "initialize");
	answer_control(x, 0, "\"result\":{\"userAgent\":\"codex/0.169.0\"}");
	assert_string_equal(fake_sent_str(&x->control, 1, "method", NULL), "initialized");
	i = expect_login(x, 2, &x->a);
	assert_int_equal(i, 2);
	assert_int_equal(x->logged_in, 0);
	answer_control(x, i, "\"result\":{}");
	assert_int_equal(x->logged_in, 1);
	assert_int_equal(x->failed, 0);
	assert_string_equal(x->s.active.id, x->a.id);

	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"thread/started\",\"params\":"
	                             "{\"thread\":{\"id\":\"th-1\"}}}"),
	                 PROXY_FORWARD);
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"turn/started\",\"params\":"
	                             "{\"threadId\":\"th-1\",\"turn\":{\"id\":\"t-1\"}}}"),
	                 PROXY_FORWARD);
	steer_running(&x->s);
	assert_true(fake_session_settle(&x->f));
	fake_session_run_for(&x->f, 2 * RECONCILE_DEBOUNCE_US);
	assert_int_equal(x->control.n, 3); /* auth.json holds alice: nothing to follow */
	assert_int_equal(x->tui.n, 0);
}

/* The one notice to every TUI names who and says what. */
static bool notice_sent(void *ctx)
{
	struct fixture *x = ctx;

	return fake_sent_find(&x->tui, "modelProvider/authRecoveryCompleted") >= 0;
}

/* The one notice to every TUI names who and says what (other messages to the TUI, such as the
 * pool's rate limits, may come beside it). */
static void expect_notice(struct fixture *x, const char *who, const char *what)
{
	const char *text;
	long i;

	assert_true(fake_session_run_until(&x->f, notice_sent, x, 5000000));
	i = fake_sent_find(&x->tui, "modelProvider/authRecoveryCompleted");
	assert_null(x->tui_conn[i]);
	assert_string_equal(fake_sent_str(&x->tui, (size_t)i, "params", "threadId"), "th-1");
	assert_string_equal(fake_sent_str(&x->tui, (size_t)i, "params", "turnId"),
	                    x->s.notice.turn_id);
	text = fake_sent_str(&x->tui, (size_t)i, "params", "message");
	assert_non_null(text);
	assert_non_null(strstr(text, who));
	assert_non_null(strcasestr(text, what));
}

static bool deferred(void *ctx)
{
	return ((struct fixture *)ctx)->s.deferred.id != NULL;
}

/* The running turn t-1 ends. */
static void end_turn(struct fixture *x)
{
	assert_int_equal(
	        from_server(x, false,
	                    "{\"method\":\"turn/completed\",\"params\":{\"threadId\":"
	                    "\"th-1\",\"turn\":{\"id\":\"t-1\",\"status\":\"completed\"}}}"),
	        PROXY_FORWARD);
}

/* The TUI's next turn starts: a notice that came between turns shows in it. */
static void next_turn(struct fixture *x)
{
	from_server(x, false,
	            "{\"method\":\"turn/started\",\"params\":{\"threadId\":\"th-1\",\"turn\":"
	            "{\"id\":\"t-3\"}}}");
}

/* A switch decided while t-1 runs waits for its end (a login of another account would end
 * it): no login until then, then who's. */
static size_t login_after_turn(struct fixture *x, size_t after, const struct account *who)
{
	assert_true(fake_session_run_until(&x->f, deferred, x, 10000000));
	assert_int_equal(x->control.n, after);
	end_turn(x);
	return expect_login(x, after, who);
}

static void test_followed_external_switch(void **state)
{
	struct fixture *x = *state;
	size_t i;

	start_session(x);
	/* `codex-switch switch bob` in another terminal. */
	assert_int_equal(authjson_write(x->f.paths.auth_json, &x->b), 0);
	i = login_after_turn(x, 3, &x->b);
	assert_int_equal(x->tui.n, 0); /* told once the app-server took it */
	answer_control(x, i, "\"result\":{}");
	next_turn(x);
	expect_notice(x, "bob", "switched");
	assert_string_equal(x->s.active.id, x->b.id);
	/* Nothing more: auth.json and the session agree now. */
	assert_true(fake_session_settle(&x->f));
	fake_session_run_for(&x->f, 2 * RECONCILE_DEBOUNCE_US);
	assert_int_equal(fake_sent_find(&x->control, "account/login/start"), (long)i);
	assert_int_equal(x->tui.n, 1);
}

/* Issue #17 item 2: a store that could not be read for a moment (a half-written or briefly
 * broken accounts.json) leaves nothing stuck: the next change is followed. */
static void test_follows_after_a_failed_reread(void **state)
{
	struct fixture *x = *state;
	char *good = NULL;
	size_t len = 0;
	FILE *f;

	start_session(x);
	assert_int_equal(fileio_read(x->f.paths.accounts, 1 << 20, &good, &len), 0);
	f = fopen(x->f.paths.accounts, "w");
	assert_non_null(f);
	fputs("{ not json", f);
	fclose(f);
	assert_true(fake_session_settle(&x->f));
	fake_session_run_for(&x->f, 3 * RECONCILE_DEBOUNCE_US);
	assert_int_equal(fake_sent_find(&x->control, "account/login/start"), 2);
	/* The file is whole again, and the user chose bob. */
	assert_int_equal(fileio_write_atomic(x->f.paths.accounts, good, len), 0);
	free(good);
	assert_int_equal(authjson_write(x->f.paths.auth_json, &x->b), 0);
	login_after_turn(x, 3, &x->b);
}

static void test_refused_external_switch_is_tried_again(void **state)
{
	struct fixture *x = *state;
	size_t i;

	start_session(x);
	assert_int_equal(authjson_write(x->f.paths.auth_json, &x->b), 0);
	i = login_after_turn(x, 3, &x->b);
	answer_control(x, i, "\"error\":{\"code\":-32600,\"message\":\"try later\"}");
	assert_string_equal(x->s.active.id, x->a.id);
	/* A second attempt after a second, then success. */
	i = expect_login(x, i + 1, &x->b);
	answer_control(x, i, "\"result\":{}");
	next_turn(x);
	expect_notice(x, "bob", "switched");
	assert_string_equal(x->s.active.id, x->b.id);
}

static void test_usage_limit_switches(void **state)
{
	struct fixture *x = *state;
	struct store st;
	char err[256];
	size_t i;

	start_session(x);
	assert_int_equal(
	        from_server(x, false,
	                    "{\"method\":\"error\",\"params\":{\"threadId\":\"th-1\",\"turnId\":"
	                    "\"t-1\",\"willRetry\":false,\"error\":{\"message\":\"You've hit "
	                    "your usage limit\",\"codexErrorInfo\":\"usageLimitExceeded\"}}}"),
	        PROXY_FORWARD);
	assert_true(chooser_marked_until(&x->s.chooser, x->a.id) > 0);
	i = expect_login(x, 3, &x->b);
	answer_control(x, i, "\"result\":{}");
	expect_notice(x, "bob", "usage limit");
	assert_string_equal(x->s.active.id, x->b.id);
	/* The session's choice is plain codex's too: auth.json now holds bob. */
	assert_true(fake_session_settle(&x->f));
	fake_session_run_for(&x->f, 2 * RECONCILE_DEBOUNCE_US);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(store_load(&x->f.paths, &st, err, sizeof(err)), 0);
	assert_int_equal(authjson_current(&x->f.paths, &st), store_find_id(&st, x->b.id));
	assert_true(st.accounts[store_find_id(&st, x->b.id)].last_used_at > 0);
	store_release(&st);
	/* Our own write of auth.json is not followed as an outside choice. */
	assert_int_equal(fake_sent_find(&x->control, "account/login/start"), (long)i);
}

static void test_retried_error_is_no_trigger(void **state)
{
	struct fixture *x = *state;

	start_session(x);
	assert_int_equal(
	        from_server(x, false,
	                    "{\"method\":\"error\",\"params\":{\"threadId\":\"th-1\",\"turnId\":"
	                    "\"t-1\",\"willRetry\":true,\"error\":{\"message\":\"You've hit "
	                    "your usage limit\",\"codexErrorInfo\":\"usageLimitExceeded\"}}}"),
	        PROXY_FORWARD);
	assert_true(fake_session_settle(&x->f));
	fake_session_run_for(&x->f, 100000);
	assert_int_equal(x->control.n, 3);
	assert_int_equal(chooser_marked_until(&x->s.chooser, x->a.id), 0);
}

static void test_all_spent_tells_and_stays(void **state)
{
	struct fixture *x = *state;

	start_session(x);
	chooser_mark(&x->s.chooser, x->b.id, time(NULL) + 3600, time(NULL));
	/* Notices show once the TUI has a thread (notice.h). */
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"thread/started\",\"params\":{\"thread\":"
	                             "{\"id\":\"th-1\"}}}"),
	                 PROXY_FORWARD);
	assert_int_equal(
	        from_server(x, false,
	                    "{\"method\":\"error\",\"params\":{\"threadId\":\"th-1\",\"turnId\":"
	                    "\"t-1\",\"willRetry\":false,\"error\":{\"message\":\"You've hit "
	                    "your usage limit\",\"codexErrorInfo\":\"usageLimitExceeded\"}}}"),
	        PROXY_FORWARD);
	assert_true(fake_session_run_until(&x->f, tui_told, x, 5000000));
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(fake_sent_find(&x->control, "account/login/start"), 2);
	assert_string_equal(x->s.active.id, x->a.id);
	assert_non_null(strstr(fake_sent_str(&x->tui, 0, "params", "message"),
	                       "All 2 accounts are at their limit"));
}

/* The proxy hands over a request of the TUI. */
static enum proxy_verdict from_tui(struct fixture *x, const char *json)
{
	struct jsonrpc_head h;

	assert_int_equal(jsonrpc_scan(json, strlen(json), true, &h), 0);
	return steer_client_message(&x->s, TUI, &h, json, strlen(json));
}

#define PROMPT                                                                                \
	"{\"id\":10,\"method\":\"turn/start\",\"params\":{\"threadId\":\"th-1\",\"input\":[{" \
	"\"type\":\"text\",\"text\":\"hello there\"}]}}"
#define LIMIT_ERROR                                                                                 \
	"{\"method\":\"error\",\"params\":{\"threadId\":\"th-1\",\"turnId\":\"t-2\",\"willRetry\":" \
	"false,\"error\":{\"message\":\"You've hit your usage limit\",\"codexErrorInfo\":"          \
	"\"usageLimitExceeded\"}}}"
#define FAILED_COMPLETION                                                                    \
	"{\"method\":\"turn/completed\",\"params\":{\"threadId\":\"th-1\",\"turn\":{\"id\":" \
	"\"t-2\",\"status\":\"failed\",\"error\":{\"message\":\"You've hit your usage limit\"}}}}"

/* The TUI sends a prompt (turn t-2 on th-1) and the app-server starts it. */
static void tui_prompt(struct fixture *x)
{
	assert_int_equal(from_tui(x, PROMPT), PROXY_FORWARD);
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"turn/started\",\"params\":"
	                             "{\"threadId\":\"th-1\",\"turn\":{\"id\":\"t-2\"}}}"),
	                 PROXY_FORWARD);
}

/* The app-server answers our request on the TUI's connection (the last one sent there). */
static void answer_server(struct fixture *x, size_t i, const char *body)
{
	const char *id = fake_sent_str(&x->server, i, "id", NULL);
	char *json;

	assert_non_null(id);
	assert_true(strncmp(id, "codex-switch/run-1/turn/", 24) == 0);
	json = util_printf("{\"id\":\"%s\",%s}", id, body);
	assert_int_equal(from_server(x, false, json), PROXY_DROP);
	free(json);
}

static void test_limit_turn_is_sent_again(void **state)
{
	struct fixture *x = *state;
	const cJSON *input, *turn;
	size_t i;

	start_session(x);
	tui_prompt(x);
	/* The TUI never sees the error or the failed completion: a switch is under way. */
	assert_int_equal(from_server(x, false, LIMIT_ERROR), PROXY_DROP);
	i = expect_login(x, 3, &x->b);
	assert_int_equal(from_server(x, false, FAILED_COMPLETION), PROXY_DROP);
	assert_int_equal(x->tui.n + x->server.n, 0);
	answer_control(x, i, "\"result\":{}");
	/* The notice shows during the TUI's own turn; then that turn ends quietly. */
	assert_int_equal(x->tui.n, 2);
	assert_string_equal(fake_sent_str(&x->tui, 0, "params", "turnId"), "t-2");
	assert_non_null(strstr(fake_sent_str(&x->tui, 0, "params", "message"), "bob"));
	assert_string_equal(fake_sent_str(&x->tui, 1, "method", NULL), "turn/completed");
	assert_ptr_equal(x->tui_conn[1], TUI);
	turn = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(x->tui.msg[1], "params"), "turn");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(turn, "id")->valuestring, "t-2");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(turn, "status")->valuestring,
	                    "completed");
	assert_null(cJSON_GetObjectItemCaseSensitive(turn, "error"));
	/* Nothing came of the turn: it is reverted and sent again as it was. */
	assert_int_equal(x->server.n, 1);
	assert_ptr_equal(x->server_conn[0], TUI);
	assert_string_equal(fake_sent_str(&x->server, 0, "method", NULL), "thread/revert");
	assert_string_equal(fake_sent_str(&x->server, 0, "params", "threadId"), "th-1");
	assert_string_equal(fake_sent_str(&x->server, 0, "params", "beforeTurnId"), "t-2");
	answer_server(x, 0, "\"result\":{}");
	assert_int_equal(x->server.n, 2);
	assert_string_equal(fake_sent_str(&x->server, 1, "method", NULL), "turn/start");
	input = cJSON_GetArrayItem(
	        cJSON_GetObjectItemCaseSensitive(
	                cJSON_GetObjectItemCaseSensitive(x->server.msg[1], "params"), "input"),
	        0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(input, "text")->valuestring,
	                    "hello there");
	/* The revert's notice and the re-sent prompt's user message are not shown twice. */
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"thread/reverted\",\"params\":"
	                             "{\"threadId\":\"th-1\"}}"),
	                 PROXY_DROP);
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"turn/started\",\"params\":"
	                             "{\"threadId\":\"th-1\",\"turn\":{\"id\":\"t-3\"}}}"),
	                 PROXY_FORWARD);
	answer_server(x, 1, "\"result\":{\"turn\":{\"id\":\"t-3\"}}");
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"item/started\",\"params\":"
	                             "{\"threadId\":\"th-1\",\"turnId\":\"t-3\","
	                             "\"item\":{\"type\":\"userMessage\"}}}"),
	                 PROXY_DROP);
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"item/started\",\"params\":"
	                             "{\"threadId\":\"th-1\",\"turnId\":\"t-3\","
	                             "\"item\":{\"type\":\"agentMessage\"}}}"),
	                 PROXY_FORWARD);
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"turn/completed\",\"params\":"
	                             "{\"threadId\":\"th-1\",\"turn\":{\"id\":\"t-3\","
	                             "\"status\":\"completed\"}}}"),
	                 PROXY_FORWARD);
	assert_false(resubmit_active(&x->s.resub));
	assert_int_equal(x->server.n, 2);
}

static void test_produced_turn_continues(void **state)
{
	struct fixture *x = *state;
	const cJSON *input;
	size_t i;

	start_session(x);
	tui_prompt(x);
	/* The turn had begun an answer: it must not be redone. */
	assert_int_equal(from_server(x, false,
	                             "{\"method\":\"item/started\",\"params\":"
	                             "{\"threadId\":\"th-1\",\"turnId\":\"t-2\","
	                             "\"item\":{\"type\":\"agentMessage\"}}}"),
	                 PROXY_FORWARD);
	assert_int_equal(from_server(x, false, LIMIT_ERROR), PROXY_DROP);
	i = expect_login(x, 3, &x->b);
	answer_control(x, i, "\"result\":{}");
	/* Switched, but the failed turn has not ended yet: nothing is sent before it does. */
	assert_int_equal(x->server.n, 0);
	assert_int_equal(from_server(x, false, FAILED_COMPLETION), PROXY_DROP);
	assert_int_equal(x->server.n, 1);
	assert_string_equal(fake_sent_str(&x->server, 0, "method", NULL), "turn/start");
	input = cJSON_GetArrayItem(
	        cJSON_GetObjectItemCaseSensitive(
	                cJSON_GetObjectItemCaseSensitive(x->server.msg[0], "params"), "input"),
	        0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(input, "text")->valuestring,
	                    RESUBMIT_CONTINUE_TEXT);
	assert_string_equal(fake_sent_str(&x->tui, x->tui.n - 1, "method", NULL), "turn/completed");
}

static void test_user_prompt_wins_over_held_turn(void **state)
{
	struct fixture *x = *state;
	size_t i;

	start_session(x);
	tui_prompt(x);
	assert_int_equal(from_server(x, false, LIMIT_ERROR), PROXY_DROP);
	i = expect_login(x, 3, &x->b);
	/* The user types again before the switch is done: that prompt is theirs to send, once
	 * the login is answered. */
	assert_int_equal(from_tui(x, PROMPT), PROXY_DROP);
	assert_false(resubmit_active(&x->s.resub));
	/* Its error was never shown, so its completion comes without it. */
	assert_int_equal(from_server(x, false, FAILED_COMPLETION), PROXY_DROP);
	assert_string_equal(fake_sent_str(&x->tui, x->tui.n - 1, "method", NULL), "turn/completed");
	{
		char *last = cJSON_PrintUnformatted(x->tui.msg[x->tui.n - 1]);
		assert_null(strstr(last, "usage limit"));
		free(last);
	}
	answer_control(x, i, "\"result\":{}");
	assert_string_equal(x->s.active.id, x->b.id);
	/* Only the user's prompt went, after the login: the failed turn was not sent again. */
	assert_int_equal(x->server.n, 1);
	assert_string_equal(fake_sent_str(&x->server, 0, "method", NULL), "turn/start");
	assert_null(fake_sent_str(&x->server, 0, "id", NULL)); /* the user's id: a number */
}

static void test_all_spent_with_prompt_parks(void **state)
{
	struct fixture *x = *state;
	const char *text;

	start_session(x);
	chooser_mark(&x->s.chooser, x->b.id, time(NULL) + 7200, time(NULL));
	tui_prompt(x);
	assert_int_equal(from_server(x, false, LIMIT_ERROR), PROXY_DROP);
	assert_true(park_active(&x->s.park));
	/* Told during the turn, which then ends so the TUI stays usable. */
	assert_int_equal(x->tui.n, 1);
	text = fake_sent_str(&x->tui, 0, "params", "message");
	assert_non_null(strstr(text, "All 2 accounts are at their limit"));
	assert_non_null(strstr(text, "Your prompt will be sent then"));
	assert_int_equal(from_server(x, false, FAILED_COMPLETION), PROXY_DROP);
	assert_int_equal(x->tui.n, 2);
	assert_string_equal(fake_sent_str(&x->tui, 1, "method", NULL), "turn/completed");
	assert_true(resubmit_active(&x->s.resub));
	assert_int_equal(fake_sent_find(&x->control, "account/login/start"), 2);
	assert_int_equal(x->server.n, 0);
}

/* An account/rateLimits/updated of the active account: 5-hour window at five_h %. */
static char *rate_limits(double five_h, long long now)
{
	return util_printf("{\"method\":\"account/rateLimits/updated\",\"params\":{\"rateLimits\":{"
	                   "\"limitId\":\"codex\",\"primary\":{\"usedPercent\":%g,"
	                   "\"windowDurationMins\":300,\"resetsAt\":%lld},\"secondary\":{"
	                   "\"usedPercent\":30,\"windowDurationMins\":10080,\"resetsAt\":%lld}}}}",
	                   five_h, now + 1800, now + 86400);
}

static void test_rate_limit_at_100_switches_and_is_cached(void **state)
{
	struct fixture *x = *state;
	int64_t now = (int64_t)time(NULL);
	char *json = rate_limits(100, now);
	struct usage u;
	size_t i;

	start_session(x);
	/* Forwarded, or rewritten for the pool (poolview) while bob can take over. */
	from_server(x, false, json);
	/* Marked until the window's reset. */
	assert_int_equal(chooser_marked_until(&x->s.chooser, x->a.id), now + 1800);
	i = login_after_turn(x, 3, &x->b);
	answer_control(x, i, "\"result\":{}");
	next_turn(x);
	expect_notice(x, "bob", "5-hour");
	/* What the session saw reaches usage-cache.json, for `list` and `usage`. */
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(usage_cache_load(&x->f.paths, x->a.id, &u), 0);
	assert_true(u.primary.used_percent == 100);
	assert_int_equal(u.primary.window_minutes, 300);
	usage_release(&u);
	free(json);
}

/* 0.117 replays the thread's last snapshot (the old account's) on thread/rollback, after the
 * switch: it is not the new account's, so it neither marks bob nor reaches the TUI. */
static void test_snapshot_before_the_new_accounts_turn_is_stale(void **state)
{
	struct fixture *x = *state;
	int64_t now = (int64_t)time(NULL);
	char *spent = rate_limits(100, now);
	size_t i, told;

	start_session(x);
	from_server(x, false, spent);
	i = login_after_turn(x, 3, &x->b);
	answer_control(x, i, "\"result\":{}");
	told = x->tui.n;
	assert_int_equal(from_server(x, false, spent), PROXY_DROP);
	assert_int_equal(x->tui.n, told);
	assert_int_equal(chooser_marked_until(&x->s.chooser, x->b.id), 0);
	assert_string_equal(x->s.active.id, x->b.id);
	/* Once a turn runs on bob, what the app-server reports is bob's. */
	from_server(x, false,
	            "{\"method\":\"turn/started\",\"params\":{\"threadId\":\"th-1\",\"turn\":"
	            "{\"id\":\"t-2\",\"items\":[],\"status\":\"inProgress\"}}}");
	expect_notice(x, "bob", "5-hour"); /* the switch's line, in bob's first turn */
	from_server(x, false, spent);
	assert_true(chooser_marked_until(&x->s.chooser, x->b.id) > 0);
	free(spent);
}

static void test_soft_limit_switches_to_a_clearly_better_account(void **state)
{
	struct fixture *x = *state;
	char *low = rate_limits(97, time(NULL)), *fine = rate_limits(50, time(NULL));
	struct usage u;
	const char *ids[1] = {x->b.id};
	size_t i;

	/* bob is known to be untouched. */
	usage_init(&u);
	u.fetched_at = (int64_t)time(NULL);
	u.primary = (struct usage_window){true, 0, 300, u.fetched_at + 3600};
	u.secondary = (struct usage_window){true, 0, 10080, u.fetched_at + 86400};
	assert_int_equal(usage_cache_store(&x->f.paths, ids, &u, 1), 0);
	usage_release(&u);
	start_session(x);
	/* Half used: nothing to do (the TUI may get the pool's numbers instead). */
	from_server(x, false, fine);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->control.n, 3);
	/* Nearly spent: a soft switch, and alice is not marked (she still works). */
	from_server(x, false, low);
	assert_int_equal(chooser_marked_until(&x->s.chooser, x->a.id), 0);
	i = login_after_turn(x, 3, &x->b);
	answer_control(x, i, "\"result\":{}");
	next_turn(x);
	expect_notice(x, "bob", "alice");
	assert_int_equal(x->s.chooser.last_soft_switch > 0, 1);
	free(low);
	free(fine);
}

/* The TUI's connection closes while a switch waits for its turn: the switch goes then. */
static void test_waiting_switch_goes_when_the_tui_leaves(void **state)
{
	struct fixture *x = *state;
	char *json = rate_limits(100, (int64_t)time(NULL));

	start_session(x);
	from_server(x, false, json);
	assert_true(deferred(x));
	assert_int_equal(x->control.n, 3);
	steer_conn_closed(&x->s, TUI, false);
	expect_login(x, 3, &x->b);
	assert_false(deferred(x));
	free(json);
}

static void test_refresh_request_is_answered(void **state)
{
	struct fixture *x = *state;
	char *access = fake_jwt("{\"exp\":4102444800,\"sub\":\"renewed\"}");
	const cJSON *id;

	start_session(x);
	x->srv.status = 200;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"access_token\":\"%s\"}", access);
	assert_int_equal(from_server(x, false,
	                             "{\"id\":77,\"method\":\"account/chatgptAuthTokens/refresh\","
	                             "\"params\":{\"reason\":\"unauthorized\"}}"),
	                 PROXY_DROP);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->srv.requests, 1);
	assert_int_equal(x->server.n, 1);
	assert_ptr_equal(x->server_conn[0], TUI);
	id = cJSON_GetObjectItemCaseSensitive(x->server.msg[0], "id");
	assert_true(cJSON_IsNumber(id) && id->valueint == 77);
	assert_string_equal(fake_sent_str(&x->server, 0, "result", "accessToken"), access);
	/* The session holds the fresh tokens now. */
	assert_string_equal(x->s.active.access_token, access);
	assert_int_equal(x->control.n, 3);
	free(access);
}

static void test_revoked_login_switches_away(void **state)
{
	struct fixture *x = *state;
	size_t i;

	start_session(x);
	x->srv.status = 400;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"error\":\"invalid_grant\"}");
	assert_int_equal(from_server(x, false,
	                             "{\"id\":78,\"method\":\"account/chatgptAuthTokens/refresh\","
	                             "\"params\":{\"reason\":\"unauthorized\"}}"),
	                 PROXY_DROP);
	/* The app-server gets its error; alice is out until a new login, bob takes over. */
	/* No waiting for the running turn: it fails anyway, and the line shows in it. */
	i = expect_login(x, 3, &x->b);
	assert_int_equal(x->server.n, 1);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(x->server.msg[0], "error"));
	assert_true(chooser_marked_until(&x->s.chooser, x->a.id) > (int64_t)time(NULL) + 86400);
	answer_control(x, i, "\"result\":{}");
	expect_notice(x, "bob", "login alice --replace");
}

static void test_control_reconnect_resends_login(void **state)
{
	struct fixture *x = *state;
	size_t i, j;

	start_session(x);
	assert_int_equal(authjson_write(x->f.paths.auth_json, &x->b), 0);
	i = login_after_turn(x, 3, &x->b);
	/* The control connection drops before the answer, and comes back. */
	steer_conn_closed(&x->s, CONTROL, true);
	assert_int_equal(steer_control_opened(&x->s), 0);
	assert_string_equal(fake_sent_str(&x->control, i + 1, "method", NULL), "initialize");
	answer_control(x, i + 1, "\"result\":{}");
	assert_string_equal(fake_sent_str(&x->control, i + 2, "method", NULL), "initialized");
	j = expect_login(x, i + 3, &x->b);
	assert_int_equal(j, i + 3);
	/* Only the login sent on the new connection counts. */
	answer_control(x, i, "\"result\":{}");
	assert_int_equal(x->tui.n, 0);
	answer_control(x, j, "\"result\":{}");
	next_turn(x);
	expect_notice(x, "bob", "switched");
	assert_int_equal(x->logged_in, 1); /* not the start again */
}

static void test_initial_login_refused_fails(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(steer_control_opened(&x->s), 0);
	answer_control(x, 0, "\"result\":{}");
	answer_control(x, 2, "\"error\":{\"code\":-32600,\"message\":\"bad token\"}");
	assert_int_equal(x->logged_in, 0);
	assert_int_equal(x->failed, 1);
	assert_non_null(strstr(x->fail_msg, "bad token"));
}

/* The app-server started before the start account was chosen: the control connection is
 * initialized, and nobody is logged in until the choice comes. */
static void test_start_chosen_after_initialize(void **state)
{
	struct fixture *x = *state;
	size_t i;

	assert_int_equal(steer_control_opened(&x->s), 0);
	answer_control(x, 0, "\"result\":{}");
	assert_string_equal(fake_sent_str(&x->control, 1, "method", NULL), "initialized");
	fake_session_run_for(&x->f, 100000);
	assert_int_equal(x->control.n, 2); /* no login yet: the TUI cannot start */
	assert_int_equal(x->logged_in, 0);
	assert_int_equal(steer_start(&x->s, &x->b, "starting on bob: alice is spent"), 0);
	i = expect_login(x, 2, &x->b);
	assert_int_equal(i, 2);
	answer_control(x, i, "\"result\":{}");
	assert_int_equal(x->logged_in, 1);
	assert_string_equal(x->s.active.id, x->b.id);
	assert_int_equal(x->failed, 0);
}

/* The choice came before the control connection: the login waits for initialize. */
static void test_start_chosen_before_control(void **state)
{
	struct fixture *x = *state;
	size_t i;

	assert_int_equal(steer_start(&x->s, &x->a, NULL), 0);
	fake_session_run_for(&x->f, 100000);
	assert_int_equal(x->control.n, 0);
	assert_int_equal(steer_control_opened(&x->s), 0);
	assert_int_equal(x->control.n, 1);
	assert_string_equal(fake_sent_str(&x->control, 0, "method", NULL), "initialize");
	answer_control(x, 0, "\"result\":{}");
	i = expect_login(x, 2, &x->a);
	assert_int_equal(i, 2);
	answer_control(x, i, "\"result\":{}");
	assert_int_equal(x->logged_in, 1);
	assert_string_equal(x->s.active.id, x->a.id);
}

static const char *const turn = "{\"id\":7,\"method\":\"turn/start\",\"params\":{"
                                "\"threadId\":\"th-1\",\"input\":[]}}";

/* A provisional start on alice, logged in; returns the index of that login on control. */
static size_t provisional_on_alice(struct fixture *x)
{
	size_t i;

	steer_provisional(&x->s);
	assert_int_equal(steer_control_opened(&x->s), 0);
	answer_control(x, 0, "\"result\":{}");
	i = expect_login(x, 2, &x->a);
	answer_control(x, i, "\"result\":{}");
	return i;
}

/* A provisional start (alice, from a recent cache): the TUI runs, its turn waits; the fresh
 * usage names bob: the session switches, and only then the turn goes. */
static void test_provisional_start_switches_before_the_turn(void **state)
{
	struct fixture *x = *state;
	size_t i = provisional_on_alice(x);
	assert_int_equal(x->logged_in, 1); /* the TUI starts on alice */
	assert_int_equal(from_tui(x, turn), PROXY_DROP);
	assert_int_equal(x->server.n, 0); /* held */
	assert_int_equal(steer_settle(&x->s, &x->b, "starting on bob: alice is spent"), 0);
	i = expect_login(x, i + 1, &x->b);
	assert_int_equal(x->server.n, 0); /* still held while the switch is under way */
	answer_control(x, i, "\"result\":{}");
	assert_string_equal(x->s.active.id, x->b.id);
	assert_int_equal(x->server.n, 1);
	assert_ptr_equal(x->server_conn[0], TUI);
	assert_string_equal(fake_sent_str(&x->server, 0, "method", NULL), "turn/start");
	/* Later turns pass at once. */
	assert_int_equal(from_tui(x, turn), PROXY_FORWARD);
	assert_int_equal(x->logged_in, 1);
	assert_int_equal(x->failed, 0);
}

/* The fresh usage confirms the provisional account (here before its login was answered):
 * no second login, the held turn goes once it is in. */
static void test_provisional_start_confirmed(void **state)
{
	struct fixture *x = *state;
	size_t i;

	steer_provisional(&x->s);
	assert_int_equal(steer_control_opened(&x->s), 0);
	answer_control(x, 0, "\"result\":{}");
	i = expect_login(x, 2, &x->a);
	assert_int_equal(steer_settle(&x->s, &x->a, NULL), 0);
	answer_control(x, i, "\"result\":{}");
	assert_int_equal(x->logged_in, 1);
	fake_session_run_for(&x->f, 100000);
	assert_int_equal(fake_sent_find(&x->control, "account/login/start"), (long)i);
	assert_int_equal(from_tui(x, turn), PROXY_FORWARD); /* the gate is open */
	assert_string_equal(x->s.active.id, x->a.id);
}

/* The fresh usage keeps the provisional account because every account is spent: the session
 * says so and waits for a reset before the held turn goes (its usage-limit error then waits
 * for the reset, as any turn sent while parked). */
static void test_provisional_start_kept_when_all_are_spent(void **state)
{
	struct fixture *x = *state;
	size_t i = provisional_on_alice(x);
	steer_running(&x->s);
	assert_int_equal(from_server(x, false, /* notices show once the TUI has a thread */
	                             "{\"method\":\"thread/started\",\"params\":{\"thread\":"
	                             "{\"id\":\"th-1\"}}}"),
	                 PROXY_FORWARD);
	assert_int_equal(from_tui(x, turn), PROXY_DROP);
	chooser_mark(&x->s.chooser, x->a.id, time(NULL) + 3600, time(NULL));
	chooser_mark(&x->s.chooser, x->b.id, time(NULL) + 7200, time(NULL));
	assert_int_equal(steer_settle(&x->s, &x->a, NULL), 0);
	assert_true(fake_session_settle(&x->f));
	assert_true(park_active(&x->s.park));
	assert_int_equal(x->server.n, 1); /* after the park */
	assert_int_equal(fake_sent_find(&x->control, "account/login/start"), (long)i);
	assert_true(x->tui.n >= 1);
	assert_non_null(strstr(fake_sent_str(&x->tui, 0, "params", "message"),
	                       "All 2 accounts are at their limit"));
}

/* What loads the app-server's configuration waits while a login is answered (0.169 fails it
 * with "application network permission was revoked"), and goes, in order, once it is. */
static void test_requests_wait_for_a_login(void **state)
{
	struct fixture *x = *state;
	const char *thread = "{\"id\":11,\"method\":\"thread/start\",\"params\":{}}";
	const char *list = "{\"id\":12,\"method\":\"model/list\",\"params\":{}}";
	size_t i;

	start_session(x);
	assert_int_equal(from_tui(x, PROMPT), PROXY_FORWARD); /* no login: straight through */
	assert_int_equal(authjson_write(x->f.paths.auth_json, &x->b), 0);
	i = login_after_turn(x, 3, &x->b);
	assert_int_equal(from_tui(x, PROMPT), PROXY_DROP);
	assert_int_equal(from_tui(x, thread), PROXY_DROP);
	assert_int_equal(from_tui(x, list), PROXY_FORWARD); /* no configuration: not held */
	assert_int_equal(x->server.n, 0);
	answer_control(x, i, "\"result\":{}");
	assert_int_equal(x->server.n, 2);
	assert_string_equal(fake_sent_str(&x->server, 0, "method", NULL), "turn/start");
	assert_string_equal(fake_sent_str(&x->server, 1, "method", NULL), "thread/start");
	assert_int_equal(from_tui(x, PROMPT), PROXY_FORWARD);
	assert_int_equal(x->server.n, 2); /* forwarded by the proxy, not sent by us */
}

static void test_messages_not_ours_pass(void **state)
{
	struct fixture *x = *state;

	start_session(x);
	/* A request the TUI answers itself, and a notification, are forwarded untouched. */
	assert_int_equal(from_server(x, false,
	                             "{\"id\":5,\"method\":\"item/commandExecution/"
	                             "requestApproval\",\"params\":{}}"),
	                 PROXY_FORWARD);
	assert_int_equal(from_server(x, false, "{\"method\":\"item/started\",\"params\":{}}"),
	                 PROXY_FORWARD);
	/* Responses reach steer only when they answer us: swallowed. */
	assert_int_equal(from_server(x, true,
	                             "{\"id\":\"codex-switch/run-1/login/99\","
	                             "\"result\":{}}"),
	                 PROXY_DROP);
	assert_int_equal(x->control.n, 3);
	assert_int_equal(x->server.n + x->tui.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_followed_external_switch, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_start_chosen_after_initialize, setup_pending,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_start_chosen_before_control, setup_pending,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_provisional_start_switches_before_the_turn,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_provisional_start_confirmed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_provisional_start_kept_when_all_are_spent,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_follows_after_a_failed_reread, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_refused_external_switch_is_tried_again, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_usage_limit_switches, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_retried_error_is_no_trigger, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_all_spent_tells_and_stays, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limit_turn_is_sent_again, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_produced_turn_continues, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_user_prompt_wins_over_held_turn, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_all_spent_with_prompt_parks, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rate_limit_at_100_switches_and_is_cached,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_soft_limit_switches_to_a_clearly_better_account, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_before_the_new_accounts_turn_is_stale,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refresh_request_is_answered, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revoked_login_switches_away, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_control_reconnect_resends_login, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_initial_login_refused_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_requests_wait_for_a_login, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_waiting_switch_goes_when_the_tui_leaves, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_messages_not_ours_pass, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
