/*
 * The real proxy with test hooks. It answers the app-server's token refresh itself, warns the
 * client after a rate-limit notification, swallows internal responses, rewrites the response
 * to a client's test/watch request (watched: PROXY_FORWARD_WATCH_RESPONSE), and reads commands from
 * stdin: close-clients CODE REASON | broadcast JSON | flood N BYTES | wake | control MS | stats |
 * fdcheck (opens 16 files at once, as the store would, and says how many opened).
 * --log FILE writes the log there (info level), as a run log.
 * EOF on stdin
 * shuts down (clients closed with 1001) and prints the peak RSS.
 */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/ev.h"
#include "base/log.h"
#include "proxy/proxy.h"

static struct proxy *px;
static struct ev *loop;
static struct ev_io stdin_io;
static bool shutting, stop;
static atomic_bool wake_requested;
static char line[4096];
static size_t line_len;
static struct ev_timer deadline_tm;

static const char *const server_methods[] = {"account/chatgptAuthTokens/refresh",
                                             "account/rateLimits/updated", NULL};
static const char *const client_methods[] = {"turn/start", "test/watch", NULL};

static const char *kind(const struct proxy_conn *c)
{
	return proxy_conn_is_control(c) ? "control" : "session";
}

static enum proxy_verdict on_server(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	char buf[512];

	peer_out("server-message %s %s %s %zu", kind(c), h->method, h->id, len);
	if (proxy_conn_is_control(c)) {
		return PROXY_DROP;
	}
	if (h->kind == JSONRPC_REQUEST &&
	    strcmp(h->method, "account/chatgptAuthTokens/refresh") == 0) {
		snprintf(
		        buf, sizeof(buf),
		        "{\"id\":%s,\"result\":{\"accessToken\":\"test-access\",\"chatgptAccountId\":"
		        "\"acc\",\"chatgptPlanType\":\"plus\"}}",
		        h->id);
		peer_out("send-to-server %d", proxy_send_to_server(c, buf, strlen(buf)));
		return PROXY_DROP;
	}
	if (strcmp(h->method, "account/rateLimits/updated") == 0) {
		snprintf(
		        buf, sizeof(buf),
		        "{\"method\":\"warning\",\"params\":{\"threadId\":null,\"message\":\"test\"}}");
		proxy_send_to_client(c, buf, strlen(buf));
		return PROXY_FORWARD;
	}
	if (h->kind == JSONRPC_RESPONSE && !jsonrpc_id_has_prefix(h, "codex-switch/")) {
		/* A response to a watched client request: the client gets it rewritten. */
		snprintf(buf, sizeof(buf), "{\"id\":%s,\"result\":{\"rewritten\":true}}", h->id);
		proxy_send_to_client(c, buf, strlen(buf));
		return PROXY_DROP;
	}
	return h->kind == JSONRPC_RESPONSE ? PROXY_DROP : PROXY_FORWARD;
}

static enum proxy_verdict on_client(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	char buf[512];

	peer_out("client-message %s %s", h->method, h->id);
	snprintf(buf, sizeof(buf), "{\"method\":\"test/client-hook-saw\",\"params\":{\"id\":%s}}",
	         h->id);
	proxy_send_to_client(c, buf, strlen(buf));
	return strcmp(h->method, "test/watch") == 0 ? PROXY_FORWARD_WATCH_RESPONSE : PROXY_FORWARD;
}

static void on_opened(void *ctx, struct proxy_conn *c)
{
	static const char probe[] = "{\"id\":\"codex-switch/ctl/1\",\"method\":\"test/echo-me\"}";

	peer_out("opened %s", kind(c));
	if (proxy_conn_is_control(c)) {
		proxy_send_to_server(c, probe, sizeof(probe) - 1);
	}
}

static void on_closed(void *ctx, struct proxy_conn *c)
{
	peer_out("closed %s", kind(c));
}

static void on_control_failed(void *ctx, const char *why)
{
	peer_out("control-failed %s", why);
}

static void on_wakeup(void *ctx)
{
	(void)ctx;
	if (atomic_exchange(&wake_requested, false)) {
		peer_out("woken");
	}
}

static void *waker(void *arg)
{
	atomic_store(&wake_requested, true);
	ev_wake(arg);
	return NULL;
}

static long vmhwm_kb(void)
{
	char buf[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "VmHWM:", 6) == 0) {
			kb = strtol(buf + 6, NULL, 10);
		}
	}
	if (f) {
		fclose(f);
	}
	return kb;
}

static void deadline(struct ev_timer *t)
{
	(void)t;
	stop = true;
}

static void shutdown_start(void)
{
	if (shutting) {
		return;
	}
	shutting = true;
	proxy_close_clients(px, 1001, "codex-switch exiting");
	ev_timer_start(loop, &deadline_tm, deadline, 3 * 1000000);
}

/* Broadcasts N injected messages of BYTES bytes each (to overflow a client that stopped reading).
 */
static void flood(const char *args)
{
	char *end;
	long n = strtol(args, &end, 10);
	size_t size = (size_t)peer_num(end);
	unsigned char *m = malloc(size);

	if (!m || size < 40) {
		free(m);
		return;
	}
	peer_gen(false, size, 0, m, size);
	for (long i = 0; i < n; i++) {
		proxy_broadcast_to_clients(px, (const char *)m, size);
	}
	free(m);
	peer_out("flooded %ld", n);
}

static void fdcheck(void)
{
	int fds[16], n = 0;

	for (int i = 0; i < 16; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		n += fds[i] >= 0;
	}
	for (int i = 0; i < 16; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	peer_out("fdcheck %d", n);
}

static void run_command(char *cmd)
{
	pthread_t t;

	if (strncmp(cmd, "close-clients ", 14) == 0) {
		char *reason = strchr(cmd + 14, ' ');

		proxy_close_clients(px, (int)peer_num(cmd + 14), reason ? reason + 1 : "");
	} else if (strncmp(cmd, "broadcast ", 10) == 0) {
		proxy_broadcast_to_clients(px, cmd + 10, strlen(cmd + 10));
	} else if (strncmp(cmd, "flood ", 6) == 0) {
		flood(cmd + 6);
	} else if (strcmp(cmd, "wake") == 0) {
		if (pthread_create(&t, NULL, waker, loop) == 0) {
			pthread_detach(t);
		}
	} else if (strncmp(cmd, "control ", 8) == 0) {
		peer_out("control-open %d", proxy_control_open(px, (int)peer_num(cmd + 8)));
	} else if (strcmp(cmd, "fdcheck") == 0) {
		fdcheck();
	} else if (strcmp(cmd, "stats") == 0) {
		peer_out("stats clients %zu vmhwm %ld", proxy_client_count(px), vmhwm_kb());
	}
}

static void on_stdin(struct ev_io *io, uint32_t events)
{
	char buf[1024];
	ssize_t n = read(io->fd, buf, sizeof(buf));

	(void)events;
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			ev_io_stop(loop, io);
			shutdown_start();
		}
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			line[line_len] = '\0';
			run_command(line);
			line_len = 0;
		} else if (line_len + 1 < sizeof(line)) {
			line[line_len++] = buf[i];
		}
	}
}

static const struct proxy_hooks hooks = {
        .server_message = on_server,
        .client_message = on_client,
        .conn_opened = on_opened,
        .conn_closed = on_closed,
        .control_failed = on_control_failed,
};

int peer_proxy_main(int argc, char **argv)
{
	struct proxy_config cfg = {
	        .ev = loop = ev_new(),
	        .upstream_port = (int)peer_num(peer_arg(argc, argv, "--upstream-port", "0")),
	        .token = getenv("CS_TEST_TOKEN"),
	        .max_message = 128u * 1024 * 1024,
	        .max_queued = (size_t)peer_num(peer_arg(argc, argv, "--max-queued", "16777216")),
	        .server_methods = server_methods,
	        .internal_id_prefix = "codex-switch/",
	        .client_methods = client_methods,
	        .hooks = &hooks,
	};
	const char *control = peer_arg(argc, argv, "--control-deadline", NULL);
	const char *log = peer_arg(argc, argv, "--log", NULL);

	if (log && log_open_file(log) < 0) {
		peer_out("proxy: cannot open the log");
		return 1;
	}

	px = cfg.token && loop ? proxy_create(&cfg) : NULL;
	if (!px) {
		peer_out("proxy: cannot start");
		return 1;
	}
	ev_set_wake(loop, on_wakeup, NULL);
	if (ev_io_start(loop, &stdin_io, 0, EPOLLIN, on_stdin) < 0) {
		return 1;
	}
	peer_out("listening %d", proxy_port(px));
	if (control) {
		peer_out("control-open %d", proxy_control_open(px, (int)peer_num(control)));
	}
	while (!stop && ev_run_once(loop) >= 0) {
		if (shutting && proxy_client_count(px) == 0) {
			stop = true;
		}
	}
	ev_timer_stop(loop, &deadline_tm);
	peer_out("vmhwm %ld", vmhwm_kb());
	proxy_destroy(px);
	ev_io_stop(loop, &stdin_io);
	ev_free(loop);
	log_close_file();
	peer_out("exit");
	return 0;
}
