#define _GNU_SOURCE /* accept4 */
#include "net/oauth_server.h"

#include "base/buf.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX     8192
#define READ_TIMEOUT_MS 5000

static int bind_one(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc;

	if (fd < 0) {
		return -errno;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int oauth_server_listen(struct oauth_server *s, const int *ports, size_t n)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = -EADDRINUSE;

	s->fd = -1;
	s->port = 0;
	for (size_t i = 0; i < n && fd < 0; i++) {
		fd = bind_one(ports[i]);
		if (fd < 0 && fd != -EADDRINUSE) {
			return fd;
		}
	}
	if (fd < 0) {
		return -EADDRINUSE;
	}
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -errno;
	}
	s->fd = fd;
	s->port = ntohs(sa.sin_port);
	return 0;
}

void oauth_server_close(struct oauth_server *s)
{
	if (s && s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

void oauth_server_url_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			*w++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*w++ = *s == '+' ? ' ' : *s;
		}
	}
	*w = '\0';
}

/* The decoded value of key in a query string (a new string), or NULL. */
static char *query_param(const char *query, const char *key)
{
	size_t klen = strlen(key);
	const char *p = query, *end;
	char *v;

	while (p && *p) {
		end = p + strcspn(p, "&");
		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			v = strndup(p + klen + 1, (size_t)(end - p - (ptrdiff_t)klen - 1));
			if (v) {
				oauth_server_url_decode(v);
			}
			return v;
		}
		p = *end ? end + 1 : NULL;
	}
	return NULL;
}

static void respond(int client, int status, const char *title, const char *text)
{
	char page[2048], head[256];
	int n = snprintf(page, sizeof(page),
	                 "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title>"
	                 "</head><body style=\"font-family:sans-serif;margin:3em\"><h1>%s</h1>"
	                 "<p>%s</p></body></html>\n",
	                 title, title, text);
	int h = snprintf(
	        head, sizeof(head),
	        "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
	        "Content-Length: %d\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
	        status,
	        status == 200   ? "OK"
	        : status == 404 ? "Not Found"
	                        : "Bad Request",
	        n);

	(void)util_write_all(client, head, (size_t)h);
	(void)util_write_all(client, page, (size_t)n);
	close(client);
}

void oauth_server_reply(int client, bool ok, const char *message)
{
	/* message comes from us (no markup, no secrets); keep it plain text anyway. */
	char safe[512];
	size_t o = 0;

	for (const char *p = message ? message : ""; *p && o + 1 < sizeof(safe); p++) {
		safe[o++] = strchr("<>&\"", *p) ? '?' : *p;
	}
	safe[o] = '\0';
	if (ok) {
		respond(client, 200, "Signed in to codex-switch",
		        *safe ? safe : "You can close this window and return to the terminal.");
	} else {
		respond(client, 400, "Sign-in failed", safe);
	}
}

/* Reads the request head (up to the blank line) within the timeout. */
static int read_head(int client, struct buf *b)
{
	char chunk[1024];
	struct pollfd pfd = {.fd = client, .events = POLLIN};

	while (!b->data || !strstr(b->data, "\r\n\r\n")) {
		int r = poll(&pfd, 1, READ_TIMEOUT_MS);
		ssize_t n;
		if (r <= 0) {
			return r == 0 ? -ETIMEDOUT : -errno;
		}
		n = recv(client, chunk, sizeof(chunk), 0);
		if (n <= 0) {
			return n == 0 ? -ECONNRESET : -errno;
		}
		if (buf_append(b, chunk, (size_t)n) < 0) {
			return -E2BIG;
		}
	}
	return 0;
}

struct callback {
	const char *state;
	char **code;
	char *err;
	size_t errsz;
};

/* Handles one request: 0 = got the code, 1 = not a callback (keep waiting), < 0 = failure. */
static int handle_callback(int client, char *target, struct callback *cb)
{
	char *query = strchr(target, '?'), *state, *code, *error;
	int rc;

	if (query) {
		*query++ = '\0';
	}
	if (strcmp(target, "/auth/callback") != 0) {
		respond(client, 404, "Not found",
		        "This server only receives the sign-in callback.");
		return 1;
	}
	state = query_param(query, "state");
	code = query_param(query, "code");
	error = query_param(query, "error");
	if (!state || !util_ct_equal(state, strlen(state), cb->state, strlen(cb->state))) {
		snprintf(cb->err, cb->errsz,
		         "the sign-in callback carried a wrong state; "
		         "start 'codex-switch login' again");
		oauth_server_reply(client, false,
		                   "State mismatch: this answer does not belong to "
		                   "this sign-in. Start the login again.");
		rc = -EPERM;
	} else if (error || !code || !*code) {
		snprintf(cb->err, cb->errsz, "the sign-in was refused: %.100s",
		         error ? error : "no authorization code");
		oauth_server_reply(client, false, "The sign-in was refused or incomplete.");
		rc = -EACCES;
	} else {
		*cb->code = code;
		code = NULL;
		rc = 0;
	}
	free(state);
	util_free_secret(code);
	free(error);
	return rc;
}

static int serve_one(int client, struct callback *cb)
{
	struct buf b;
	char *sp, *target;
	int rc;

	buf_init(&b, REQUEST_MAX);
	rc = read_head(client, &b);
	if (rc < 0) {
		close(client);
		buf_release(&b);
		return 1; /* a broken or slow client does not end the sign-in */
	}
	target = b.data + 4;
	sp = strchr(target, ' ');
	if (strncmp(b.data, "GET ", 4) != 0 || !sp) {
		respond(client, 400, "Bad request", "Only GET is served here.");
		buf_release(&b);
		return 1;
	}
	*sp = '\0';
	rc = handle_callback(client, target, cb);
	if (rc != 0 && rc != 1) {
		buf_release(&b);
		return rc;
	}
	util_free_secret(buf_detach(&b));
	return rc;
}

int oauth_server_wait(struct oauth_server *s, const char *state, int64_t deadline_ms, char **code,
                      int *client, char *err, size_t errsz)
{
	struct callback cb = {state, code, err, errsz};
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	int rc, c;

	*code = NULL;
	*client = -1;
	for (;;) {
		int64_t left = deadline_ms - util_now_ms();
		if (left <= 0) {
			snprintf(err, errsz, "no sign-in within 15 minutes; run the login again");
			return -ETIMEDOUT;
		}
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc < 0 && errno != EINTR) {
			snprintf(err, errsz, "cannot wait for the sign-in callback: %s",
			         strerror(errno));
			return -errno;
		}
		if (rc <= 0 || (c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			continue;
		}
		rc = serve_one(c, &cb);
		if (rc == 0) {
			*client = c;
			return 0;
		}
		if (rc < 0) {
			return rc;
		}
	}
}
