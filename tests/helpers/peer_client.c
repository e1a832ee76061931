/*
 * The scripted fake TUI. Steps run in order:
 *   send:TEXT sendfrag:TEXT (3-byte fragments) sendbig:N sendbin:N   queue a message
 *   expect:SUBSTR expectbig:N expectbin:N   the next received message must match
 *   expectclose:CODE   the proxy closes the connection with CODE
 *   close:CODE  sleep:MS  pause:MS (stop reading for MS, the next steps go on)
 * Exit status 0 when every step passed.
 */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inmsg {
	struct inmsg *next;
	bool binary;
	size_t len;
	unsigned char sha[32];
	char *prefix;
};

struct client {
	struct lws_context *cx;
	struct lws *wsi;
	const char *token;
	char **steps;
	int nsteps, cur;
	struct peer_tx tx;
	struct peer_rx rx;
	struct inmsg *in_head, *in_tail;
	bool closed, got_close, closing, sleeping, done;
	int peer_code, close_code, status;
	lws_sorted_usec_list_t sul_timeout, sul_sleep, sul_pause;
};

static struct client cl;

static void finish(int status, const char *why)
{
	if (cl.done) {
		return;
	}
	cl.done = true;
	cl.status = status;
	if (status) {
		peer_out("FAIL step %d (%s): %s", cl.cur,
		         cl.cur < cl.nsteps ? cl.steps[cl.cur] : "-", why);
	} else {
		peer_out("PASS");
	}
	lws_cancel_service(cl.cx);
}

static struct inmsg *pop_msg(void)
{
	struct inmsg *m = cl.in_head;

	if (m) {
		cl.in_head = m->next;
		if (!cl.in_head) {
			cl.in_tail = NULL;
		}
	}
	return m;
}

static void free_msg(struct inmsg *m)
{
	free(m->prefix);
	free(m);
}

/* Checks the next message against an expect step; 1 when it is not there yet. */
static int expect(const char *op, const char *arg, char *why, size_t whysz)
{
	struct inmsg *m = pop_msg();
	unsigned char want[32];
	bool binary = strcmp(op, "expectbin") == 0;
	int r = 0;

	if (!m) {
		snprintf(why, whysz, "connection closed (code %d) before the message",
		         cl.peer_code);
		return cl.closed ? -1 : 1;
	}
	if (strcmp(op, "expect") == 0) {
		if (m->binary || !strstr(m->prefix, arg)) {
			snprintf(why, whysz, "got %.300s", m->prefix);
			r = -1;
		}
	} else {
		size_t n = (size_t)peer_num(arg);

		peer_gen_sha256(binary, n, want);
		if (m->binary != binary || m->len != n || memcmp(m->sha, want, 32) != 0) {
			snprintf(why, whysz, "got %s message of %zu bytes (%s)",
			         m->binary ? "binary" : "text", m->len,
			         m->len == n ? "content differs" : "length differs");
			r = -1;
		}
	}
	free_msg(m);
	return r;
}

static void sleep_done(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	cl.sleeping = false;
	cl.cur++;
	lws_cancel_service(cl.cx);
}

static void pause_done(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (cl.wsi) {
		lws_rx_flow_control(cl.wsi, 1);
	}
}

/* Runs one step; 0 done, 1 waiting, -1 failed. */
static int step(struct lws *wsi, char *why, size_t whysz)
{
	char op[32];
	const char *s = cl.steps[cl.cur], *arg = strchr(s, ':');
	size_t n = arg ? (size_t)(arg - s) : strlen(s);

	snprintf(op, sizeof(op), "%.*s", (int)n, s);
	arg = arg ? arg + 1 : "";
	if (strcmp(op, "send") == 0 || strcmp(op, "sendfrag") == 0) {
		peer_tx_add(&cl.tx, false, arg, strlen(arg), op[4] ? 3 : 0);
	} else if (strcmp(op, "sendbig") == 0 || strcmp(op, "sendbin") == 0) {
		peer_tx_add(&cl.tx, op[6] == 'n', NULL, (size_t)peer_num(arg), 0);
	} else if (strncmp(op, "expect", 6) == 0 && strcmp(op, "expectclose") != 0) {
		return expect(op, arg, why, whysz);
	} else if (strcmp(op, "expectclose") == 0) {
		if (!cl.closed) {
			return 1;
		}
		snprintf(why, whysz, "closed with %d", cl.got_close ? cl.peer_code : 1006);
		return cl.got_close && cl.peer_code == peer_num(arg) ? 0 : -1;
	} else if (strcmp(op, "close") == 0) {
		if (peer_tx_pending(&cl.tx)) {
			return 1;
		}
		cl.closing = true;
		cl.close_code = (int)peer_num(arg);
	} else if (strcmp(op, "pause") == 0) {
		if (wsi) {
			lws_rx_flow_control(wsi, 0);
		}
		lws_sul_schedule(cl.cx, 0, &cl.sul_pause, pause_done, peer_num(arg) * 1000);
	} else if (strcmp(op, "sleep") == 0) {
		cl.sleeping = true;
		lws_sul_schedule(cl.cx, 0, &cl.sul_sleep, sleep_done, peer_num(arg) * 1000);
		return 1;
	} else {
		snprintf(why, whysz, "unknown step");
		return -1;
	}
	if (wsi) {
		lws_callback_on_writable(wsi);
	}
	return 0;
}

static void advance(struct lws *wsi)
{
	char why[512] = "";

	while (!cl.done && !cl.sleeping) {
		int r;

		if (cl.cur == cl.nsteps) {
			if (!peer_tx_pending(&cl.tx) && !cl.closing) {
				finish(0, "");
			}
			return;
		}
		r = step(wsi, why, sizeof(why));
		if (r < 0) {
			finish(1, why);
		}
		if (r) {
			return;
		}
		peer_out("ok %.60s", cl.steps[cl.cur]);
		cl.cur++;
	}
}

static void on_message(void)
{
	struct inmsg *m = calloc(1, sizeof(*m));

	m->binary = cl.rx.binary;
	m->len = cl.rx.len;
	memcpy(m->sha, cl.rx.sha, 32);
	m->prefix = strdup(cl.rx.prefix);
	if (cl.in_tail) {
		cl.in_tail->next = m;
	} else {
		cl.in_head = m;
	}
	cl.in_tail = m;
}

static int client_writeable(struct lws *wsi)
{
	if (peer_tx_pending(&cl.tx)) {
		if (peer_tx_write(&cl.tx, wsi) < 0) {
			return -1;
		}
		lws_callback_on_writable(wsi);
		if (!peer_tx_pending(&cl.tx)) {
			advance(wsi);
		}
		return 0;
	}
	if (cl.closing) {
		lws_close_reason(wsi, (enum lws_close_status)cl.close_code, (unsigned char *)"tui",
		                 3);
		return -1;
	}
	return 0;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
	const unsigned char *b = in;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		char h[512];

		snprintf(h, sizeof(h), "Bearer %s", cl.token);
		return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		                                    (unsigned char *)h, (int)strlen(h), p, end);
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		peer_out("connected");
		cl.wsi = wsi;
		advance(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (peer_rx_chunk(&cl.rx, wsi, in, len)) {
			on_message();
			advance(wsi);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return client_writeable(wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		cl.got_close = true;
		cl.peer_code = len >= 2 ? b[0] << 8 | b[1] : 1005;
		peer_out("peer-close %d %.*s", cl.peer_code, len > 2 ? (int)len - 2 : 0,
		         len > 2 ? (const char *)b + 2 : "");
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		peer_out("connect-error %s", in ? (const char *)in : "?");
		cl.closed = true;
		finish(1, "cannot connect");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		cl.closed = true;
		cl.wsi = NULL;
		advance(NULL);
		if (!cl.done) {
			finish(cl.closing && cl.cur == cl.nsteps ? 0 : 1, "connection closed");
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols client_protocols[] = {
        {.name = "client",
         .callback = client_cb,
         .rx_buffer_size = PEER_CHUNK,
         .tx_packet_size = PEER_CHUNK},
        {.name = NULL},
};

static void timed_out(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	finish(1, "timeout");
}

static int connect_to(int port)
{
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof(i));
	i.context = cl.cx;
	i.address = "127.0.0.1";
	i.port = port;
	i.path = "/";
	i.host = "127.0.0.1";
	i.ietf_version_or_minus_one = -1;
	i.local_protocol_name = "client";
	return lws_client_connect_via_info(&i) ? 0 : -1;
}

int peer_client_main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	int first = 2;

	while (first + 1 < argc && strncmp(argv[first], "--", 2) == 0) {
		first += 2;
	}
	cl.token = getenv("CS_TEST_TOKEN");
	cl.steps = argv + first;
	cl.nsteps = argc - first;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = client_protocols;
	info.pt_serv_buf_size = PEER_CHUNK;
	info.fd_limit_per_thread = 64;
	info.gid = -1;
	info.uid = -1;
	cl.cx = lws_create_context(&info);
	if (!cl.cx || !cl.token) {
		return 2;
	}
	lws_sul_schedule(cl.cx, 0, &cl.sul_timeout, timed_out,
	                 peer_num(peer_arg(argc, argv, "--timeout", "60")) * LWS_US_PER_SEC);
	if (connect_to((int)peer_num(peer_arg(argc, argv, "--port", "0"))) < 0) {
		finish(1, "connect failed");
	}
	while (!cl.done && lws_service(cl.cx, 0) >= 0) {
		if (!cl.sleeping && !cl.done && (cl.wsi || cl.closed)) {
			advance(cl.wsi);
		}
	}
	lws_sul_cancel(&cl.sul_timeout);
	lws_sul_cancel(&cl.sul_sleep);
	lws_sul_cancel(&cl.sul_pause);
	lws_context_destroy(cl.cx);
	peer_tx_clear(&cl.tx);
	peer_rx_release(&cl.rx);
	while (cl.in_head) {
		free_msg(pop_msg());
	}
	return cl.status;
}
