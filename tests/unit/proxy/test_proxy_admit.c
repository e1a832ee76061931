#define _DEFAULT_SOURCE /* mkdtemp */
#include "proxy/proxy.h"

#include "base/ev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

/* `run` starts with the soft descriptor limit at the hard one, wherever the shell left it. */
static void test_raise_fd_limit(void **state)
{
	struct rlimit rl, now;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 64) {
		skip();
	}
	now = (struct rlimit){.rlim_cur = 32, .rlim_max = rl.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &now), 0);
	assert_int_equal(proxy_raise_fd_limit(), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_true(now.rlim_cur == rl.rlim_max);
	/* Already there: nothing to do. */
	assert_int_equal(proxy_raise_fd_limit(), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void tick_fired(struct ev_timer *t)
{
	(void)t;
}

/* Runs the loop for about ms milliseconds. */
static void spin(struct ev *ev, int ms)
{
	struct ev_timer tick = {0};

	for (int i = 0; i < ms; i++) {
		ev_timer_start(ev, &tick, tick_fired, 1000);
		assert_int_equal(ev_run_once(ev), 0);
		ev_timer_stop(ev, &tick);
	}
}

/* A TUI's connection with its upgrade request sent. */
static int tui_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[512];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	n = snprintf(req, sizeof(req),
	             "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
	             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	             "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " TOKEN "\r\n\r\n",
	             port);
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	return fd;
}

/* What the proxy answered so far (NUL-terminated), without waiting. */
static size_t answer(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);

	assert_true(n >= 0 || errno == EAGAIN);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* A proxy with the TUIs held, and one TUI that has connected and sent its upgrade. */
static struct proxy *held_with_one(struct ev *ev, int *fd)
{
	struct proxy_config cfg = {.ev = ev,
	                           .upstream_port = 1,
	                           .token = TOKEN,
	                           .max_message = 1 << 20,
	                           .max_queued = 1 << 20};
	struct proxy *p = proxy_create(&cfg);
	char buf[512];

	assert_non_null(p);
	proxy_hold_clients(p, true);
	*fd = tui_connect(proxy_port(p));
	spin(ev, 50);
	assert_int_equal(answer(*fd, buf, sizeof(buf)), 0);
	return p;
}

/* Runs the loop until the proxy answers fd; that answer's status line must contain want. */
static void expect_answer(struct ev *ev, int fd, const char *want)
{
	char buf[512];

	for (int i = 0; i < 1000 && !answer(fd, buf, sizeof(buf)); i++) {
		spin(ev, 1);
	}
	assert_non_null(strstr(buf, want));
}

/* While held, a TUI that connected waits in the backlog: no upgrade is answered and no
 * upstream is opened until the hold ends; then it is served as any other. */
static void test_held_clients_wait(void **state)
{
	struct ev *ev = ev_new();
	struct proxy *p;
	int fd;

	(void)state;
	assert_non_null(ev);
	p = held_with_one(ev, &fd);
	proxy_hold_clients(p, false);
	expect_answer(ev, fd, "HTTP/1.1 101");
	close(fd);
	proxy_destroy(p);
	ev_free(ev);
}

/* A session that ends before serving its TUI refuses it, held or new, with a 503. */
static void test_refused_clients_get_503(void **state)
{
	struct ev *ev = ev_new();
	struct proxy *p;
	int fd, fd2;

	(void)state;
	assert_non_null(ev);
	p = held_with_one(ev, &fd);
	proxy_refuse_clients(p);
	expect_answer(ev, fd, "HTTP/1.1 503 Service Unavailable");
	fd2 = tui_connect(proxy_port(p));
	expect_answer(ev, fd2, "HTTP/1.1 503");
	close(fd);
	close(fd2);
	proxy_destroy(p);
	ev_free(ev);
}

/* On a unix socket (codex 0.131+) the TUI sends no token and is served; the socket is 0600
 * and goes with the proxy. Half a unix configuration is refused, and so is a path taken. */
static void test_unix_socket(void **state)
{
	char dir[] = "/tmp/cs-proxy-unix-XXXXXX", path[96];
	struct ev *ev = ev_new();
	struct proxy_config cfg = {
	        .ev = ev, .token = TOKEN, .max_message = 1 << 20, .max_queued = 1 << 20};
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	static const char req[] =
	        "GET /rpc HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
	        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
	        "\r\nSec-WebSocket-Version: 13\r\n\r\n";
	struct stat st;
	struct proxy *p;
	int fd;

	(void)state;
	assert_non_null(ev);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock-1-tui", dir);
	cfg.listen_path = path;
	assert_null(proxy_create(&cfg)); /* no upstream_path */
	assert_int_equal(errno, EINVAL);
	cfg.upstream_path = "/nonexistent/sock-1-app";
	p = proxy_create(&cfg);
	assert_non_null(p);
	assert_int_equal(proxy_port(p), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	expect_answer(ev, fd, "HTTP/1.1 101");
	close(fd);
	proxy_destroy(p);
	assert_int_equal(access(path, F_OK), -1);
	/* Something already at the path is not ours: it stays, and no proxy is made. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_null(proxy_create(&cfg));
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_size == 4);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	ev_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_raise_fd_limit),
	        cmocka_unit_test(test_unix_socket),
	        cmocka_unit_test(test_held_clients_wait),
	        cmocka_unit_test(test_refused_clients_get_503),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
