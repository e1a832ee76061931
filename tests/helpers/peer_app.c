/* The fake app-server: bearer check (401), echo, and commands sent as {"method":"test/<cmd>"}. */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"

#define APP_MAX_MESSAGE (256u * 1024 * 1024)

struct app_conn {
	struct peer_tx tx;
	struct buf msg;
	bool binary;
	bool closing;
	int close_code;
};

static const char *app_token;

static int check_auth(struct lws *wsi)
{
	char hdr[512], want[512];
	int n = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION);

	snprintf(want, sizeof(want), "Bearer %s", app_token);
	if (n <= 0 || strcmp(hdr, want) != 0) {
		peer_out("refused");
		lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, NULL);
		return 1;
	}
	return 0;
}

static void queue_text(struct app_conn *a, const char *s, size_t frag)
{
	peer_tx_add(&a->tx, false, s, strlen(s), frag);
}

/* Runs {"method":"test/<cmd>","params":N}; false when the message is no command. */
static bool command(struct app_conn *a, const char *m)
{
	static const char pre[] = "{\"method\":\"test/";
	const char *params = strstr(m, "\"params\":");
	long n = params ? peer_num(params + 9) : 0;
	char line[128];

	if (strncmp(m, pre, sizeof(pre) - 1) != 0) {
		return false;
	}
	m += sizeof(pre) - 1;
	if (strncmp(m, "notify\"", 7) == 0) {
		for (long i = 0; i < n; i++) {
			snprintf(line, sizeof(line),
			         "{\"method\":\"test/n\",\"params\":{\"i\":%ld}}", i);
			queue_text(a, line, 0);
		}
	} else if (strncmp(m, "big\"", 4) == 0 || strncmp(m, "binary\"", 7) == 0) {
		peer_tx_add(&a->tx, m[2] == 'n', NULL, (size_t)n, 0);
	} else if (strncmp(m, "frag\"", 5) == 0) {
		queue_text(a, "{\"method\":\"test/frag\",\"params\":\"abcdefghijklmnop\"}", 5);
	} else if (strncmp(m, "refresh\"", 8) == 0) {
		queue_text(a,
		           "{\"id\":0,\"method\":\"account/chatgptAuthTokens/refresh\",\"params\":"
		           "{\"reason\":\"unauthorized\",\"previousAccountId\":null}}",
		           0);
	} else if (strncmp(m, "internal\"", 9) == 0) {
		queue_text(a, "{\"id\":\"codex-switch/t/1\",\"result\":{\"ok\":true}}", 0);
		queue_text(a, "{\"method\":\"test/after-internal\"}", 0);
	} else if (strncmp(m, "respond\"", 8) == 0) {
		snprintf(line, sizeof(line), "{\"id\":%ld,\"result\":{\"n\":%ld}}", n, n);
		queue_text(a, line, 0);
	} else if (strncmp(m, "ratelimit\"", 10) == 0) {
		queue_text(a, "{\"method\":\"account/rateLimits/updated\",\"params\":{}}", 0);
	} else if (strncmp(m, "close\"", 6) == 0) {
		a->closing = true;
		a->close_code = (int)n;
	} else if (strncmp(m, "crash\"", 6) == 0) {
		peer_out("crash");
		_exit(3);
	} else {
		return false;
	}
	return true;
}

static void on_message(struct app_conn *a)
{
	const char *m = a->msg.data ? a->msg.data : "";

	if (!a->binary && a->msg.len < 4096) {
		peer_out("recv %s", m);
	} else {
		peer_out("recv-big %zu", a->msg.len);
	}
	if (!a->binary && command(a, m)) {
		return;
	}
	peer_tx_add(&a->tx, a->binary, m, a->msg.len, 0);
}

static int app_receive(struct app_conn *a, struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		a->binary = lws_frame_is_binary(wsi);
		buf_reset(&a->msg);
	}
	if (buf_append(&a->msg, in, len) < 0) {
		peer_out("app: message too large");
		return -1;
	}
	if (lws_is_final_fragment(wsi)) {
		on_message(a);
		/* Echoes of huge messages must not keep the buffer twice. */
		buf_release(&a->msg);
		buf_init(&a->msg, APP_MAX_MESSAGE);
		lws_callback_on_writable(wsi);
	}
	return 0;
}

static int app_writeable(struct app_conn *a, struct lws *wsi)
{
	if (peer_tx_pending(&a->tx)) {
		if (peer_tx_write(&a->tx, wsi) < 0) {
			return -1;
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (a->closing) {
		lws_close_reason(wsi, (enum lws_close_status)a->close_code, (unsigned char *)"bye",
		                 3);
		return -1;
	}
	return 0;
}

static int app_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
	struct app_conn *a = lws_get_opaque_user_data(wsi);
	const unsigned char *b = in;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return check_auth(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		a = calloc(1, sizeof(*a));
		buf_init(&a->msg, APP_MAX_MESSAGE);
		lws_set_opaque_user_data(wsi, a);
		peer_out("established");
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return a ? app_receive(a, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return a ? app_writeable(a, wsi) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		peer_out("peer-close %d %.*s", len >= 2 ? b[0] << 8 | b[1] : 1005,
		         len > 2 ? (int)len - 2 : 0, len > 2 ? (const char *)b + 2 : "");
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (a) {
			peer_out("closed");
			peer_tx_clear(&a->tx);
			buf_release(&a->msg);
			free(a);
			lws_set_opaque_user_data(wsi, NULL);
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols app_protocols[] = {
        {.name = "app",
         .callback = app_cb,
         .rx_buffer_size = PEER_CHUNK,
         .tx_packet_size = PEER_CHUNK},
        {.name = NULL},
};

int peer_app_main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *cx;
	struct lws_vhost *vh;

	app_token = getenv("CS_TEST_TOKEN");
	if (!app_token) {
		return 2;
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.pt_serv_buf_size = PEER_CHUNK;
	info.fd_limit_per_thread = 64;
	info.max_http_header_data = 8192;
	info.gid = -1;
	info.uid = -1;
	cx = lws_create_context(&info);
	memset(&info, 0, sizeof(info));
	info.iface = "127.0.0.1";
	info.port = (int)peer_num(peer_arg(argc, argv, "--port", "0"));
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.protocols = app_protocols;
	vh = cx ? lws_create_vhost(cx, &info) : NULL;
	if (!vh) {
		peer_out("app: cannot listen");
		return 1;
	}
	peer_out("listening %d", lws_get_vhost_listen_port(vh));
	while (lws_service(cx, 0) >= 0) {
	}
	lws_context_destroy(cx);
	return 0;
}
