#define _GNU_SOURCE /* accept4 */
#include "net/oauth_server.h"

#include "base/buf.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX 8192

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

struct callback {
	const char *state;
	char **code;
	char *err;
	size_t errsz;
};

/* One accepted connection whose request head is still arriving. */
struct pending {
	int fd; /* -1: free slot */
	int64_t deadline_ms;
	struct buf head;
};

/* The connection table of one oauth_server_wait(). */
struct waiter {
	struct oauth_server *s;
	struct callback cb;
	struct pending conns[OAUTH_SERVER_MAX_CONNS];
};

static void drop(struct pending *c)
{
	if (c->fd >= 0) {
		close(c->fd);
	}
	if (c->head.data) {
		util_free_secret(buf_detach(&c->head)); /* it may hold an authorization code */
	}
	c->fd = -1;
}

/* Makes c's socket blocking again: the answers are small pages, written whole. */
static void answer_mode(struct pending *c)
{
	int flags = fcntl(c->fd, F_GETFL);

	if (flags >= 0) {
		fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
	}
}

/* Handles one request: 0 = got the code, 1 = not the callback (keep waiting), < 0 = failure. */
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
		/* Anyone on this machine can send this; only the issuer's redirect has the state.
		 */
		oauth_server_reply(client, false,
		                   "State mismatch: this answer does not belong to "
		                   "this sign-in. Start the login again.");
		rc = 1;
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

/* The head of c is complete: answers it. 0 = the code (c->fd is handed over), 1, or < 0. */
static int serve(struct pending *c, struct callback *cb, int *client)
{
	char *target = c->head.data + 4, *sp = strchr(target, ' ');
	int fd = c->fd, rc;

	answer_mode(c);
	c->fd = -1; /* respond() and oauth_server_reply() close it */
	if (strncmp(c->head.data, "GET ", 4) != 0 || !sp) {
		respond(fd, 400, "Bad request", "Only GET is served here.");
		drop(c);
		return 1;
	}
	*sp = '\0';
	rc = handle_callback(fd, target, cb);
	if (rc == 0) {
		*client = fd;
	}
	drop(c);
	return rc;
}

/* Reads what c has sent. 1 = the head is complete, 0 = wait for more, < 0 = drop it. */
static int receive(struct pending *c)
{
	char chunk[1024];
	ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		return 0;
	}
	if (n <= 0 || buf_append(&c->head, chunk, (size_t)n) < 0) {
		return -1;
	}
	return strstr(c->head.data, "\r\n\r\n") ? 1 : 0;
}

/* Takes every waiting connection; when the table is full the oldest makes room. */
static void accept_all(struct waiter *w)
{
	int fd;

	while ((fd = accept4(w->s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct pending *slot = NULL, *oldest = &w->conns[0];
		for (size_t i = 0; i < OAUTH_SERVER_MAX_CONNS; i++) {
			struct pending *c = &w->conns[i];
			if (c->fd < 0 && !slot) {
				slot = c;
			} else if (c->fd >= 0 && c->deadline_ms < oldest->deadline_ms) {
				oldest = c;
			}
		}
		if (!slot) {
			drop(oldest);
			slot = oldest;
		}
		slot->fd = fd;
		slot->deadline_ms = util_now_ms() + OAUTH_SERVER_REQUEST_MS;
		buf_init(&slot->head, REQUEST_MAX);
	}
}

/* Builds the poll set (listener first); the poll timeout honours every deadline. */
static int poll_set(struct waiter *w, int64_t deadline_ms, struct pollfd *pfd, struct pending **who,
                    nfds_t *n)
{
	int64_t next = deadline_ms, now = util_now_ms();

	pfd[0] = (struct pollfd){.fd = w->s->fd, .events = POLLIN};
	*n = 1;
	for (size_t i = 0; i < OAUTH_SERVER_MAX_CONNS; i++) {
		struct pending *c = &w->conns[i];
		if (c->fd < 0) {
			continue;
		}
		if (c->deadline_ms <= now) {
			drop(c); /* a whole request gets this long, however it trickles in */
			continue;
		}
		next = c->deadline_ms < next ? c->deadline_ms : next;
		who[*n] = c;
		pfd[(*n)++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
	}
	return next - now > 60000 ? 60000 : (int)(next - now);
}

/* One round of waiting: 0 = the code, 1 = keep waiting, < 0 = failure. */
static int wait_round(struct waiter *w, int64_t deadline_ms, int *client)
{
	struct pollfd pfd[OAUTH_SERVER_MAX_CONNS + 1];
	struct pending *who[OAUTH_SERVER_MAX_CONNS + 1];
	nfds_t n;
	int timeout = poll_set(w, deadline_ms, pfd, who, &n), rc;

	rc = poll(pfd, n, timeout > 0 ? timeout : 0);
	if (rc < 0 && errno != EINTR) {
		rc = -errno;
		snprintf(w->cb.err, w->cb.errsz, "cannot wait for the sign-in callback: %s",
		         strerror(-rc));
		return rc;
	}
	for (nfds_t i = 1; rc > 0 && i < n; i++) {
		int got;
		if (!pfd[i].revents) {
			continue;
		}
		got = receive(who[i]);
		if (got < 0) {
			drop(who[i]); /* a broken or slow client does not end the sign-in */
		} else if (got > 0 && (got = serve(who[i], &w->cb, client)) != 1) {
			return got;
		}
	}
	if (rc > 0 && pfd[0].revents) {
		accept_all(w);
	}
	return 1;
}

int oauth_server_wait(struct oauth_server *s, const char *state, int64_t deadline_ms, char **code,
                      int *client, char *err, size_t errsz)
{
	struct waiter w = {.s = s, .cb = {state, code, err, errsz}};
	int rc = 1, flags = fcntl(s->fd, F_GETFL);

	*code = NULL;
	*client = -1;
	for (size_t i = 0; i < OAUTH_SERVER_MAX_CONNS; i++) {
		w.conns[i].fd = -1;
	}
	if (flags < 0 || fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errsz, "cannot wait for the sign-in callback: %s", strerror(-rc));
		return rc;
	}
	while (rc == 1) {
		if (util_now_ms() >= deadline_ms) {
			snprintf(err, errsz, "no sign-in within 15 minutes; run the login again");
			rc = -ETIMEDOUT;
			break;
		}
		rc = wait_round(&w, deadline_ms, client);
	}
	for (size_t i = 0; i < OAUTH_SERVER_MAX_CONNS; i++) {
		drop(&w.conns[i]);
	}
	return rc;
}
