/*
 * An HTTP server on 127.0.0.1 for tests, on its own thread: every request, whatever its path,
 * gets the status and body set before, after an optional delay. It plays the token endpoint
 * ($CODEX_REFRESH_TOKEN_URL_OVERRIDE, set by fake_token_server_start; net/endpoints.h) or, with
 * $CODEX_SWITCH_CHATGPT_BASE_URL pointed at it, the usage backend.
 */
#ifndef CS_TEST_FAKE_TOKEN_SERVER_H
#define CS_TEST_FAKE_TOKEN_SERVER_H

#include "base/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct fake_token_server {
	int fd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	/* Set before the request; read by the server thread. */
	int status;
	char body[4096];
	long delay_ms;
	/* What it saw. */
	atomic_int requests;
	char last_request[8192];
};

static inline void fake_token_server_sleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Reads one request (head and Content-Length body) into out. */
static inline void fake_token_server_read(int c, char *out, size_t outsz)
{
	size_t n = 0;
	ssize_t r;
	const char *end, *cl;

	out[0] = '\0';
	while (n + 1 < outsz && (r = read(c, out + n, outsz - 1 - n)) > 0) {
		n += (size_t)r;
		out[n] = '\0';
		end = strstr(out, "\r\n\r\n");
		if (!end) {
			continue;
		}
		cl = strcasestr(out, "content-length:");
		if (!cl || (size_t)(end + 4 - out) + strtoul(cl + 15, NULL, 10) <= n) {
			break;
		}
	}
}

static inline void fake_token_server_one(struct fake_token_server *s, int c)
{
	char head[256];
	int len;

	fake_token_server_read(c, s->last_request, sizeof(s->last_request));
	s->requests++;
	if (s->delay_ms) {
		fake_token_server_sleep(s->delay_ms);
	}
	len = snprintf(head, sizeof(head),
	               "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
	               "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	               s->status, strlen(s->body));
	if (write(c, head, (size_t)len) < 0 || write(c, s->body, strlen(s->body)) < 0) {
		perror("fake token server");
	}
}

static inline void *fake_token_server_main(void *arg)
{
	struct fake_token_server *s = arg;

	while (!s->stop) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 50) <= 0) {
			continue;
		}
		c = accept(s->fd, NULL, NULL);
		if (c >= 0) {
			fake_token_server_one(s, c);
			close(c);
		}
	}
	return NULL;
}

/* Listens on an ephemeral port and sets the override. 0 or -1. */
static inline int fake_token_server_start(struct fake_token_server *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	char *url;

	memset(s, 0, sizeof(*s));
	s->status = 500;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) || listen(s->fd, 8) ||
	    getsockname(s->fd, (struct sockaddr *)&a, &alen)) {
		return -1;
	}
	s->port = ntohs(a.sin_port);
	url = util_printf("http://127.0.0.1:%d/oauth/token", s->port);
	setenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE", url, 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	free(url);
	return pthread_create(&s->thread, NULL, fake_token_server_main, s) ? -1 : 0;
}

static inline void fake_token_server_stop(struct fake_token_server *s)
{
	s->stop = true;
	pthread_join(s->thread, NULL);
	close(s->fd);
	unsetenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE");
}

#endif
