/*
 * The benchmark's app-server: checks the Bearer token like `codex app-server --ws-auth
 * capability-token`, answers `initialize` and `account/login/start` (so `codex-switch run`
 * starts its TUI), and otherwise:
 *   bench/ping          a ~200-byte response with the request's id
 *   bench/burst {n}     n item/agentMessage/delta notifications, then bench/burstDone
 *   bench/usageLimit    a usage-limit `error` notification; when the next account/login/start
 *                       arrives (on any connection), bench/swap {ns} tells the asker how long
 *                       that took
 *   anything else       echoed back, a large message fragment by fragment as it streams in
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "proxy/jsonrpc.h"
#include "proxy/wsq.h"

#define SMALL_MAX (4 * 1024)
#define Q_HIGH    (8 * 1024 * 1024)
#define Q_LOW     (2 * 1024 * 1024)

struct econn {
	struct econn *next;
	struct lws *wsi;
	struct wsq q;
	bool paused;
	long burst_left;
	bool done_pending; /* bench/burstDone after the burst */
	bool err_pending;
	bool thread_told; /* thread/started sent before the first usage-limit error */
};

static const char *token;
static struct econn *conns;
static int64_t err_sent_ns;
static struct econn *swap_asker;

static const char delta[] = "{\"method\":\"item/agentMessage/delta\",\"params\":{\"threadId\":"
                            "\"thr_bench\",\"turnId\":\"turn_bench\",\"itemId\":\"msg_bench\","
                            "\"delta\":\"token \"}}";
/* Like codex before a thread's first turn: the session shows its switch notice only once the
 * TUI has a thread on screen (src/session/notice.h), and the swap client waits for it. */
static const char thread_started[] =
        "{\"method\":\"thread/started\",\"params\":{\"thread\":{\"id\":\"thr_bench\","
        "\"ephemeral\":false}}}";
static const char usage_error[] =
        "{\"method\":\"error\",\"params\":{\"error\":{\"message\":\"You've hit your usage "
        "limit.\",\"codexErrorInfo\":\"usageLimitExceeded\",\"additionalDetails\":null},"
        "\"willRetry\":false,\"threadId\":\"thr_bench\",\"turnId\":\"turn_bench\"}}";

static int check_auth(struct lws *wsi)
{
	char hdr[600], want[600];
	int n;

	if (!token) {
		return 0; /* a unix socket: like codex, its directory's permissions are the check */
	}
	n = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION);
	snprintf(want, sizeof(want), "Bearer %s", token);
	if (n <= 0 || strcmp(hdr, want) != 0) {
		lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, NULL);
		return 1;
	}
	return 0;
}

static void reply(struct econn *e, const char *id, const char *result)
{
	char out[512];
	int n = snprintf(out, sizeof(out), "{\"id\":%s,\"result\":%s}", id, result);

	if (n > 0 && (size_t)n < sizeof(out)) {
		wsq_push_message(&e->q, out, (size_t)n, false);
	}
}

static void on_login(struct econn *e, const char *id)
{
	char out[128];
	int n;

	reply(e, id, "{\"type\":\"chatgptAuthTokens\"}");
	if (!err_sent_ns || !swap_asker) {
		return;
	}
	n = snprintf(out, sizeof(out), "{\"method\":\"bench/swap\",\"params\":{\"ns\":%lld}}",
	             (long long)(bench_now_ns() - err_sent_ns));
	wsq_push_message(&swap_asker->q, out, (size_t)n, false);
	lws_callback_on_writable(swap_asker->wsi);
	err_sent_ns = 0;
}

/* A whole small message; false when it is no command (it is then echoed). */
static bool command(struct econn *e, const char *m, size_t len)
{
	struct jsonrpc_head h;
	const char *n;

	if (jsonrpc_scan(m, len, true, &h) != 0 || !h.method[0]) {
		return false;
	}
	if (strcmp(h.method, "initialize") == 0) {
		reply(e, h.id,
		      "{\"userAgent\":\"cs-bench/0.1\",\"codexHome\":\"/tmp\","
		      "\"platformFamily\":\"unix\",\"platformOs\":\"linux\"}");
	} else if (strcmp(h.method, "account/login/start") == 0) {
		on_login(e, h.id);
	} else if (strcmp(h.method, "bench/ping") == 0) {
		reply(e, h.id,
		      "{\"pad\":\"pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-"
		      "pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-pong-"
		      "pong-pong-pong-pong-pong-pong\"}");
	} else if (strcmp(h.method, "bench/burst") == 0) {
		n = strstr(m, "\"params\":");
		e->burst_left = n ? strtol(n + 9, NULL, 10) : 0;
		e->done_pending = true;
	} else if (strcmp(h.method, "bench/usageLimit") == 0) {
		if (!e->thread_told) {
			wsq_push_message(&e->q, thread_started, sizeof(thread_started) - 1, false);
			e->thread_told = true;
		}
		e->err_pending = true;
		swap_asker = e;
	} else {
		return strcmp(h.method, "initialized") == 0;
	}
	return true;
}

static int on_receive(struct econn *e, struct lws *wsi, const void *in, size_t len)
{
	bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
	bool binary = lws_frame_is_binary(wsi);

	if (!(first && final && len < SMALL_MAX && !binary && command(e, in, len))) {
		if (wsq_push_fragment(&e->q, in, len, binary, first, final) < 0) {
			return -1;
		}
	}
	if (!e->paused && wsq_bytes(&e->q) > Q_HIGH) {
		lws_rx_flow_control(wsi, 0);
		e->paused = true;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

/* One unmasked server text frame (payload < 64 KiB) at out; its length. */
static size_t put_frame(unsigned char *out, const char *text, size_t len)
{
	size_t h = 2;

	out[0] = 0x81;
	if (len < 126) {
		out[1] = (unsigned char)len;
	} else {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		h = 4;
	}
	memcpy(out + h, text, len);
	return h + len;
}

/* Pre-framed notifications, as many as fit in one 64 KiB write. */
static int write_burst(struct econn *e, struct lws *wsi)
{
	static const char done[] = "{\"method\":\"bench/burstDone\"}";
	static unsigned char b[LWS_PRE + BENCH_CHUNK];
	size_t n = 0, dl = sizeof(delta) - 1;

	while (e->burst_left > 0 && n + dl + 4 <= BENCH_CHUNK) {
		n += put_frame(b + LWS_PRE + n, delta, dl);
		e->burst_left--;
	}
	if (!e->burst_left && e->done_pending && n + sizeof(done) + 4 <= BENCH_CHUNK) {
		n += put_frame(b + LWS_PRE + n, done, sizeof(done) - 1);
		e->done_pending = false;
	}
	return lws_write(wsi, b + LWS_PRE, n, LWS_WRITE_RAW) < (int)n ? -1 : 0;
}

static int on_writeable(struct econn *e, struct lws *wsi)
{
	static unsigned char tx[LWS_PRE + BENCH_CHUNK];
	struct wsq_frame fr;
	unsigned char *p;
	size_t n;
	int r = 0;

	if (wsq_peek(&e->q, BENCH_CHUNK, &p, &n, &fr)) {
		/* lws_write() puts the frame header in the LWS_PRE bytes before the payload. */
		int flags = lws_write_ws_flags(fr.op == WSFRAME_BINARY ? LWS_WRITE_BINARY
		                                                       : LWS_WRITE_TEXT,
		                               fr.op != WSFRAME_CONT, fr.fin);

		memcpy(tx + LWS_PRE, p, n);
		if (lws_write(wsi, tx + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n) {
			return -1;
		}
		wsq_consume(&e->q, n);
		if (e->paused && wsq_bytes(&e->q) < Q_LOW) {
			lws_rx_flow_control(wsi, 1);
			e->paused = false;
		}
	} else if (e->err_pending) {
		static unsigned char b[LWS_PRE + sizeof(usage_error)];

		memcpy(b + LWS_PRE, usage_error, sizeof(usage_error) - 1);
		r = lws_write(wsi, b + LWS_PRE, sizeof(usage_error) - 1, LWS_WRITE_TEXT);
		e->err_pending = false;
		err_sent_ns = bench_now_ns();
	} else if (e->burst_left || e->done_pending) {
		r = write_burst(e, wsi);
	} else {
		return 0;
	}
	lws_callback_on_writable(wsi);
	return r < 0 ? -1 : 0;
}

static void conn_free(struct econn *e)
{
	for (struct econn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	if (swap_asker == e) {
		swap_asker = NULL;
	}
	wsq_release(&e->q);
	free(e);
}

static int echo_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
	struct econn *e = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return check_auth(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		e = calloc(1, sizeof(*e));
		if (!e) {
			return -1;
		}
		e->wsi = wsi;
		wsq_init(&e->q);
		e->next = conns;
		conns = e;
		lws_set_opaque_user_data(wsi, e);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return e ? on_receive(e, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return e ? on_writeable(e, wsi) : 0;
	case LWS_CALLBACK_CLOSED:
		if (e) {
			lws_set_opaque_user_data(wsi, NULL);
			conn_free(e);
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
        {.name = "bench",
         .callback = echo_cb,
         .rx_buffer_size = BENCH_CHUNK,
         .tx_packet_size = BENCH_CHUNK},
        {.name = NULL},
};

/* --listen ws://127.0.0.1:PORT (or --port PORT), or unix://PATH as codex's app-server takes
 * from 0.128 on. */
static int listen_on(int argc, char **argv, struct lws_context_creation_info *info)
{
	const char *l = bench_opt(argc, argv, "--listen");
	const char *colon = l ? strrchr(l, ':') : NULL;
	const char *port = bench_opt(argc, argv, "--port");

	if (l && strncmp(l, "unix://", 7) == 0 && l[7] == '/') {
		info->options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info->iface = l + 7;
		info->port = 0;
		return 0;
	}
	info->iface = "127.0.0.1";
	info->port = colon  ? (int)strtol(colon + 1, NULL, 10)
	             : port ? (int)strtol(port, NULL, 10)
	                    : -1;
	return info->port > 0 ? 0 : -1;
}

int bench_echo_main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *cx;

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	if (listen_on(argc, argv, &info) < 0) {
		info.port = -1;
	}
	/* On a unix socket codex reads the token file but asks no token: nor do we. */
	token = info.port ? bench_read_token(bench_opt(argc, argv, "--ws-token-file")) : NULL;
	if (info.port < 0 || (!token && info.port)) {
		fprintf(stderr, "cs-bench app-server: need --listen ws://127.0.0.1:PORT and "
		                "--ws-token-file FILE, or --listen unix://PATH\n");
		return 2;
	}
	info.protocols = protocols;
	info.pt_serv_buf_size = BENCH_CHUNK;
	info.fd_limit_per_thread = 64;
	info.max_http_header_data = 8192;
	info.gid = -1;
	info.uid = -1;
	cx = lws_create_context(&info);
	if (!cx) {
		fprintf(stderr, "cs-bench app-server: cannot listen on %s\n", info.iface);
		return 1;
	}
	while (lws_service(cx, 0) >= 0) {
	}
	lws_context_destroy(cx);
	return 0;
}
