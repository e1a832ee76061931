/*
 * Answers to the app-server's account/chatgptAuthTokens/refresh: on a real loop and worker with
 * a temporary store, the refresh against a token endpoint on 127.0.0.1, and the answers
 * captured through ops.answer as a fake proxy would send them.
 */
#define _GNU_SOURCE /* nftw, strcasestr */
#include "session/tokenreq.h"

#include "fake_session.h"
#include "fake_token_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct rec {
	struct fake_sent answers;
	struct proxy_conn *conn[FAKE_SENT_MAX];
	int fresh_calls, revoked_calls;
	char fresh_id[64], fresh_access[1024], revoked_id[64], revoked_msg[256];
};

struct fixture {
	struct fake_session f;
	struct fake_token_server srv;
	struct account a;
	struct tokenreq t;
	struct rec rec;
};

/* Stands for the proxy's connection: only its address matters. */
static char conn_storage[2];
#define CONN  ((struct proxy_conn *)(void *)&conn_storage[0])
#define OTHER ((struct proxy_conn *)(void *)&conn_storage[1])

static int rec_answer(void *ctx, struct proxy_conn *conn, char *json)
{
	struct rec *r = ctx;

	r->conn[r->answers.n < FAKE_SENT_MAX ? r->answers.n : 0] = conn;
	fake_sent_take(&r->answers, json);
	return 0;
}

static void rec_fresh(void *ctx, const struct account *a)
{
	struct rec *r = ctx;

	r->fresh_calls++;
	snprintf(r->fresh_id, sizeof(r->fresh_id), "%s", a->id);
	snprintf(r->fresh_access, sizeof(r->fresh_access), "%s", a->access_token);
}

static void rec_revoked(void *ctx, const char *account_id, const char *msg)
{
	struct rec *r = ctx;

	r->revoked_calls++;
	snprintf(r->revoked_id, sizeof(r->revoked_id), "%s", account_id);
	snprintf(r->revoked_msg, sizeof(r->revoked_msg), "%s", msg);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct tokenreq_ops ops = {
	        .answer = rec_answer, .fresh = rec_fresh, .revoked = rec_revoked};

	if (!x || fake_session_setup(&x->f, "tokenreq") || fake_token_server_start(&x->srv)) {
		return -1;
	}
	x->a = fake_session_account("alice", "ws-a");
	if (fake_session_store(&x->f, &x->a)) {
		return -1;
	}
	ops.ctx = &x->rec;
	tokenreq_init(&x->t, &x->f.env, &ops);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fake_session_stop_worker(&x->f);
	tokenreq_release(&x->t);
	fake_session_teardown(&x->f);
	fake_token_server_stop(&x->srv);
	fake_sent_clear(&x->rec.answers);
	account_release(&x->a);
	free(x);
	return 0;
}

static bool answered(void *ctx)
{
	return ((struct fixture *)ctx)->rec.answers.n > 0;
}

/* The stored copy of alice. */
static struct account stored(struct fixture *x)
{
	struct store s;
	struct account a = {0};
	char err[256];
	long i;

	assert_int_equal(store_load(&x->f.paths, &s, err, sizeof(err)), 0);
	i = store_find_id(&s, x->a.id);
	assert_true(i >= 0);
	assert_int_equal(account_copy(&a, &s.accounts[i]), 0);
	store_release(&s);
	return a;
}

static void test_refreshed_meanwhile_needs_no_network(void **state)
{
	struct fixture *x = *state;
	struct account active;
	const cJSON *id;

	/* The app-server was refused with an older token than the stored one. */
	assert_int_equal(account_copy(&active, &x->a), 0);
	free(active.access_token);
	active.access_token = strdup("an-older-token");
	assert_int_equal(tokenreq_on_request(&x->t, CONN, "42", &active), 0);
	assert_true(fake_session_run_until(&x->f, answered, x, 10000000));
	assert_int_equal(x->srv.requests, 0);
	assert_int_equal(x->rec.answers.n, 1);
	assert_ptr_equal(x->rec.conn[0], CONN);
	id = cJSON_GetObjectItemCaseSensitive(x->rec.answers.msg[0], "id");
	assert_true(cJSON_IsNumber(id));
	assert_int_equal(id->valueint, 42);
	assert_string_equal(fake_sent_str(&x->rec.answers, 0, "result", "accessToken"),
	                    x->a.access_token);
	assert_string_equal(fake_sent_str(&x->rec.answers, 0, "result", "chatgptAccountId"),
	                    "ws-a");
	assert_null(cJSON_GetObjectItemCaseSensitive(x->rec.answers.msg[0], "error"));
	assert_int_equal(x->rec.fresh_calls, 1);
	assert_string_equal(x->rec.fresh_id, x->a.id);
	assert_int_equal(x->rec.revoked_calls, 0);
	account_release(&active);
}

static void test_forced_refresh(void **state)
{
	struct fixture *x = *state;
	char *access = fake_jwt("{\"exp\":4102444800,\"sub\":\"renewed\"}"), *body;
	struct account now;

	body = util_printf("{\"access_token\":\"%s\",\"refresh_token\":\"refresh-2\"}", access);
	snprintf(x->srv.body, sizeof(x->srv.body), "%s", body);
	x->srv.status = 200;
	/* The app-server was refused with the stored token itself: only a refresh helps. */
	assert_int_equal(tokenreq_on_request(&x->t, CONN, "\"req-7\"", &x->a), 0);
	assert_true(fake_session_run_until(&x->f, answered, x, 20000000));
	assert_int_equal(x->srv.requests, 1);
	assert_non_null(strstr(x->srv.last_request, "refresh-alice"));
	assert_string_equal(fake_sent_str(&x->rec.answers, 0, "id", NULL), "req-7");
	assert_string_equal(fake_sent_str(&x->rec.answers, 0, "result", "accessToken"), access);
	assert_int_equal(x->rec.fresh_calls, 1);
	assert_string_equal(x->rec.fresh_access, access);
	/* The store keeps the rotated tokens. */
	now = stored(x);
	assert_string_equal(now.access_token, access);
	assert_string_equal(now.refresh_token, "refresh-2");
	account_release(&now);
	free(access);
	free(body);
}

static void test_revoked_refresh_token(void **state)
{
	struct fixture *x = *state;
	const cJSON *err;
	struct account now;

	x->srv.status = 400;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"error\":\"invalid_grant\"}");
	assert_int_equal(tokenreq_on_request(&x->t, CONN, "3", &x->a), 0);
	assert_true(fake_session_run_until(&x->f, answered, x, 20000000));
	assert_int_equal(x->srv.requests, 1);
	err = cJSON_GetObjectItemCaseSensitive(x->rec.answers.msg[0], "error");
	assert_non_null(err);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(err, "code")->valueint, -32000);
	assert_null(cJSON_GetObjectItemCaseSensitive(x->rec.answers.msg[0], "result"));
	assert_int_equal(x->rec.fresh_calls, 0);
	assert_int_equal(x->rec.revoked_calls, 1);
	assert_string_equal(x->rec.revoked_id, x->a.id);
	assert_non_null(strstr(x->rec.revoked_msg, "login"));
	/* No token of the account reaches the error. */
	assert_null(strstr(x->rec.revoked_msg, x->a.refresh_token));
	now = stored(x);
	assert_non_null(now.relogin_reason);
	account_release(&now);
}

static void test_closed_connection_gets_no_answer(void **state)
{
	struct fixture *x = *state;
	struct account active;

	assert_int_equal(account_copy(&active, &x->a), 0);
	free(active.access_token);
	active.access_token = strdup("an-older-token");
	assert_int_equal(tokenreq_on_request(&x->t, CONN, "1", &active), 0);
	assert_int_equal(tokenreq_on_request(&x->t, OTHER, "2", &active), 0);
	tokenreq_conn_closed(&x->t, CONN);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->rec.answers.n, 1);
	assert_ptr_equal(x->rec.conn[0], OTHER);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(x->rec.answers.msg[0], "id")->valueint,
	                 2);
	/* The app-server on the other connection still got them. */
	assert_int_equal(x->rec.fresh_calls, 2);
	account_release(&active);
}

static void test_release_while_on_worker(void **state)
{
	struct fixture *x = *state;

	x->srv.status = 200;
	x->srv.delay_ms = 300;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"access_token\":\"x\"}");
	assert_int_equal(tokenreq_on_request(&x->t, CONN, "9", &x->a), 0);
	tokenreq_release(&x->t); /* the job's completion frees its request */
	assert_null(x->t.list);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->rec.answers.n, 0);
	assert_int_equal(x->rec.fresh_calls + x->rec.revoked_calls, 0);
}

static void test_too_slow_answers_once(void **state)
{
	struct fixture *x = *state;
	char *access = fake_jwt("{\"exp\":4102444800,\"sub\":\"late\"}");
	int64_t t0 = ev_now_us();

	x->srv.status = 200;
	x->srv.delay_ms = TOKENREQ_ANSWER_US / 1000 + 700;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"access_token\":\"%s\"}", access);
	assert_int_equal(tokenreq_on_request(&x->t, CONN, "5", &x->a), 0);
	assert_true(fake_session_run_until(&x->f, answered, x, 20000000));
	assert_true(ev_now_us() - t0 >= TOKENREQ_ANSWER_US - 10000);
	assert_non_null(
	        strstr(fake_sent_str(&x->rec.answers, 0, "error", "message"), "taking too long"));
	/* The late result is kept, but the app-server got its one answer already. */
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->rec.answers.n, 1);
	assert_int_equal(x->rec.fresh_calls, 1);
	assert_string_equal(x->rec.fresh_access, access);
	free(access);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_refreshed_meanwhile_needs_no_network, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_forced_refresh, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revoked_refresh_token, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_closed_connection_gets_no_answer, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_release_while_on_worker, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_too_slow_answers_once, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
