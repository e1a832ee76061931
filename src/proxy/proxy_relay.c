/*
 * The relay of one conn: messages from one side are streamed into the other side's queue,
 * classified from their first bytes, and reassembled only when a hook wants them. Closing is
 * asynchronous (the close frame follows what is queued; sockets close from a zero timer), and a
 * conn is freed only once both of its sides are gone.
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

/* Pause a source when this much waits toward its destination (or max_queued / 4 if lower). */
#define PAUSE_BYTES  (1024 * 1024)
#define RESUME_BYTES (256 * 1024)
/* A close that never gets a writable slot (the peer stopped reading) is forced after this. */
#define CLOSE_FALLBACK_SECS 10
/* The reassembly buffer's limit: an intercepted message plus one receive chunk of slack. */
#define ACC_MAX (PROXY_INTERCEPT_MAX + JSONRPC_SCAN_MAX + 4 * PROXY_TX_CHUNK)

static const char *side_name(int side)
{
	return side == SIDE_DOWN ? "client" : "app-server";
}

static void set_info(struct close_info *ci, int code, const char *reason, size_t len)
{
	if (len > PROXY_REASON_MAX) {
		len = PROXY_REASON_MAX;
	}
	ci->set = true;
	ci->code = code;
	memcpy(ci->reason, reason, len);
	ci->reason[len] = '\0';
}

static bool side_is_ws(const struct proxy_conn *c, int side)
{
	return c->ws[side].state == WS_OPEN;
}

struct proxy_conn *proxy_relay_new(struct proxy *p, bool control)
{
	struct proxy_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		return NULL;
	}
	c->p = p;
	c->control = control;
	for (int s = 0; s < 2; s++) {
		proxy_ws_init(c, s);
		wsq_init(&c->q[s]);
		buf_init(&c->rx[s].acc, ACC_MAX);
	}
	c->next = p->conns;
	p->conns = c;
	return c;
}

void proxy_relay_free(struct proxy_conn *c)
{
	struct proxy *p = c->p;

	if (c->opened && !p->destroying && p->cfg.hooks && p->cfg.hooks->conn_closed) {
		p->cfg.hooks->conn_closed(p->cfg.hooks_ctx, c);
	}
	for (struct proxy_conn **pp = &p->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (p->control == c) {
		p->control = NULL;
	}
	ev_timer_stop(p->ev, &c->retry);
	for (int s = 0; s < 2; s++) {
		proxy_ws_release(c, s);
		wsq_release(&c->q[s]);
		buf_release(&c->rx[s].acc);
	}
	free(c);
}

void proxy_relay_maybe_free(struct proxy_conn *c)
{
	if (proxy_ws_live(c, SIDE_DOWN) || proxy_ws_live(c, SIDE_UP) || c->retry_pending) {
		return;
	}
	proxy_relay_free(c);
}

/* Whether the socket toward side refused bytes that now wait for EPOLLOUT. */
static bool side_full(const struct proxy_conn *c, int side)
{
	const struct wsend *w = &c->ws[side];

	return w->out_len > w->out_off && !w->gathering;
}

/* Pauses the source side while its destination's socket is full or its queue is above the
 * high watermark (or, for the TUI, while the upstream is not established), and resumes it
 * once the socket took everything and the queue is below the low one. */
static void relay_flow(struct proxy_conn *c, int src)
{
	size_t bytes = wsq_bytes(&c->q[!src]);
	size_t high = c->p->cfg.max_queued / 4, low = c->p->cfg.max_queued / 16;

	/* Kernel socket buffers keep the pipe full; a deeper queue only costs memory. */
	high = high < PAUSE_BYTES ? high : PAUSE_BYTES;
	low = low < RESUME_BYTES ? low : RESUME_BYTES;
	/* A full socket pauses at once: what is read meanwhile would be copied into the queue,
	 * while the kernel's buffers hold it for free. */
	bool blocked = (src == SIDE_DOWN && !side_is_ws(c, SIDE_UP)) || side_full(c, !src);
	bool paused = c->ws[src].paused;

	if (!side_is_ws(c, src) || c->closing[src].set) {
		return;
	}
	if (!paused && (blocked || bytes > high)) {
		proxy_ws_pause(c, src, true);
	} else if (paused && !blocked && bytes < low) {
		proxy_ws_pause(c, src, false);
	}
}

void proxy_relay_close_side(struct proxy_conn *c, int side, int code, const char *reason)
{
	if (!proxy_ws_live(c, side) || c->closing[side].set) {
		return;
	}
	set_info(&c->closing[side], code, reason, strlen(reason));
	if (!side_is_ws(c, side)) {
		proxy_ws_kill(c, side, reason); /* a handshake has no close frame */
		return;
	}
	/* A paused side would never read the peer's close reply. */
	if (c->ws[side].paused) {
		proxy_ws_pause(c, side, false);
	}
	proxy_ws_deadline(c, side, CLOSE_FALLBACK_SECS);
	proxy_ws_flush(c, side);
}

/* The peer of dst stopped reading while traffic piled up: drop what is queued and close it. */
static void overflow(struct proxy_conn *c, int dst)
{
	log_warn("closing the %s connection: it does not read (more than %zu bytes queued)",
	         side_name(dst), c->p->cfg.max_queued);
	wsq_release(&c->q[dst]);
	proxy_relay_close_side(c, dst, WSFRAME_CLOSE_POLICY, "send queue overflow");
}

static int after_push(struct proxy_conn *c, int dst)
{
	if (wsq_bytes(&c->q[dst]) > c->p->cfg.max_queued) {
		overflow(c, dst);
		return -ENOBUFS;
	}
	/* Written when the read that brought it is used up: a burst goes out in few sends. */
	c->flush[dst] = true;
	relay_flow(c, !dst);
	return 0;
}

void proxy_relay_flush(struct proxy_conn *c)
{
	for (int s = 0; s < 2; s++) {
		/* Written at once, so a message crosses the proxy in one loop iteration. */
		if (c->flush[s]) {
			c->flush[s] = false;
			proxy_ws_flush(c, s);
		}
	}
}

static void out_of_memory(struct proxy_conn *c)
{
	log_error("out of memory relaying a message: closing the session");
	proxy_relay_close_side(c, SIDE_DOWN, WSFRAME_CLOSE_UNEXPECTED, "out of memory");
	proxy_relay_close_side(c, SIDE_UP, WSFRAME_CLOSE_UNEXPECTED, "out of memory");
}

/* Passes one fragment of the message being read from src toward the other side, or queues it
 * when something waits before it. mask: how data is still masked, NULL when plain; lent: data
 * is in the read's buffer (it may be sent from there), not in the reassembly buffer. */
static void forward(struct proxy_conn *c, int src, const void *data, size_t len, bool final,
                    const unsigned char *mask, bool lent)
{
	struct rxstate *rx = &c->rx[src];
	int dst = !src, r;
	bool first = !rx->started;
	struct wsq_frame fr = {.op = !first       ? WSFRAME_CONT
	                             : rx->binary ? WSFRAME_BINARY
	                                          : WSFRAME_TEXT,
	                       .fin = final,
	                       .masked = mask != NULL};

	/* An empty slice that does not end its message carries nothing: nothing to queue. */
	if (!len && !final) {
		return;
	}
	rx->started = true;
	if (!proxy_ws_live(c, dst) || c->closing[dst].set) {
		return; /* nobody will read it */
	}
	if (mask) {
		memcpy(fr.mask, mask, 4);
	}
	if (proxy_ws_pass(c, dst, data, len, lent, &fr)) {
		wsq_bypass(&c->q[dst], final);
		c->flush[dst] = c->flush[dst] || wsq_ready(&c->q[dst]);
		return;
	}
	r = mask ? wsq_push_masked(&c->q[dst], data, len, mask, rx->binary, first, final)
	         : wsq_push_fragment(&c->q[dst], data, len, rx->binary, first, final);
	if (r < 0) {
		out_of_memory(c);
		return;
	}
	after_push(c, dst);
}

/* The mask of a slice, NULL when it is plain. */
static const unsigned char *mask_of(const struct wsframe_event *ev)
{
	return ev->masked ? ev->mask : NULL;
}

/* Appends a slice to the reassembly buffer, unmasked there (the slice itself is left as is). */
static int acc_append(struct rxstate *rx, const struct wsframe_event *ev)
{
	size_t at = rx->acc.len;
	int r = buf_append(&rx->acc, ev->data, ev->len);

	if (r == 0 && ev->masked) {
		wsframe_mask((unsigned char *)rx->acc.data + at, ev->len, ev->mask);
	}
	return r;
}

static bool in_list(const char *const *list, const char *s)
{
	/* Every message's method passes here: the first byte rules out most names cheaply. */
	for (; list && *list; list++) {
		if ((*list)[0] == s[0] && strcmp(*list, s) == 0) {
			return true;
		}
	}
	return false;
}

static int watched(const struct proxy_conn *c, const struct jsonrpc_head *h)
{
	if (!h->id[0] || h->id_truncated) {
		return -1;
	}
	for (unsigned i = 0; i < c->nwatch; i++) {
		if (strcmp(c->watch[i], h->id) == 0) {
			return (int)i;
		}
	}
	return -1;
}

static void watch_add(struct proxy_conn *c, const struct jsonrpc_head *h)
{
	if (!h->id[0] || h->id_truncated || watched(c, h) >= 0) {
		return;
	}
	if (c->nwatch == PROXY_WATCH_MAX) { /* a response that never came: forget the oldest */
		memmove(c->watch[0], c->watch[1], sizeof(c->watch[0]) * (PROXY_WATCH_MAX - 1));
		c->nwatch--;
	}
	memcpy(c->watch[c->nwatch++], h->id, sizeof(c->watch[0]));
}

static void watch_remove(struct proxy_conn *c, const struct jsonrpc_head *h)
{
	int i = watched(c, h);

	if (i >= 0) {
		memmove(c->watch[i], c->watch[i + 1],
		        sizeof(c->watch[0]) * (c->nwatch - (unsigned)i - 1));
		c->nwatch--;
	}
}

static bool intercepted(const struct proxy_conn *c, int src, const struct jsonrpc_head *h)
{
	const struct proxy_config *cfg = &c->p->cfg;
	bool has_method = h->method[0] && !h->method_truncated;

	if (src == SIDE_DOWN) {
		return has_method && in_list(cfg->client_methods, h->method);
	}
	if (has_method) {
		return in_list(cfg->server_methods, h->method);
	}
	if (cfg->internal_id_prefix && jsonrpc_id_has_prefix(h, cfg->internal_id_prefix)) {
		return true;
	}
	return c->nwatch && watched(c, h) >= 0;
}

/* Hands a reassembled message to its hook, then forwards it unless the hook dropped it.
 * Messages the hook injects toward the destination wait until the trigger is queued. */
static void deliver(struct proxy_conn *c, int src)
{
	const struct proxy_hooks *hk = c->p->cfg.hooks;
	struct rxstate *rx = &c->rx[src];
	enum proxy_verdict v = PROXY_FORWARD;
	struct jsonrpc_head h;
	int dst = !src;
	enum proxy_verdict (*fn)(void *, struct proxy_conn *, const struct jsonrpc_head *,
	                         const char *, size_t) = NULL;

	jsonrpc_scan(rx->acc.data, rx->acc.len, true, &h);
	if (hk) {
		fn = src == SIDE_UP ? hk->server_message : hk->client_message;
	}
	if (src == SIDE_UP && h.kind == JSONRPC_RESPONSE) {
		watch_remove(c, &h);
	}
	wsq_hold(&c->q[dst]);
	if (fn) {
		v = fn(c->p->cfg.hooks_ctx, c, &h, rx->acc.data, rx->acc.len);
	}
	if (v == PROXY_FORWARD_WATCH_RESPONSE) {
		if (src == SIDE_DOWN && h.kind == JSONRPC_REQUEST) {
			watch_add(c, &h);
		}
		v = PROXY_FORWARD;
	}
	if (v == PROXY_FORWARD && !c->control) {
		forward(c, src, rx->acc.data, rx->acc.len, true, NULL, false);
	}
	wsq_unhold(&c->q[dst]);
	c->flush[dst] = true;
}

/* Streams what was collected so far and the current chunk: the message is not intercepted. */
static void give_up(struct proxy_conn *c, int src, const struct wsframe_event *ev)
{
	struct rxstate *rx = &c->rx[src];

	rx->mode = RX_STREAM;
	forward(c, src, rx->acc.data, rx->acc.len, false, NULL, false);
	buf_reset(&rx->acc);
	forward(c, src, ev->data, ev->len, ev->final, mask_of(ev), true);
}

/* Bytes of a masked slice unmasked on the stack to classify it before anything is copied: the
 * ids and methods codex writes first fit. */
#define HEAD_PEEK 512

/* Whether the message is decided, and not intercepted, from its first slice alone: classified
 * where it lies when plain, from an unmasked copy of its first bytes when masked. */
static bool streams_at_once(struct proxy_conn *c, int src, const struct wsframe_event *ev)
{
	unsigned char tmp[HEAD_PEEK];
	const unsigned char *p = ev->data;
	size_t n = ev->len;
	bool final = ev->final;
	struct jsonrpc_head h;

	if (ev->masked) {
		n = n < HEAD_PEEK ? n : HEAD_PEEK;
		final = final && n == ev->len;
		memcpy(tmp, p, n);
		wsframe_mask(tmp, n, ev->mask);
		p = tmp;
	}
	return jsonrpc_scan((const char *)p, n, final, &h) == 0 && !intercepted(c, src, &h);
}

static void on_head(struct proxy_conn *c, int src, const struct wsframe_event *ev)
{
	struct rxstate *rx = &c->rx[src];
	bool alone = !rx->acc.len;
	struct jsonrpc_head h;
	int r;

	/* Most messages are decided from their first slice: their bytes go on untouched. */
	if (alone && streams_at_once(c, src, ev)) {
		rx->mode = RX_STREAM;
		forward(c, src, ev->data, ev->len, ev->final, mask_of(ev), true);
		return;
	}
	if (acc_append(rx, ev) < 0) {
		give_up(c, src, ev);
		return;
	}
	r = jsonrpc_scan(rx->acc.data, rx->acc.len, ev->final, &h);
	if (r == -EAGAIN && rx->acc.len < JSONRPC_SCAN_MAX) {
		return;
	}
	if (r == 0 && intercepted(c, src, &h)) {
		rx->mode = RX_ASSEMBLE;
		if (ev->final) {
			deliver(c, src);
		}
		return;
	}
	rx->mode = RX_STREAM;
	if (alone) {
		forward(c, src, ev->data, ev->len, ev->final, mask_of(ev), true);
	} else {
		forward(c, src, rx->acc.data, rx->acc.len, ev->final, NULL, false);
	}
	buf_reset(&rx->acc);
}

static void on_assemble(struct proxy_conn *c, int src, const struct wsframe_event *ev)
{
	struct rxstate *rx = &c->rx[src];

	if (rx->acc.len + ev->len <= PROXY_INTERCEPT_MAX && acc_append(rx, ev) == 0) {
		if (ev->final) {
			deliver(c, src);
		}
		return;
	}
	if (c->control) {
		log_warn("dropping a message larger than %d bytes on the control connection",
		         PROXY_INTERCEPT_MAX);
		rx->mode = RX_DISCARD;
		buf_reset(&rx->acc);
		return;
	}
	log_info("forwarding an intercepted message unmodified: larger than %d bytes",
	         PROXY_INTERCEPT_MAX);
	give_up(c, src, ev);
}

static void rx_start(struct proxy_conn *c, int src, bool binary)
{
	struct rxstate *rx = &c->rx[src];

	rx->binary = binary;
	rx->started = false;
	rx->total = 0;
	buf_reset(&rx->acc);
	if (rx->binary) {
		rx->mode = c->control ? RX_DISCARD : RX_STREAM;
	} else {
		rx->mode = c->control ? RX_ASSEMBLE : RX_HEAD;
	}
}

static void rx_end(struct rxstate *rx)
{
	rx->mode = RX_IDLE;
	/* One big intercepted message must not pin its buffer for the rest of the session. */
	if (rx->acc.cap > 2 * JSONRPC_SCAN_MAX) {
		buf_release(&rx->acc);
		buf_init(&rx->acc, ACC_MAX);
	} else {
		buf_reset(&rx->acc);
	}
}

static void too_large(struct proxy_conn *c, int src)
{
	static const char reason[] = "message too large";

	log_warn("closing the %s connection: a message is larger than %zu bytes", side_name(src),
	         c->p->cfg.max_message);
	set_info(&c->gone[src], WSFRAME_CLOSE_TOO_LARGE, reason, sizeof(reason) - 1);
	rx_end(&c->rx[src]);
	/* The close frames follow what is queued; the rest of the message is dropped. */
	c->rx[src].discard = true;
	proxy_relay_close_side(c, src, WSFRAME_CLOSE_TOO_LARGE, reason);
	proxy_relay_close_side(c, !src, WSFRAME_CLOSE_TOO_LARGE, reason);
}

void proxy_relay_fail(struct proxy_conn *c, int side, int code, const char *reason)
{
	static const char down[] = "client broke the WebSocket protocol",
	                  up[] = "app-server broke the WebSocket protocol";

	rx_end(&c->rx[side]);
	c->rx[side].discard = true;
	if (code == WSFRAME_CLOSE_TOO_LARGE) {
		log_warn("closing the %s connection: %s", side_name(side), reason);
		set_info(&c->gone[side], code, reason, strlen(reason)); /* as too_large() */
	} else if (side == SIDE_DOWN) {
		set_info(&c->gone[side], WSFRAME_CLOSE_GOING_AWAY, down, sizeof(down) - 1);
	} else {
		set_info(&c->gone[side], WSFRAME_CLOSE_UNEXPECTED, up, sizeof(up) - 1);
	}
	if (c->ws[side].close_sent) {
		proxy_ws_kill(c, side, NULL);
		return;
	}
	wsq_release(&c->q[side]);
	c->closing[side].set = false;
	proxy_relay_close_side(c, side, code, reason);
}

void proxy_relay_receive(struct proxy_conn *c, int src, const struct wsframe_event *ev)
{
	struct rxstate *rx = &c->rx[src];

	if (rx->discard) {
		return;
	}
	if (rx->mode == RX_IDLE) {
		rx_start(c, src, ev->op == WSFRAME_BINARY);
	}
	rx->total += ev->len;
	if (rx->total > c->p->cfg.max_message) {
		too_large(c, src);
		return;
	}
	switch (rx->mode) {
	case RX_STREAM:
		forward(c, src, ev->data, ev->len, ev->final, mask_of(ev), true);
		break;
	case RX_HEAD:
		on_head(c, src, ev);
		break;
	case RX_ASSEMBLE:
		on_assemble(c, src, ev);
		break;
	default:
		break;
	}
	if (ev->final) {
		rx_end(rx);
	}
}

void proxy_relay_wrote(struct proxy_conn *c, int side)
{
	relay_flow(c, !side);
}

/* Reserved codes must never be sent: no status -> 1000, abnormal closure -> 1011. */
static int map_close_code(int code)
{
	if (code == 1006 || code == 1015) {
		return WSFRAME_CLOSE_UNEXPECTED;
	}
	if (code < 1000 || code == 1004 || code == 1005 || (code > 1014 && code < 3000) ||
	    code > 4999) {
		return WSFRAME_CLOSE_NORMAL;
	}
	return code;
}

void proxy_relay_peer_close(struct proxy_conn *c, int side, const void *in, size_t len)
{
	const unsigned char *b = in;
	int code = 1005;
	size_t rlen = 0;
	const char *reason = "";

	if (len >= 2) {
		code = b[0] << 8 | b[1];
		reason = (const char *)b + 2;
		rlen = strnlen(reason, len - 2);
	}
	set_info(&c->gone[side], map_close_code(code), reason, rlen);
	proxy_relay_close_side(c, !side, c->gone[side].code, c->gone[side].reason);
}

void proxy_relay_side_gone(struct proxy_conn *c, int side)
{
	int other = !side;
	struct close_info *g = &c->gone[side];

	if (!c->p->destroying) {
		log_info("%s%s connection closed (%d %s)", c->control ? "control " : "",
		         side_name(side), g->set ? g->code : 1006,
		         g->set ? g->reason : "no close frame");
	}
	wsq_release(&c->q[side]);
	rx_end(&c->rx[side]);
	if (!c->p->destroying && proxy_ws_live(c, other) && !c->closing[other].set) {
		if (g->set) {
			proxy_relay_close_side(c, other, g->code, g->reason);
		} else if (side == SIDE_UP) {
			proxy_relay_close_side(c, other, WSFRAME_CLOSE_UNEXPECTED,
			                       "app-server connection lost");
		} else {
			proxy_relay_close_side(c, other, WSFRAME_CLOSE_GOING_AWAY,
			                       "client went away");
		}
	}
	proxy_relay_maybe_free(c);
}

void proxy_relay_down_open(struct proxy_conn *c)
{
	int r;

	/* Nothing can be relayed before the upstream is there. */
	relay_flow(c, SIDE_DOWN);
	r = proxy_ws_connect(c);
	if (r < 0) {
		proxy_relay_up_error(c, strerror(-r));
	}
}

void proxy_relay_up_open(struct proxy_conn *c)
{
	const struct proxy_hooks *hk = c->p->cfg.hooks;

	if (c->closing[SIDE_UP].set) {
		proxy_ws_flush(c, SIDE_UP);
		return;
	}
	relay_flow(c, SIDE_DOWN);
	proxy_ws_flush(c, SIDE_UP);
	c->opened = true;
	if (hk && hk->conn_opened) {
		hk->conn_opened(c->p->cfg.hooks_ctx, c);
	}
}

void proxy_relay_up_error(struct proxy_conn *c, const char *why)
{
	if (c->control && !c->opened) {
		proxy_control_connect_failed(c, why);
		return;
	}
	if (!c->opened) {
		log_warn("cannot connect to the app-server: %s", why);
	}
	if (!c->gone[SIDE_UP].set) {
		set_info(&c->gone[SIDE_UP], WSFRAME_CLOSE_UNEXPECTED,
		         "cannot connect to app-server", 28);
	}
	proxy_relay_side_gone(c, SIDE_UP);
}

static int send_to(struct proxy_conn *c, int dst, const char *json, size_t len)
{
	int r;

	if (!c || !side_is_ws(c, dst) || c->closing[dst].set) {
		return -ENOTCONN;
	}
	if (len > c->p->cfg.max_message) {
		return -E2BIG;
	}
	r = wsq_push_message(&c->q[dst], json, len, false);
	if (r < 0) {
		return r;
	}
	r = after_push(c, dst);
	proxy_relay_flush(c);
	return r;
}

int proxy_send_to_server(struct proxy_conn *c, const char *json, size_t len)
{
	return send_to(c, SIDE_UP, json, len);
}

int proxy_send_to_client(struct proxy_conn *c, const char *json, size_t len)
{
	return send_to(c, SIDE_DOWN, json, len);
}

void proxy_conn_close(struct proxy_conn *c, int code, const char *reason)
{
	proxy_relay_close_side(c, SIDE_DOWN, code, reason);
	proxy_relay_close_side(c, SIDE_UP, code, reason);
}

bool proxy_conn_is_control(const struct proxy_conn *c)
{
	return c && c->control;
}
