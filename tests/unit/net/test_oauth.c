#include "net/oauth.h"
#include "net/oauth_server.h"

#include "base/base64.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

static void test_pkce(void **state)
{
	char v[OAUTH_VERIFIER_LEN + 1], c[OAUTH_CHALLENGE_LEN + 1], v2[OAUTH_VERIFIER_LEN + 1];
	unsigned char d[32];
	char want[64];

	(void)state;
	assert_int_equal(oauth_pkce(v, c), 0);
	assert_int_equal(strlen(v), OAUTH_VERIFIER_LEN);
	assert_int_equal(strlen(c), OAUTH_CHALLENGE_LEN);
	assert_null(strpbrk(v, "+/="));
	EVP_Digest(v, strlen(v), d, NULL, EVP_sha256(), NULL);
	base64url_encode(d, sizeof(d), want);
	assert_string_equal(c, want);
	assert_int_equal(oauth_pkce(v2, c), 0);
	assert_string_not_equal(v, v2);
}

static void test_authorize_url(void **state)
{
	char *u = oauth_authorize_url("https://auth.example", "http://localhost:1455/auth/callback",
	                              "CHAL", "ST");

	(void)state;
	assert_true(util_starts_with(u, "https://auth.example/oauth/authorize?response_type=code&"
	                                "client_id=app_EMoamEEZ73f0CkXaXp7hrann&"));
	assert_non_null(
	        strstr(u, "&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback&"));
	assert_non_null(strstr(u, "&scope=openid%20profile%20email%20offline_access&"));
	assert_non_null(strstr(u, "&code_challenge=CHAL&code_challenge_method=S256&"));
	assert_non_null(
	        strstr(u, "&id_token_add_organizations=true&codex_cli_simplified_flow=true"));
	assert_non_null(strstr(u, "&state=ST&originator=codex_cli_rs"));
	free(u);
}

static void test_parse_tokens(void **state)
{
	struct oauth_tokens t;

	(void)state;
	assert_int_equal(oauth_parse_tokens("{\"id_token\":\"i\",\"access_token\":\"a\","
	                                    "\"refresh_token\":\"r\",\"expires_in\":3600}",
	                                    &t),
	                 0);
	assert_string_equal(t.refresh_token, "r");
	oauth_tokens_release(&t);
	assert_int_equal(oauth_parse_tokens("{\"id_token\":\"i\",\"access_token\":\"a\"}", &t),
	                 -EINVAL);
	assert_null(t.id_token);
	assert_int_equal(oauth_parse_tokens("[]", &t), -EINVAL);
}

static void test_url_decode(void **state)
{
	char s[] = "a%20b+c%2fd%zz%4";

	(void)state;
	oauth_server_url_decode(s);
	assert_string_equal(s, "a b c/d%zz%4");
}

struct client {
	int port;
	const char *request;
	char reply[4096];
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		send(fd, c->request, strlen(c->request), 0);
		while ((n = recv(fd, c->reply + got, sizeof(c->reply) - 1 - got, 0)) > 0) {
			got += (size_t)n;
		}
	}
	c->reply[got] = '\0';
	close(fd);
	return NULL;
}

/* Runs one request against a fresh server; returns oauth_server_wait()'s result. */
static int one_request(const char *request, char **code, char *reply, size_t replysz)
{
	struct oauth_server s;
	int ports[] = {0}, client, rc;
	struct client c = {0};
	pthread_t th;
	char err[256];

	assert_int_equal(oauth_server_listen(&s, ports, 1), 0);
	c.port = s.port;
	c.request = request;
	pthread_create(&th, NULL, client_main, &c);
	rc = oauth_server_wait(&s, "good-state", util_now_ms() + 5000, code, &client, err,
	                       sizeof(err));
	if (rc == 0) {
		oauth_server_reply(client, true, NULL);
	}
	pthread_join(th, NULL);
	oauth_server_close(&s);
	snprintf(reply, replysz, "%s", c.reply);
	return rc;
}

static void test_callback_server(void **state)
{
	char *code = NULL, reply[4096];

	(void)state;
	assert_int_equal(one_request("GET /auth/callback?code=abc%2B1&state=good-state HTTP/1.1\r\n"
	                             "Host: localhost\r\n\r\n",
	                             &code, reply, sizeof(reply)),
	                 0);
	assert_string_equal(code, "abc+1");
	assert_true(util_starts_with(reply, "HTTP/1.1 200"));
	free(code);
	assert_int_equal(one_request("GET /auth/callback?error=access_denied&state=good-state "
	                             "HTTP/1.1\r\n\r\n",
	                             &code, reply, sizeof(reply)),
	                 -EACCES);
}

static int connect_to(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* What the server answered on fd (it closes the connection after answering). */
static void read_reply(int fd, char *reply, size_t replysz)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < replysz && (n = recv(fd, reply + got, replysz - 1 - got, 0)) > 0) {
		got += (size_t)n;
	}
	reply[got] = '\0';
	close(fd);
}

struct scene {
	int port;
	char wrong_reply[4096];
	char real_reply[4096];
	int64_t trickle_closed_ms; /* when the server closed the trickling connection */
};

/* Before the real callback: a silent connection, a trickling one, a wrong state, a flood. */
static void *hostile_then_real(void *arg)
{
	struct scene *sc = arg;
	int silent = connect_to(sc->port), trickle = connect_to(sc->port), wrong, flood[20];
	const char *good = "GET /auth/callback?code=real-code&state=good-state HTTP/1.1\r\n\r\n";
	char c;

	send(trickle, "G", 1, 0);
	wrong = connect_to(sc->port);
	send(wrong, "GET /auth/callback?code=x&state=forged HTTP/1.1\r\n\r\n", 52, 0);
	read_reply(wrong, sc->wrong_reply, sizeof(sc->wrong_reply));
	/* One byte every 100 ms: each poll sees progress, but the request never completes. */
	for (int i = 0; i < 70 && send(trickle, "E", 1, MSG_NOSIGNAL) == 1; i++) {
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
		if (recv(trickle, &c, 1, MSG_DONTWAIT) == 0) {
			break;
		}
	}
	sc->trickle_closed_ms = util_now_ms();
	close(trickle);
	for (size_t i = 0; i < UTIL_ARRAY_LEN(flood); i++) {
		flood[i] = connect_to(sc->port); /* more than the table holds: the oldest go */
	}
	wrong = connect_to(sc->port);
	send(wrong, good, strlen(good), 0);
	read_reply(wrong, sc->real_reply, sizeof(sc->real_reply));
	for (size_t i = 0; i < UTIL_ARRAY_LEN(flood); i++) {
		close(flood[i]);
	}
	close(silent);
	return NULL;
}

/*
 * A forged callback gets 400 and the sign-in goes on; silent and trickling connections and a
 * flood of idle ones do not keep the real callback out; a trickle is cut at its deadline.
 */
static void test_callback_server_hostile_clients(void **state)
{
	struct oauth_server s;
	struct scene sc = {0};
	int ports[] = {0}, client, rc;
	int64_t start = util_now_ms();
	char *code = NULL, err[256];
	pthread_t th;

	(void)state;
	assert_int_equal(oauth_server_listen(&s, ports, 1), 0);
	sc.port = s.port;
	pthread_create(&th, NULL, hostile_then_real, &sc);
	rc = oauth_server_wait(&s, "good-state", util_now_ms() + 30000, &code, &client, err,
	                       sizeof(err));
	assert_int_equal(rc, 0);
	oauth_server_reply(client, true, NULL);
	pthread_join(th, NULL);
	oauth_server_close(&s);
	assert_string_equal(code, "real-code");
	assert_true(util_starts_with(sc.wrong_reply, "HTTP/1.1 400"));
	assert_non_null(strstr(sc.wrong_reply, "State mismatch"));
	assert_true(util_starts_with(sc.real_reply, "HTTP/1.1 200"));
	/* The trickle was cut at its whole-request deadline, not kept alive by each byte. */
	assert_true(sc.trickle_closed_ms - start < OAUTH_SERVER_REQUEST_MS + 1500);
	free(code);
}

static void test_listen_fallback(void **state)
{
	struct oauth_server a, b;
	int any[] = {0}, ports[2];

	(void)state;
	assert_int_equal(oauth_server_listen(&a, any, 1), 0);
	ports[0] = a.port; /* busy */
	ports[1] = 0;
	assert_int_equal(oauth_server_listen(&b, ports, 2), 0);
	assert_int_not_equal(b.port, a.port);
	oauth_server_close(&b);
	assert_int_equal(oauth_server_listen(&b, ports, 1), -EADDRINUSE);
	oauth_server_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pkce),
	        cmocka_unit_test(test_authorize_url),
	        cmocka_unit_test(test_parse_tokens),
	        cmocka_unit_test(test_url_decode),
	        cmocka_unit_test(test_callback_server),
	        cmocka_unit_test(test_listen_fallback),
	        cmocka_unit_test(test_callback_server_hostile_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
