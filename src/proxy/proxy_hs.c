/*
 * The opening handshakes of proxy_ws.c's ends: the TUI's upgrade request (checked: WebSocket,
 * no Origin, the bearer token; refused with an HTTP status otherwise) and ours toward the
 * app-server (the request with the token, then its 101).
 */
#define _GNU_SOURCE /* explicit_bzero */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/util.h"

#define RESPONSE_ROOM 256 /* a 101 or a refusal */

static const char *status_text(int status)
{
	switch (status) {
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 503:
		return "Service Unavailable";
	default:
		return "Bad Request";
	}
}

/* Answers a request we do not upgrade with status, then hangs up. */
static int refuse(struct wsend *w, int status)
{
	char *o = (char *)proxy_ws_out_room(w, RESPONSE_ROOM);

	if (!o) {
		return -1;
	}
	w->out_len += (size_t)snprintf(o, RESPONSE_ROOM,
	                               "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n"
	                               "Connection: close\r\n\r\n",
	                               status, status_text(status));
	w->hangup = true;
	proxy_ws_flush(w->c, w->side);
	return 0;
}

/* The status for a TUI's request: 101 to upgrade it. */
static int check_request(const struct wsend *w, const struct wsframe_upgrade *u)
{
	if (!u->get || !u->upgrade) {
		return u->get && !util_contains_icase(w->head.data, "\nupgrade:") ? 404 : 400;
	}
	/* Browsers always send Origin and cannot set Authorization: refuse them outright. */
	if (u->origin) {
		return 403;
	}
	/* Over a unix socket codex sends no token: the socket's directory and the peer's
	 * credentials (proxy.c) are the check there. */
	if (!w->c->p->cfg.listen_path &&
	    (!u->auth || !proxy_bearer_ok(w->c->p, u->auth, u->auth_len))) {
		proxy_admit_refused(w->c->p, "missing or wrong bearer token");
		return 401;
	}
	return w->c->p->refusing ? 503 : 101;
}

static int upgrade(struct wsend *w, const struct wsframe_upgrade *u, size_t head)
{
	char *o = (char *)proxy_ws_out_room(w, RESPONSE_ROOM);
	long n = o ? wsframe_accept_response(u->key, o, RESPONSE_ROOM) : -ENOMEM;
	int r;

	if (n < 0) {
		return -1;
	}
	w->out_len += (size_t)n;
	ev_timer_stop(w->c->p->ev, &w->tm);
	w->state = WS_OPEN;
	w->opened = true;
	log_info("client connected; connecting to the app-server");
	proxy_ws_flush(w->c, w->side);
	proxy_relay_down_open(w->c);
	/* A client may send its first frames right behind the request. */
	r = proxy_ws_frames(w, (unsigned char *)w->head.data + head, w->head.len - head);
	proxy_ws_wipe_head(w);
	return r;
}

/* The TUI's upgrade request (holds the token: the head is wiped once decided). */
int proxy_hs_request(struct wsend *w, const unsigned char *in, size_t n)
{
	struct wsframe_upgrade u;
	long head;
	int status;

	if (buf_append(&w->head, in, n) < 0) {
		proxy_ws_wipe_head(w);
		return refuse(w, 400);
	}
	head = wsframe_parse_upgrade(w->head.data, w->head.len, PROXY_HEAD_MAX, &u);
	if (head == -EAGAIN) {
		return 0;
	}
	status = head < 0 ? 400 : check_request(w, &u);
	if (status == 101) {
		return upgrade(w, &u, (size_t)head);
	}
	if (status == 503) {
		log_info("a TUI was refused: the session is ending");
	} else if (status != 401) {
		proxy_admit_refused(w->c->p, status == 403
		                                     ? "a browser's request (it has an Origin)"
		                                     : "not a WebSocket upgrade request");
	}
	proxy_ws_wipe_head(w);
	return refuse(w, status);
}

/* The app-server's answer to our upgrade request; the bytes after it are already frames. */
int proxy_hs_response(struct wsend *w, const unsigned char *in, size_t n)
{
	struct proxy_conn *c = w->c;
	int status = 0, r;
	long head;

	if (buf_append(&w->head, in, n) < 0) {
		snprintf(w->why, sizeof(w->why), "the app-server's upgrade response is too large");
		return -1;
	}
	head = wsframe_response(w->head.data, w->head.len, w->key, &status);
	if (head == -EAGAIN) {
		return 0;
	}
	if (head < 0) {
		snprintf(w->why, sizeof(w->why), "the app-server refused the upgrade (HTTP %d)",
		         status);
		return -1;
	}
	ev_timer_stop(w->c->p->ev, &w->tm);
	w->state = WS_OPEN;
	w->opened = true;
	proxy_relay_up_open(c);
	r = proxy_ws_frames(w, (unsigned char *)w->head.data + head, w->head.len - (size_t)head);
	buf_release(&w->head);
	buf_init(&w->head, PROXY_HEAD_MAX);
	return r;
}

void proxy_hs_connected(struct wsend *w)
{
	struct proxy_conn *c = w->c;
	char *auth, *req;
	unsigned char *o;
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(w->io.fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) {
		err = errno;
	}
	if (err) {
		proxy_ws_kill(c, SIDE_UP, strerror(err));
		return;
	}
	auth = util_printf("Authorization: %s\r\n", c->p->bearer);
	req = auth && wsframe_new_key(w->key) == 0
	              ? wsframe_request(c->p->cfg.upstream_path ? "localhost" : "127.0.0.1",
	                                c->p->cfg.upstream_path ? 0 : c->p->cfg.upstream_port, "/",
	                                w->key, auth)
	              : NULL;
	util_free_secret(auth);
	o = req ? proxy_ws_out_room(w, strlen(req)) : NULL;
	if (!o) {
		util_free_secret(req);
		proxy_ws_kill(c, SIDE_UP, "out of memory");
		return;
	}
	memcpy(o, req, strlen(req));
	w->out_len += strlen(req);
	w->wipe_out = true;
	util_free_secret(req);
	w->state = WS_HANDSHAKE;
	proxy_ws_flush(c, SIDE_UP);
}
