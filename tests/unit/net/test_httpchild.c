/*
 * httpchild: requests done by a child process against a small HTTP server in this test.
 * The child is this test binary again (/proc/self/exe), whose main() serves `__http` as
 * codex-switch's does.
 */
#define _GNU_SOURCE
#include "net/curlso.h"
#include "net/http.h"
#include "net/httpchild.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

/* One connection: the request is kept, the canned answer sent (or none: silent). */
struct server {
	int fd;
	int port;
	const char *answer;
	char request[8192];
	pthread_t th;
};

static void *serve_one(void *arg)
{
	struct server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	size_t len = 0;
	ssize_t n;

	if (c < 0) {
		return NULL;
	}
	/* Until the blank line and a body, if any: the tests' requests are small. */
	while (len < sizeof(s->request) - 1 &&
	       (n = read(c, s->request + len, sizeof(s->request) - 1 - len)) > 0) {
		len += (size_t)n;
		s->request[len] = '\0';
		char *end = strstr(s->request, "\r\n\r\n");
		char *cl = strcasestr(s->request, "Content-Length: ");
		if (end && (!cl || strlen(end + 4) >= (size_t)atol(cl + 16))) {
			break;
		}
	}
	if (s->answer) {
		(void)!write(c, s->answer, strlen(s->answer));
	} else {
		sleep(2); /* longer than the request's timeout */
	}
	close(c);
	return NULL;
}

static void server_start(struct server *s, const char *answer)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->answer = answer;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 1), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve_one, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
}

static int perform(struct server *s, const char *method, const char *body, size_t max_body,
                   long timeout_ms, struct http_response *r, char *err, size_t errsz)
{
	const char *headers[] = {"Authorization: Bearer sekrit-token", "Accept: application/json",
	                         NULL};
	char url[64];
	struct http_request req = {method,     url,     headers, body, body ? strlen(body) : 0,
	                           timeout_ms, max_body};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/wham/usage", s->port);
	return http_perform(&req, r, err, errsz);
}

static void test_get_in_a_child(void **state)
{
	struct http_response r;
	struct server s;
	char err[256] = "";

	(void)state;
	server_start(&s, "HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 5\r\n"
	                 "Connection: close\r\n\r\nslow!");
	assert_int_equal(perform(&s, "GET", NULL, 4096, 5000, &r, err, sizeof(err)), 0);
	server_stop(&s);
	assert_int_equal(r.status, 429);
	assert_int_equal(r.retry_after_s, 7);
	assert_int_equal(r.body_len, 5);
	assert_string_equal(r.body, "slow!");
	assert_non_null(strstr(s.request, "GET /wham/usage HTTP/1.1\r\n"));
	assert_non_null(strstr(s.request, "Authorization: Bearer sekrit-token\r\n"));
	/* The request went out from the child: libcurl never entered this process. */
	assert_false(curlso_loaded());
	http_response_release(&r);
}

static void test_post_body(void **state)
{
	struct http_response r;
	struct server s;
	char err[256] = "";

	(void)state;
	server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
	assert_int_equal(perform(&s, "POST", "grant_type=refresh_token&refresh_token=r1", 4096,
	                         5000, &r, err, sizeof(err)),
	                 0);
	server_stop(&s);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.retry_after_s, -1);
	assert_string_equal(r.body, "{}");
	assert_non_null(strstr(s.request, "POST /wham/usage HTTP/1.1\r\n"));
	assert_non_null(strstr(s.request, "\r\n\r\ngrant_type=refresh_token&refresh_token=r1"));
	http_response_release(&r);
}

static void test_errors_come_back(void **state)
{
	struct http_response r;
	struct server s;
	char err[256] = "";

	(void)state;
	server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
	                 "0123456789012345678901234567890123456789012345678901234567890123456789"
	                 "012345678901234567890123456789");
	assert_int_equal(perform(&s, "GET", NULL, 10, 5000, &r, err, sizeof(err)), -E2BIG);
	server_stop(&s);
	assert_non_null(strstr(err, "larger than 10 bytes"));
	assert_null(r.body);

	server_start(&s, NULL); /* accepts, never answers */
	assert_int_equal(perform(&s, "GET", NULL, 4096, 300, &r, err, sizeof(err)), -ETIMEDOUT);
	server_stop(&s);

	s.port = 1; /* nothing listens there */
	assert_int_equal(perform(&s, "GET", NULL, 4096, 2000, &r, err, sizeof(err)), -ECONNREFUSED);
	assert_true(err[0] != '\0');
	assert_null(strstr(err, "sekrit"));
}

/* The child's side takes only what the parent writes: anything else is refused. */
static void test_serve_refuses_garbage(void **state)
{
	const char *inputs[] = {"", "csh1", "xxxx\x01\x00\x00\x00\x00\x00\x00\x00G",
	                        "csh1\xff\xff\xff\xff\xff\xff\xff\x7f"};
	size_t lens[] = {0, 4, 13, 12};

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		int in[2], out[2];
		char got[16];

		assert_int_equal(pipe(in), 0);
		assert_int_equal(pipe(out), 0);
		assert_int_equal(write(in[1], inputs[i], lens[i]), (ssize_t)lens[i]);
		close(in[1]);
		assert_int_equal(httpchild_serve(in[0], out[1]), 1);
		close(out[1]);
		assert_int_equal(read(out[0], got, sizeof(got)), 0); /* no answer written */
		close(in[0]);
		close(out[0]);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_get_in_a_child),
	        cmocka_unit_test(test_post_body),
	        cmocka_unit_test(test_errors_come_back),
	        cmocka_unit_test(test_serve_refuses_garbage),
	};

	if (argc == 2 && strcmp(argv[1], "__http") == 0) {
		return httpchild_serve(STDIN_FILENO, STDOUT_FILENO);
	}
	httpchild_enable();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
