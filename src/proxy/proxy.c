/*
 * The proxy's listener: TUI connections accepted on 127.0.0.1 or a unix socket (their upgrade is
 * read and checked in proxy_ws.c) and the control connection. The relay itself is in proxy_relay.c.
 */
#define _GNU_SOURCE /* accept4 */
#include "proxy/proxy_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define LISTEN_BACKLOG   64
#define ACCEPT_BATCH     16
#define ACCEPT_PAUSE_US  (1000 * 1000)
#define BACKOFF_FIRST_MS 2
#define BACKOFF_MAX_MS   250
/* An app-server just spawned listens within 30-300 ms (a native codex, the npm launcher):
 * a connect refused on loopback costs microseconds, a late one the user waits for. Then the
 * back-off starts at BACKOFF_FIRST_MS. */
#define POLL_FAST_MS 1000
#define POLL_MS      1

/* "Bearer <token>": the scheme is case-insensitive, whitespace around the token is ignored. */
bool proxy_bearer_ok(const struct proxy *p, const char *h, size_t n)
{
	const char *tok = p->cfg.token;

	while (n && (*h == ' ' || *h == '\t')) {
		h++;
		n--;
	}
	if (n < 7 || strncasecmp(h, "bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) {
		return false;
	}
	h += 6;
	n -= 6;
	while (n && (*h == ' ' || *h == '\t')) {
		h++;
		n--;
	}
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t')) {
		n--;
	}
	return util_ct_equal(h, n, tok, strlen(tok));
}

/* ---- the listener ---- */

static void accept_resume(struct ev_timer *t)
{
	struct proxy *p = EV_CONTAINER_OF(t, struct proxy, accept_tm);

	ev_io_set(p->ev, &p->listen, p->held ? 0 : EPOLLIN);
}

void proxy_refuse_clients(struct proxy *p)
{
	p->refusing = true;
	proxy_hold_clients(p, false);
}

void proxy_hold_clients(struct proxy *p, bool hold)
{
	p->held = hold;
	/* After running out of descriptors, the pause's timer resumes accepting. */
	if (!p->accept_tm.armed) {
		ev_io_set(p->ev, &p->listen, hold ? 0 : EPOLLIN);
	}
}

/* On a unix socket the directory keeps other users out; their credentials are checked too,
 * since no token is asked there. Closes fd when false. */
static bool same_user(struct proxy *p, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (!p->cfg.listen_path) {
		return true;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.uid == geteuid()) {
		return true;
	}
	proxy_admit_refused(p, "a connection from another user");
	close(fd);
	return false;
}

static void on_accept(struct ev_io *io, uint32_t events)
{
	struct proxy *p = EV_CONTAINER_OF(io, struct proxy, listen);

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct proxy_conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* The pending connection stays readable: do not spin on it. */
				proxy_admit_refused(
				        p, errno == EMFILE ? "too many open files"
				                           : "too many open files in the system");
				ev_io_set(p->ev, io, 0);
				ev_timer_start(p->ev, &p->accept_tm, accept_resume,
				               ACCEPT_PAUSE_US);
			}
			return;
		}
		if (!same_user(p, fd) || !proxy_admit(p, fd)) {
			continue;
		}
		c = proxy_relay_new(p, false);
		if (!c) {
			close(fd);
			continue;
		}
		if (proxy_ws_accept(c, fd) < 0) {
			proxy_relay_free(c);
		}
	}
}

int proxy_local_addr(struct sockaddr_storage *a, socklen_t *len, const char *path, int port)
{
	struct sockaddr_un *un = (struct sockaddr_un *)a;
	struct sockaddr_in *in = (struct sockaddr_in *)a;
	size_t n = path ? strlen(path) : 0;

	memset(a, 0, sizeof(*a));
	if (!path) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in);
		return 0;
	}
	if (n >= sizeof(un->sun_path)) {
		return -ENAMETOOLONG;
	}
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, n + 1);
	*len = sizeof(*un);
	return 0;
}

/* 127.0.0.1 on a port the kernel picks, or cfg.listen_path (0600). The path is new (its name
 * holds our pid and a random tag): one already there is not ours to remove, and bind() fails. */
static int listen_local(struct proxy *p)
{
	struct sockaddr_storage a;
	socklen_t al;
	int fd, r = proxy_local_addr(&a, &al, p->cfg.listen_path, 0);

	if (r) {
		return r;
	}
	fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&a, al) < 0 ||
	    (p->cfg.listen_path && chmod(p->cfg.listen_path, 0600) < 0) ||
	    listen(fd, LISTEN_BACKLOG) < 0 || getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	p->port = p->cfg.listen_path ? 0 : ntohs(((struct sockaddr_in *)&a)->sin_port);
	r = ev_io_start(p->ev, &p->listen, fd, EPOLLIN, on_accept);
	if (r < 0) {
		close(fd);
	}
	return r;
}

struct proxy *proxy_create(const struct proxy_config *cfg)
{
	struct proxy *p;
	int r = -ENOMEM;

	if (!cfg->ev || !cfg->token || !cfg->token[0] || cfg->max_message == 0 ||
	    cfg->max_queued < 16 || !cfg->listen_path != !cfg->upstream_path) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		return NULL;
	}
	p->cfg = *cfg;
	p->listen.fd = -1;
	p->ev = cfg->ev;
	p->bearer =
	        util_printf("Bearer %s", cfg->upstream_token ? cfg->upstream_token : cfg->token);
	p->rxbuf = malloc(PROXY_RX_CHUNK);
	if (p->bearer && p->rxbuf) {
		log_pin_secret(cfg->token); /* never evicted, however many tokens follow */
		if (cfg->upstream_token) {
			log_pin_secret(cfg->upstream_token);
		}
		r = listen_local(p);
	}
	if (r < 0) {
		proxy_destroy(p);
		errno = -r;
		return NULL;
	}
	return p;
}

void proxy_destroy(struct proxy *p)
{
	if (!p) {
		return;
	}
	p->destroying = true;
	proxy_admit_release(p);
	while (p->conns) {
		proxy_relay_free(p->conns);
	}
	if (p->listen.fd >= 0) {
		ev_io_stop(p->ev, &p->listen);
		close(p->listen.fd);
		if (p->cfg.listen_path) {
			unlink(p->cfg.listen_path);
		}
	}
	ev_timer_stop(p->ev, &p->accept_tm);
	util_free_secret(p->bearer);
	free(p->rxbuf);
	free(p);
}

int proxy_port(const struct proxy *p)
{
	return p->port;
}

/* ---- the control connection ---- */

static void control_attempt(struct proxy_conn *c)
{
	int r = proxy_ws_connect(c);

	if (r < 0) {
		proxy_control_connect_failed(c, strerror(-r));
	}
}

static void control_retry(struct ev_timer *t)
{
	struct proxy_conn *c = EV_CONTAINER_OF(t, struct proxy_conn, retry);

	c->retry_pending = false;
	control_attempt(c);
}

void proxy_control_connect_failed(struct proxy_conn *c, const char *why)
{
	struct proxy *p = c->p;
	const struct proxy_hooks *hk = p->cfg.hooks;
	bool fast = ev_now_us() < c->poll_until_us;
	int64_t delay = (int64_t)(fast ? POLL_MS : c->backoff_ms) * 1000;
	char msg[160];

	if (!c->closing[SIDE_UP].set && !p->destroying && ev_now_us() + delay < c->deadline_us) {
		c->retry_pending = true;
		ev_timer_start(p->ev, &c->retry, control_retry, delay);
		if (!fast) {
			c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
			                                                   : c->backoff_ms * 2;
		}
		return;
	}
	if (p->cfg.upstream_path) {
		snprintf(msg, sizeof(msg), "cannot connect to the app-server on %s: %s",
		         p->cfg.upstream_path, why);
	} else {
		snprintf(msg, sizeof(msg), "cannot connect to the app-server on 127.0.0.1:%d: %s",
		         p->cfg.upstream_port, why);
	}
	proxy_relay_maybe_free(c);
	if (!p->destroying && hk && hk->control_failed) {
		hk->control_failed(p->cfg.hooks_ctx, msg);
	}
}

int proxy_control_open(struct proxy *p, int deadline_ms)
{
	struct proxy_conn *c;

	if (p->control) {
		return -EALREADY;
	}
	c = proxy_relay_new(p, true);
	if (!c) {
		return -ENOMEM;
	}
	p->control = c;
	c->deadline_us = ev_now_us() + (int64_t)deadline_ms * 1000;
	c->poll_until_us = ev_now_us() + (int64_t)POLL_FAST_MS * 1000;
	c->backoff_ms = BACKOFF_FIRST_MS;
	control_attempt(c);
	return 0;
}

struct proxy_conn *proxy_control(struct proxy *p)
{
	return p->control && p->control->opened ? p->control : NULL;
}

void proxy_broadcast_to_clients(struct proxy *p, const char *json, size_t len)
{
	for (struct proxy_conn *c = p->conns; c; c = c->next) {
		if (!c->control && c->ws[SIDE_DOWN].opened) {
			proxy_send_to_client(c, json, len);
		}
	}
}

size_t proxy_client_count(const struct proxy *p)
{
	size_t n = 0;

	for (const struct proxy_conn *c = p->conns; c; c = c->next) {
		n += !c->control && c->ws[SIDE_DOWN].opened && proxy_ws_live(c, SIDE_DOWN);
	}
	return n;
}

void proxy_close_clients(struct proxy *p, int code, const char *reason)
{
	for (struct proxy_conn *c = p->conns; c; c = c->next) {
		if (!c->control && c->ws[SIDE_DOWN].opened) {
			proxy_relay_close_side(c, SIDE_DOWN, code, reason);
		}
	}
}
