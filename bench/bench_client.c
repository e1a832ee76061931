/*
 * The benchmark's load client, in the place of the Codex TUI. It connects like the TUI
 * (--remote URL, the token in the variable named by --remote-auth-token-env, Bearer header),
 * initializes, runs one workload and appends one JSON line of results to $BENCH_OUT (stdout
 * when unset). It speaks WebSocket over a raw lws socket with src/wsframe.c: the lws 4.1.6
 * client role would cap it near 200 MB/s and hide the relay's cost.
 *
 * Environment:
 *   BENCH_WORKLOAD  pingpong | burst | echo | idle | startup | swap
 *   BENCH_COUNT     round trips, notifications, messages or swaps
 *   BENCH_SIZE      echo message size in bytes
 *   BENCH_SECONDS   idle time
 *   BENCH_SWAP_GAP_MS  swap: pause after a switch before the next usage limit (default 0)
 *   BENCH_T0_NS     startup: CLOCK_MONOTONIC ns when the launch began
 *   BENCH_RELAY_PID the relay process to measure (CPU, wake-ups, VmHWM); "parent" for our parent
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "bench_work.h"
#include "proxy/wsframe.h"
#include "proxy/wsq.h"

static struct bench_client bc;
static const char *unix_path; /* --remote unix://PATH, or NULL for TCP */

static uint32_t next_mask(void)
{
	bc.rng ^= bc.rng << 13;
	bc.rng ^= bc.rng >> 7;
	bc.rng ^= bc.rng << 17;
	return (uint32_t)bc.rng;
}

/* Frames and writes p[0..n) (LWS_PRE writable bytes before p, masked in place). */
static int write_frame(unsigned char *p, size_t n, enum wsframe_op op, bool fin)
{
	unsigned char hdr[WSFRAME_HDR_MAX], mask[4];
	uint32_t m = next_mask();
	size_t hl;

	memcpy(mask, &m, 4);
	hl = wsframe_header(hdr, op, fin, n, mask);
	wsframe_mask(p, n, mask);
	memcpy(p - hl, hdr, hl);
	return lws_write(bc.wsi, p - hl, hl + n, LWS_WRITE_RAW) < (int)(hl + n) ? -1 : 0;
}

void bench_send_text(const char *json)
{
	if (wsq_push_message(&bc.q, json, strlen(json), false) == 0) {
		lws_callback_on_writable(bc.wsi);
	}
}

void bench_send_big(size_t size)
{
	bc.big_size = size;
	bc.big_off = 0;
	lws_callback_on_writable(bc.wsi);
}

/* The next chunk of the generated big message: {"method":"bench/echo","params":"aaa..."}. */
static int write_big(void)
{
	static const char head[] = "{\"method\":\"bench/echo\",\"params\":\"";
	static unsigned char b[LWS_PRE + BENCH_CHUNK];
	size_t n = bc.big_size - bc.big_off;
	bool first = bc.big_off == 0, fin;

	if (n > BENCH_CHUNK) {
		n = BENCH_CHUNK;
	}
	fin = bc.big_off + n == bc.big_size;
	memset(b + LWS_PRE, 'a', n);
	if (first) {
		memcpy(b + LWS_PRE, head, sizeof(head) - 1);
	}
	if (fin) {
		memcpy(b + LWS_PRE + n - 2, "\"}", 2);
	}
	bc.big_off += n;
	if (fin) {
		bc.big_size = 0;
	}
	return write_frame(b + LWS_PRE, n, first ? WSFRAME_TEXT : WSFRAME_CONT, fin);
}

static int on_writeable(void)
{
	unsigned char *p;
	size_t n;
	struct wsq_frame fr;
	int r = 0;

	if (!bc.established) {
		n = strlen(bc.req);
		memcpy(bc.small + LWS_PRE, bc.req, n);
		r = lws_write(bc.wsi, bc.small + LWS_PRE, n, LWS_WRITE_RAW) < (int)n ? -1 : 0;
		return r;
	}
	if (wsq_peek(&bc.q, BENCH_CHUNK, &p, &n, &fr)) {
		/* Small whole messages only: one frame each. */
		r = write_frame(p, n, WSFRAME_TEXT, true);
		wsq_consume(&bc.q, n);
	} else if (bc.big_size) {
		r = write_big();
	}
	if (wsq_ready(&bc.q) || bc.big_size) {
		lws_callback_on_writable(bc.wsi);
	}
	return r;
}

static void on_data(const struct wsframe_event *ev)
{
	size_t room = sizeof(bc.msg) - 1 - bc.msg_len;

	if (ev->first) {
		bc.msg_len = 0;
		bc.msg_total = 0;
		room = sizeof(bc.msg) - 1;
	}
	if (room > ev->len) {
		room = ev->len;
	}
	memcpy(bc.msg + bc.msg_len, ev->data, room);
	bc.msg_len += room;
	bc.msg[bc.msg_len] = '\0';
	bc.msg_total += ev->len;
	if (ev->final) {
		bench_work_message(&bc, bc.msg, bc.msg_total);
	}
}

static int on_frames(unsigned char *in, size_t len)
{
	struct wsframe_event ev;
	bool have;

	while (len && !bc.done) {
		long n = wsframe_parse(&bc.fr, in, len, &ev, &have);

		if (n < 0) {
			bench_fail(&bc, "invalid framing from the server");
			return -1;
		}
		in += n;
		len -= (size_t)n;
		if (have && (ev.op == WSFRAME_TEXT || ev.op == WSFRAME_BINARY)) {
			on_data(&ev);
		} else if (have && ev.op == WSFRAME_CLOSE) {
			bench_fail(&bc, "the server closed the connection");
			return -1;
		}
	}
	return 0;
}

static int on_rx(unsigned char *in, size_t len)
{
	int status = 0;
	long head;

	if (bc.established) {
		return on_frames(in, len);
	}
	if (bc.head_len + len > sizeof(bc.head)) {
		return -1;
	}
	memcpy(bc.head + bc.head_len, in, len);
	bc.head_len += len;
	head = wsframe_response(bc.head, bc.head_len, bc.key, &status);
	if (head == -EAGAIN) {
		return 0;
	}
	if (head < 0) {
		bench_fail(&bc, status == 401 ? "refused: HTTP 401" : "bad upgrade response");
		return -1;
	}
	bc.established = true;
	bench_work_start(&bc);
	return on_frames((unsigned char *)bc.head + head, bc.head_len - (size_t)head);
}

static void retry_connect(lws_sorted_usec_list_t *sul);

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
	case LWS_CALLBACK_RAW_ADOPT:
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return bc.done ? -1 : on_writeable();
	case LWS_CALLBACK_RAW_RX:
		return on_rx(in, len);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		/* The server may not listen yet (start-up): try again every millisecond. */
		bc.wsi = NULL;
		if (!bc.done && bench_now_ns() - bc.t_start_ns < 10 * 1000000000LL) {
			lws_sul_schedule(bc.cx, 0, &bc.sul_connect, retry_connect, 1000);
		} else {
			bench_fail(&bc, "cannot connect");
		}
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (!bc.done) {
			bench_fail(&bc, "connection closed");
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
        {.name = "bench-client", .callback = client_cb, .rx_buffer_size = BENCH_CHUNK},
        {.name = NULL},
};

/* lws 4.1.6 has no unix-socket client: connect here and give lws the connected socket. */
static struct lws *connect_unix(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	lws_sock_file_fd_type u;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0) {
			close(fd);
		}
		return NULL;
	}
	u.sockfd = fd;
	return lws_adopt_descriptor_vhost(lws_get_vhost_by_name(bc.cx, "default"), LWS_ADOPT_SOCKET,
	                                  u, "bench-client", NULL);
}

static void do_connect(void)
{
	struct lws_client_connect_info i;

	bc.head_len = 0;
	wsframe_rx_init(&bc.fr, false);
	if (unix_path) {
		bc.wsi = connect_unix();
		if (!bc.wsi) {
			client_cb(NULL, LWS_CALLBACK_CLIENT_CONNECTION_ERROR, NULL, NULL, 0);
		}
		return;
	}
	memset(&i, 0, sizeof(i));
	i.context = bc.cx;
	i.address = "127.0.0.1";
	i.port = bc.port;
	i.path = "/";
	i.host = "127.0.0.1";
	i.method = "RAW";
	i.local_protocol_name = "bench-client";
	bc.wsi = lws_client_connect_via_info(&i);
}

static void retry_connect(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	do_connect();
}

static int setup(int argc, char **argv)
{
	const char *url = bench_opt(argc, argv, "--remote");
	const char *env = bench_opt(argc, argv, "--remote-auth-token-env");
	const char *tok = env ? getenv(env) : NULL;
	const char *colon = url ? strrchr(url, ':') : NULL;
	char auth[600] = "";

	if (url && strncmp(url, "unix://", 7) == 0 && url[7] == '/') {
		unix_path = url + 7; /* codex sends no token over a unix socket */
	} else if (!colon || !tok || strncmp(url, "ws://127.0.0.1:", 15) != 0) {
		fprintf(stderr, "cs-bench: need --remote ws://127.0.0.1:PORT and "
		                "--remote-auth-token-env VAR with the token in VAR, or "
		                "--remote unix://PATH\n");
		return -EINVAL;
	} else {
		bc.port = (int)strtol(colon + 1, NULL, 10);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", tok);
	}
	if (wsframe_new_key(bc.key) < 0) {
		return -EIO;
	}
	bc.req = wsframe_request(unix_path ? "localhost" : "127.0.0.1", bc.port, "/", bc.key, auth);
	bc.rng = (uint64_t)bench_now_ns() | 1;
	return bc.req && strlen(bc.req) < sizeof(bc.small) - LWS_PRE ? 0 : -ENOMEM;
}

int bench_client_main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	int r;

	bc.t_start_ns = bench_now_ns();
	wsq_init(&bc.q);
	if (setup(argc, argv) < 0 || bench_work_init(&bc) < 0) {
		return 2;
	}
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.pt_serv_buf_size = BENCH_CHUNK;
	info.fd_limit_per_thread = 16;
	info.gid = -1;
	info.uid = -1;
	bc.cx = lws_create_context(&info);
	if (!bc.cx) {
		return 1;
	}
	do_connect();
	while (!bc.done && lws_service(bc.cx, 0) >= 0) {
	}
	r = bench_work_finish(&bc);
	lws_context_destroy(bc.cx);
	wsq_release(&bc.q);
	free(bc.req);
	return r;
}
