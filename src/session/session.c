#define _GNU_SOURCE /* signalfd, pipe2 */
#include "session/session_internal.h"

#include "base/fileio.h"
#include "base/log.h"
#include "session/rpcmsg.h"
#include "session/runargs.h"
#include "base/spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define REMOTE_TOKEN_ENV "CODEX_SWITCH_REMOTE_TOKEN"
#define READY_TIMEOUT_MS 10000
#define TERM_GRACE_US    (1500 * 1000)
#define TUI_GRACE_US     (3000 * 1000)
#define MAX_MESSAGE      (128u * 1024 * 1024)
#define MAX_QUEUED       (16u * 1024 * 1024)

static const char *const server_methods[] = {
        "account/chatgptAuthTokens/refresh",
        "account/rateLimits/updated",
        "error",
        NULL,
};

static const char *const client_methods[] = {
        "turn/start",
        NULL,
};

static void begin_stop(struct rt *rt);

void rt_next_id(struct rt *rt, char *out, size_t outsz)
{
	snprintf(out, outsz, RPCMSG_ID_PREFIX "%s/%ld", rt->run_id, ++rt->next_id);
}

/* The app-server's last lines, for a message that tells the user why it failed. */
static void stderr_tail(const struct rt *rt, char *out, size_t outsz)
{
	const char *p = rt->err_tail, *end = rt->err_tail + rt->err_tail_len;
	int lines = 0;

	/* Keep the last few lines only. */
	for (const char *q = end; q > p; q--) {
		if (q[-1] == '\n' && q != end && ++lines == 6) {
			p = q;
			break;
		}
	}
	snprintf(out, outsz, "%.*s", (int)(end - p), p);
}

/* Ends the session with an error; the message is printed once, after the TUI is gone. */
void rt_fail(struct rt *rt, const char *fmt, ...)
{
	va_list ap;

	if (!rt->fatal[0]) {
		va_start(ap, fmt);
		vsnprintf(rt->fatal, sizeof(rt->fatal), fmt, ap);
		va_end(ap);
	}
	rt->exit_status = 1;
	begin_stop(rt);
}

static int reserve_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0) {
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		port = ntohs(a.sin_port);
	}
	close(fd);
	return port > 0 ? port : -EADDRNOTAVAIL;
}

static int spawn_app_server(struct rt *rt)
{
	/* execvp takes char *const[]: writable copies of the fixed words. */
	char listen[64], port[16], app[] = "app-server", lopt[] = "--listen", aopt[] = "--ws-auth",
	                           amode[] = "capability-token", fopt[] = "--ws-token-file";
	int pipefd[2], r;
	char *argv[] = {(char *)rt->cfg->codex_bin,
	                app,
	                lopt,
	                listen,
	                aopt,
	                amode,
	                fopt,
	                rt->token.path,
	                NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .new_pgroup = 1};

	snprintf(port, sizeof(port), "%d", rt->app_port);
	snprintf(listen, sizeof(listen), "ws://127.0.0.1:%s", port);
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		return -errno;
	}
	/* Its stderr is for the run log and error messages, never the TUI's terminal. */
	o.stderr_fd = pipefd[1];
	r = spawn_start(&o, &rt->app_pid);
	close(pipefd[1]);
	if (r) {
		close(pipefd[0]);
		return r;
	}
	rt->app_err_fd = pipefd[0];
	return proxy_watch_fd(rt->proxy, rt->app_err_fd, rt);
}

static int spawn_tui(struct rt *rt)
{
	char url[64], *env_entry, **argv;
	const char *env[2];
	struct spawn_opts o = {.stdin_fd = -2, .stdout_fd = -2, .stderr_fd = -2};
	int r;

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", proxy_port(rt->proxy));
	argv = runargs_tui_argv(rt->cfg->codex_bin, rt->cfg->argc, rt->cfg->argv, rt->cfg->cwd, url,
	                        REMOTE_TOKEN_ENV);
	env_entry = util_printf("%s=%s", REMOTE_TOKEN_ENV, rt->token.token);
	if (!argv || !env_entry) {
		runargs_free(argv);
		util_free_secret(env_entry);
		return -ENOMEM;
	}
	env[0] = env_entry;
	env[1] = NULL;
	o.argv = argv;
	o.env = env;
	/* stdin must be the terminal even though spawn defaults to /dev/null. */
	o.stdin_fd = STDIN_FILENO;
	r = spawn_start(&o, &rt->tui_pid);
	runargs_free(argv);
	util_free_secret(env_entry);
	return r;
}

/* Called by the switcher once the start account is logged in. */
void rt_control_ready(struct rt *rt)
{
	int r;

	if (rt->phase != RT_LOGGING_IN) {
		return;
	}
	/* From here on the TUI owns the terminal: log to the run log only. */
	log_set_stderr_level(LOG_OFF);
	r = spawn_tui(rt);
	if (r) {
		rt_fail(rt, "cannot start '%s': %s", rt->cfg->codex_bin, strerror(-r));
		return;
	}
	rt->phase = RT_RUNNING;
	log_info("tui started (pid %ld) on proxy port %d", (long)rt->tui_pid,
	         proxy_port(rt->proxy));
	r = reconcile_start(rt);
	if (r) {
		log_warn("cannot watch '%s' for account changes: %s; a 'codex-switch switch' in "
		         "another terminal will not reach this session",
		         rt->cfg->paths->auth_json, strerror(-r));
	}
}

static void kill_app(struct ev_timer *t)
{
	struct rt *rt = EV_CONTAINER_OF(t, struct rt, stop_tm);

	if (rt->app_pid <= 0) {
		return;
	}
	/* A busy app-server only starts draining on the first SIGTERM; the second ends it. */
	if (rt->term_sent < 2) {
		kill(rt->app_pid, SIGTERM);
		rt->term_sent++;
		ev_timer_start(proxy_loop(rt->proxy), &rt->stop_tm, kill_app, TERM_GRACE_US);
		return;
	}
	log_warn("app-server did not stop after two SIGTERMs; killing it");
	kill(rt->app_pid, SIGKILL);
}

static void kill_tui(struct ev_timer *t)
{
	struct rt *rt = EV_CONTAINER_OF(t, struct rt, tui_kill_tm);

	if (rt->tui_pid > 0) {
		log_warn("the codex TUI did not exit; killing it");
		kill(rt->tui_pid, SIGKILL);
	}
}

static void maybe_done(struct rt *rt)
{
	if (rt->phase == RT_STOPPING && rt->app_pid <= 0 && rt->tui_pid <= 0) {
		rt->phase = RT_DONE;
	}
}

static void begin_stop(struct rt *rt)
{
	if (rt->phase == RT_STOPPING || rt->phase == RT_DONE) {
		return;
	}
	rt->phase = RT_STOPPING;
	proxy_close_clients(rt->proxy, 1001, "codex-switch is exiting");
	if (rt->app_pid > 0) {
		kill_app(&rt->stop_tm);
	}
	if (rt->tui_pid > 0) {
		/* The TUI sees its connection close; give it time to restore the terminal. */
		ev_timer_start(proxy_loop(rt->proxy), &rt->tui_kill_tm, kill_tui, TUI_GRACE_US);
	}
	maybe_done(rt);
}

static void child_exited(struct rt *rt)
{
	int st;

	if (rt->tui_pid > 0 && spawn_poll(rt->tui_pid, &st) == 1) {
		rt->tui_pid = 0;
		ev_timer_stop(proxy_loop(rt->proxy), &rt->tui_kill_tm);
		if (!rt->fatal[0]) {
			rt->exit_status = st;
		}
		log_info("tui exited with status %d", st);
		begin_stop(rt);
	}
	if (rt->app_pid > 0 && spawn_poll(rt->app_pid, &st) == 1) {
		rt->app_pid = 0;
		ev_timer_stop(proxy_loop(rt->proxy), &rt->stop_tm);
		if (rt->phase != RT_STOPPING) {
			char tail[RT_STDERR_TAIL];
			stderr_tail(rt, tail, sizeof(tail));
			proxy_close_clients(rt->proxy, 1011, "app-server exited");
			rt_fail(rt, "the codex app-server exited unexpectedly (status %d)%s%s", st,
			        tail[0] ? "; its last output:\n" : "", tail);
		}
	}
	maybe_done(rt);
}

static void on_signal(struct rt *rt, int sig)
{
	if (sig == SIGCHLD) {
		child_exited(rt);
		return;
	}
	log_info("received signal %d", sig);
	if (rt->tui_pid > 0 && rt->phase == RT_RUNNING) {
		/* The TUI decides how to end; it exits, and we follow. */
		kill(rt->tui_pid, sig);
		rt->phase = RT_STOPPING;
		proxy_close_clients(rt->proxy, 1001, "codex-switch is exiting");
		kill_app(&rt->stop_tm);
		ev_timer_start(proxy_loop(rt->proxy), &rt->tui_kill_tm, kill_tui, TUI_GRACE_US);
		return;
	}
	if (rt->tui_pid > 0) {
		kill(rt->tui_pid, SIGKILL); /* a second signal: no more waiting */
	}
	if (!rt->fatal[0]) {
		rt->exit_status = 128 + sig;
	}
	begin_stop(rt);
}

static void read_signals(struct rt *rt)
{
	struct signalfd_siginfo si;

	while (read(rt->sigfd, &si, sizeof(si)) == sizeof(si)) {
		on_signal(rt, (int)si.ssi_signo);
	}
}

static void read_app_stderr(struct rt *rt)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(rt->app_err_fd, buf, sizeof(buf))) > 0) {
		size_t keep = (size_t)n < RT_STDERR_TAIL ? (size_t)n : RT_STDERR_TAIL;
		if (rt->err_tail_len + keep > RT_STDERR_TAIL) {
			size_t drop = rt->err_tail_len + keep - RT_STDERR_TAIL;
			memmove(rt->err_tail, rt->err_tail + drop, rt->err_tail_len - drop);
			rt->err_tail_len -= drop;
		}
		memcpy(rt->err_tail + rt->err_tail_len, buf + (size_t)n - keep, keep);
		rt->err_tail_len += keep;
		log_debug("app-server: %.*s", (int)n, buf);
	}
	if (n == 0) {
		proxy_unwatch_fd(rt->proxy, rt->app_err_fd);
		rt->app_err_fd = -1;
	}
}

/* ---- proxy hooks ---- */

static enum proxy_verdict hook_server_message(void *ctx, struct proxy_conn *c,
                                              const struct jsonrpc_head *h, const char *json,
                                              size_t len)
{
	return switcher_server_message(ctx, c, h, json, len);
}

static enum proxy_verdict hook_client_message(void *ctx, struct proxy_conn *c,
                                              const struct jsonrpc_head *h, const char *json,
                                              size_t len)
{
	(void)c;
	return maintain_client_message(ctx, h, json, len);
}

static void hook_conn_opened(void *ctx, struct proxy_conn *c)
{
	struct rt *rt = ctx;

	if (proxy_conn_is_control(c) && rt->phase == RT_STARTING) {
		rt->phase = RT_LOGGING_IN;
		if (switcher_initial_login(rt) < 0) {
			rt_fail(rt, "cannot log the account in to the app-server");
		}
	}
}

static void hook_conn_closed(void *ctx, struct proxy_conn *c)
{
	struct rt *rt = ctx;

	switcher_conn_closed(rt, c);
	if (proxy_conn_is_control(c) && rt->phase == RT_RUNNING) {
		log_warn("control connection to the app-server closed; reconnecting");
		proxy_control_open(rt->proxy, READY_TIMEOUT_MS);
	}
}

static void hook_control_failed(void *ctx, const char *why)
{
	struct rt *rt = ctx;
	char tail[RT_STDERR_TAIL];

	if (rt->phase == RT_STOPPING || rt->phase == RT_DONE) {
		return;
	}
	stderr_tail(rt, tail, sizeof(tail));
	rt_fail(rt, "the codex app-server was not ready within %d s (%s)%s%s",
	        READY_TIMEOUT_MS / 1000, why, tail[0] ? "; its last output:\n" : "", tail);
}

static void hook_wakeup(void *ctx)
{
	struct rt *rt = ctx;

	worker_drain(rt->worker);
}

static void hook_fd_ready(void *ctx, int fd, void *fd_ctx)
{
	struct rt *rt = ctx;

	(void)fd_ctx;
	if (fd == rt->sigfd) {
		read_signals(rt);
	} else if (fd == rt->app_err_fd) {
		read_app_stderr(rt);
	} else if (fd == rt->inotify_fd) {
		reconcile_on_ready(rt);
	}
}

static const struct proxy_hooks hooks = {
        .server_message = hook_server_message,
        .client_message = hook_client_message,
        .conn_opened = hook_conn_opened,
        .conn_closed = hook_conn_closed,
        .control_failed = hook_control_failed,
        .wakeup = hook_wakeup,
        .fd_ready = hook_fd_ready,
};

static void wake(void *ctx)
{
	proxy_wake(ctx);
}

/* ---- start and end ---- */

static int create_proxy(struct rt *rt)
{
	struct proxy_config pc = {
	        .upstream_port = rt->app_port,
	        .token = rt->token.token,
	        .max_message = MAX_MESSAGE,
	        .max_queued = MAX_QUEUED,
	        .server_methods = server_methods,
	        .internal_id_prefix = RPCMSG_ID_PREFIX,
	        .client_methods = client_methods,
	        .hooks = &hooks,
	        .hooks_ctx = rt,
	};

	rt->proxy = proxy_create(&pc);
	if (!rt->proxy) {
		return -errno;
	}
	rt->worker = worker_create(8, wake, rt->proxy);
	return rt->worker ? 0 : -errno;
}

static int watch_signals(struct rt *rt, const sigset_t *mask)
{
	rt->sigfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (rt->sigfd < 0) {
		return -errno;
	}
	return proxy_watch_fd(rt->proxy, rt->sigfd, rt);
}

static int start(struct rt *rt, const sigset_t *mask)
{
	const struct paths *p = rt->cfg->paths;
	int r;

	captoken_clean_stale(p->runtime_dir);
	r = captoken_create(&rt->token, p->runtime_dir);
	if (r) {
		log_error("cannot create the token file in '%s': %s", p->runtime_dir, strerror(-r));
		return r;
	}
	rt->app_port = reserve_port();
	if (rt->app_port < 0) {
		log_error("cannot find a free port on 127.0.0.1: %s", strerror(-rt->app_port));
		return rt->app_port;
	}
	r = create_proxy(rt);
	if (!r) {
		r = watch_signals(rt, mask);
	}
	if (r) {
		log_error("cannot start the proxy: %s", strerror(-r));
		return r;
	}
	r = spawn_app_server(rt);
	if (r) {
		log_error("cannot start '%s app-server': %s; check --codex-bin or "
		          "CODEX_SWITCH_CODEX_BIN",
		          rt->cfg->codex_bin, strerror(-r));
		return r;
	}
	log_info("app-server started (pid %ld) on port %d", (long)rt->app_pid, rt->app_port);
	return proxy_control_open(rt->proxy, READY_TIMEOUT_MS);
}

/* Last resort when the loop itself broke: no child may outlive us. */
static void reap_all(struct rt *rt)
{
	int st;

	if (rt->tui_pid > 0) {
		kill(rt->tui_pid, SIGKILL);
		spawn_wait(rt->tui_pid, &st);
	}
	if (rt->app_pid > 0) {
		kill(rt->app_pid, SIGKILL);
		spawn_wait(rt->app_pid, &st);
	}
}

/* One log line per line: the app-server's output would otherwise show escaped newlines. */
static void print_fatal(char *msg)
{
	char *save = NULL, *line = strtok_r(msg, "\n", &save);

	if (line) {
		log_error("%s", line);
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		log_error("  | %s", line);
	}
}

int session_run(const struct session_config *cfg)
{
	struct rt rt = {
	        .cfg = cfg, .sigfd = -1, .app_err_fd = -1, .inotify_fd = -1, .exit_status = 1};
	enum log_level saved = log_stderr_level();
	sigset_t mask, old;

	util_uuid(rt.run_id);
	if (cfg->policy) {
		rt.policy = *cfg->policy;
	} else {
		policy_config_defaults(&rt.policy);
	}
	usage_init(&rt.live);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGCHLD);
	/* Before any thread exists, so every thread inherits the mask. */
	sigprocmask(SIG_BLOCK, &mask, &old);
	/* A peer gone mid-write is an error to handle, not a reason to die (sockets use
	 * MSG_NOSIGNAL; this covers every other write, ours and the libraries'). */
	signal(SIGPIPE, SIG_IGN);
	if (start(&rt, &mask) == 0) {
		while (rt.phase != RT_DONE && proxy_run_once(rt.proxy) >= 0) {
		}
	}
	reap_all(&rt);
	worker_destroy(rt.worker);
	/* Timers live in our memory: off the loop's list before the loop goes. */
	switcher_release(&rt);
	maintain_release(&rt);
	reconcile_release(&rt);
	ev_timer_stop(proxy_loop(rt.proxy), &rt.stop_tm);
	ev_timer_stop(proxy_loop(rt.proxy), &rt.tui_kill_tm);
	proxy_destroy(rt.proxy);
	captoken_destroy(&rt.token);
	sigprocmask(SIG_SETMASK, &old, NULL);
	log_set_stderr_level(saved);
	print_fatal(rt.fatal);
	return rt.exit_status;
}
