/*
 * The proxy's lws context: the TUI listener (auth at the upgrade), the upstream client vhost,
 * watched fds, wake-ups and the control connection. The relay itself is in proxy_relay.c.
 */
#include "proxy_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define PROXY_RX_BUF     (64 * 1024)
#define FD_LIMIT         256
#define HEADER_DATA      8192
#define BACKOFF_FIRST_MS 2
#define BACKOFF_MAX_MS   250

static const char *const fd_protocol = "codex-switch-fd";

static struct proxy *cx_proxy(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void lws_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
		n--;
	}
	log_msg(level == LLL_ERR    ? LOG_ERROR
	        : level == LLL_WARN ? LOG_WARN
	                            : LOG_DEBUG,
	        "lws: %.*s", (int)n, line);
}

/* "Bearer <token>": the scheme is case-insensitive, whitespace around the token is ignored. */
static bool bearer_ok(const struct proxy *p, const char *h, size_t n)
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

static int reject(struct lws *wsi, unsigned status)
{
	lws_return_http_status(wsi, status, NULL);
	return 1;
}

/* lws 4.1: only HTTP_CONFIRM_UPGRADE can still answer with a real HTTP status. */
static int check_upgrade(struct proxy *p, struct lws *wsi, const char *in)
{
	char hdr[1024];
	int n;

	if (!in || strcmp(in, "websocket") != 0) {
		return reject(wsi, HTTP_STATUS_BAD_REQUEST);
	}
	/* Browsers always send Origin and cannot set Authorization: refuse them outright. */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
		return reject(wsi, HTTP_STATUS_FORBIDDEN);
	}
	n = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0 || !bearer_ok(p, hdr, (size_t)n)) {
		log_info("refused a client connection: missing or wrong bearer token");
		return reject(wsi, HTTP_STATUS_UNAUTHORIZED);
	}
	return 0;
}

static int down_established(struct proxy *p, struct lws *wsi)
{
	struct proxy_conn *c = proxy_relay_new(p, false);

	if (!c) {
		return -1;
	}
	c->wsi[SIDE_DOWN] = wsi;
	lws_set_opaque_user_data(wsi, c);
	log_info("client connected; connecting to the app-server");
	/* Nothing can be relayed before the upstream is there. */
	lws_rx_flow_control(wsi, 0);
	c->rx_paused[SIDE_DOWN] = true;
	if (proxy_up_connect(c) < 0) {
		proxy_relay_up_error(c, "connect failed");
	}
	return 0;
}

static int down_receive(struct proxy_conn *c, struct lws *wsi, void *in, size_t len)
{
	int r = proxy_relay_receive(c, SIDE_DOWN, in, len, lws_frame_is_binary(wsi),
	                            lws_is_final_fragment(wsi));

	proxy_relay_flush(c);
	return r;
}

static int down_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
	struct proxy_conn *c = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return check_upgrade(cx_proxy(wsi), wsi, in);
	case LWS_CALLBACK_ESTABLISHED:
		return down_established(cx_proxy(wsi), wsi);
	case LWS_CALLBACK_RECEIVE:
		return c ? down_receive(c, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? proxy_relay_writeable(c, SIDE_DOWN, wsi) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c) {
			proxy_relay_peer_close(c, SIDE_DOWN, in, len);
		}
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c) {
			lws_set_opaque_user_data(wsi, NULL);
			proxy_relay_side_gone(c, SIDE_DOWN);
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static struct proxy_watch *find_watch(struct proxy *p, int fd)
{
	for (struct proxy_watch *w = p->watches; w; w = w->next) {
		if (w->fd == fd && !w->unwatched) {
			return w;
		}
	}
	return NULL;
}

static void fd_notify(struct proxy *p, struct proxy_watch *w)
{
	const struct proxy_hooks *hk = p->cfg.hooks;

	if (p->destroying || w->unwatched || !hk || !hk->fd_ready) {
		return;
	}
	w->in_callback = true;
	hk->fd_ready(p->cfg.hooks_ctx, w->fd, w->ctx);
	w->in_callback = false;
}

static void fd_closed(struct proxy *p, struct proxy_watch *w)
{
	/* lws closes a hung-up fd on its own: let the owner see the EOF once. */
	fd_notify(p, w);
	for (struct proxy_watch **pp = &p->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w);
}

static int fd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct proxy *p = cx_proxy(wsi);
	struct proxy_watch *w = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!w) {
			return -1;
		}
		fd_notify(p, w);
		return w->unwatched ? -1 : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (w) {
			lws_set_opaque_user_data(wsi, NULL);
			fd_closed(p, w);
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* Broadcast to every protocol of every vhost: handled here only, always 0. */
		if (p && !p->destroying && p->cfg.hooks && p->cfg.hooks->wakeup) {
			p->cfg.hooks->wakeup(p->cfg.hooks_ctx);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols down_protocols[] = {
        {.name = "codex-switch-proxy",
         .callback = down_cb,
         .rx_buffer_size = PROXY_RX_BUF,
         .tx_packet_size = PROXY_TX_CHUNK},
        {.name = NULL},
};

static const struct lws_protocols up_protocols[] = {
        {.name = "codex-switch-up",
         .callback = proxy_up_callback,
         .rx_buffer_size = PROXY_RX_BUF,
         .tx_packet_size = PROXY_TX_CHUNK},
        {.name = "codex-switch-fd", .callback = fd_cb},
        {.name = NULL},
};

static int create_vhosts(struct proxy *p)
{
	struct lws_context_creation_info vi;

	memset(&vi, 0, sizeof(vi));
	vi.vhost_name = "down";
	vi.iface = "127.0.0.1";
	vi.port = 0;
	/* lws 4.1.6: without DISABLE_IPV6, iface 127.0.0.1 binds every interface. */
	vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	vi.protocols = down_protocols;
	p->down_vh = lws_create_vhost(p->cx, &vi);
	if (!p->down_vh) {
		return -EADDRNOTAVAIL;
	}
	p->port = lws_get_vhost_listen_port(p->down_vh);
	memset(&vi, 0, sizeof(vi));
	vi.vhost_name = "up";
	vi.port = CONTEXT_PORT_NO_LISTEN;
	vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	vi.protocols = up_protocols;
	p->up_vh = lws_create_vhost(p->cx, &vi);
	return p->up_vh ? 0 : -ENOMEM;
}

static int create_context(struct proxy *p)
{
	struct lws_context_creation_info info;
	int levels = LLL_ERR | LLL_WARN;

	if (log_stderr_level() >= LOG_DEBUG) {
		levels |= LLL_NOTICE;
	}
	lws_set_log_level(levels, lws_emit);
	memset(&info, 0, sizeof(info));
	/* Without EXPLICIT_VHOSTS a zeroed info listens on a random port on every interface. */
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.pt_serv_buf_size = PROXY_RX_BUF;
	info.fd_limit_per_thread = FD_LIMIT;
	info.max_http_header_data = HEADER_DATA;
	info.gid = -1;
	info.uid = -1;
	info.user = p;
	p->cx = lws_create_context(&info);
	if (!p->cx) {
		return -ENOMEM;
	}
	return create_vhosts(p);
}

struct proxy *proxy_create(const struct proxy_config *cfg)
{
	struct proxy *p;
	int r;

	if (!cfg->token || !cfg->token[0] || cfg->max_message == 0 || cfg->max_queued < 16) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		return NULL;
	}
	p->cfg = *cfg;
	p->bearer = util_printf("Bearer %s", cfg->token);
	if (!p->bearer) {
		free(p);
		return NULL;
	}
	log_add_secret(cfg->token);
	p->txbuf = malloc(LWS_PRE + PROXY_TX_CHUNK);
	r = p->txbuf ? create_context(p) : -ENOMEM;
	if (r < 0) {
		log_error("cannot start the proxy listener on 127.0.0.1: %s", strerror(-r));
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
	for (struct proxy_conn *c = p->conns; c; c = c->next) {
		lws_sul_cancel(&c->sul);
		c->retry_pending = false;
	}
	/* CLOSED callbacks run inside: the conns must still exist then. */
	if (p->cx) {
		lws_context_destroy(p->cx);
	}
	while (p->conns) {
		proxy_relay_free(p->conns);
	}
	while (p->watches) {
		struct proxy_watch *w = p->watches;

		p->watches = w->next;
		free(w);
	}
	util_free_secret(p->bearer);
	free(p->txbuf);
	free(p);
}

int proxy_port(const struct proxy *p)
{
	return p->port;
}

struct lws_context *proxy_context(struct proxy *p)
{
	return p->cx;
}

int proxy_run_once(struct proxy *p)
{
	return lws_service(p->cx, 0);
}

void proxy_wake(struct proxy *p)
{
	lws_cancel_service(p->cx);
}

int proxy_watch_fd(struct proxy *p, int fd, void *fd_ctx)
{
	struct proxy_watch *w = calloc(1, sizeof(*w));
	lws_adopt_desc_t d;

	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	w->fd = fd;
	w->ctx = fd_ctx;
	w->next = p->watches;
	p->watches = w;
	memset(&d, 0, sizeof(d));
	d.vh = p->up_vh;
	d.type = LWS_ADOPT_RAW_FILE_DESC;
	d.fd.filefd = fd;
	d.vh_prot_name = fd_protocol;
	d.opaque = w;
	w->wsi = lws_adopt_descriptor_vhost_via_info(&d);
	if (!w->wsi) {
		/* lws 4.1 does not close a file descriptor it failed to adopt. */
		p->watches = w->next;
		free(w);
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

void proxy_unwatch_fd(struct proxy *p, int fd)
{
	struct proxy_watch *w = find_watch(p, fd);

	if (!w) {
		return;
	}
	w->unwatched = true;
	/* Inside its own callback the return value closes it; elsewhere lws kills it soon. */
	if (!w->in_callback && w->wsi) {
		lws_set_timeout(w->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	}
}

static void control_attempt(struct proxy_conn *c)
{
	if (proxy_up_connect(c) < 0) {
		proxy_control_connect_failed(c, "connection refused");
	}
}

static void control_retry(lws_sorted_usec_list_t *sul)
{
	struct proxy_conn *c = lws_container_of(sul, struct proxy_conn, sul);

	c->retry_pending = false;
	control_attempt(c);
}

void proxy_control_connect_failed(struct proxy_conn *c, const char *why)
{
	struct proxy *p = c->p;
	const struct proxy_hooks *hk = p->cfg.hooks;
	lws_usec_t delay = (lws_usec_t)c->backoff_ms * 1000;
	char msg[160];

	c->wsi[SIDE_UP] = NULL;
	if (!c->closing[SIDE_UP].set && !p->destroying &&
	    lws_now_usecs() + delay < c->deadline_us) {
		c->retry_pending = true;
		lws_sul_schedule(p->cx, 0, &c->sul, control_retry, delay);
		c->backoff_ms =
		        c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
		return;
	}
	snprintf(msg, sizeof(msg), "cannot connect to the app-server on 127.0.0.1:%d: %s",
	         p->cfg.upstream_port, why);
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
	c->deadline_us = lws_now_usecs() + (lws_usec_t)deadline_ms * 1000;
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
		if (!c->control && c->wsi[SIDE_DOWN]) {
			proxy_send_to_client(c, json, len);
		}
	}
}

size_t proxy_client_count(const struct proxy *p)
{
	size_t n = 0;

	for (const struct proxy_conn *c = p->conns; c; c = c->next) {
		n += !c->control && c->wsi[SIDE_DOWN];
	}
	return n;
}

void proxy_close_clients(struct proxy *p, int code, const char *reason)
{
	for (struct proxy_conn *c = p->conns; c; c = c->next) {
		if (!c->control) {
			proxy_relay_close_side(c, SIDE_DOWN, code, reason);
		}
	}
}
