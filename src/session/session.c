/*
 * The supervisor of `codex-switch run`. It owns the event loop and everything on it: the
 * proxy (one component among the sources), the signals, the two child processes, and the
 * parts that handle accounts. Calls go one way: the supervisor calls its parts, and a part
 * reports back through the callbacks it was handed (part.h); the decisions are made here.
 *
 * Phases: STARTING (app-server spawned, control connection opening), LOGGING_IN (the start
 * account is being logged in on the control connection), RUNNING (the TUI's connections are
 * served), STOPPING. When the start account is known at once, the TUI is spawned in STARTING:
 * it starts while the app-server does, and its connection waits in the proxy's listen backlog
 * until the account is logged in, so it never reads the app-server before that.
 */
#define _GNU_SOURCE /* signalfd */
#include "session/session.h"

#include "base/codexseen.h"
#include "base/codexver.h"
#include "base/ev.h"
#include "base/log.h"
#include "base/util.h"
#include "base/worker.h"
#include "net/httpchild.h"
#include "proxy/proxy.h"
#include "session/captoken.h"
#include "session/children.h"
#include "session/endnote.h"
#include "session/rpcmsg.h"
#include "session/runargs.h"
#include "session/runstart.h"
#include "session/startpick.h"
#include "session/steer.h"
#include "session/transport.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define REMOTE_TOKEN_ENV "CODEX_SWITCH_REMOTE_TOKEN"
#define READY_TIMEOUT_MS 10000
#define TUI_GRACE_US     (3000 * 1000)
/* How long a served app-server may go on after its client left, before its SIGTERM. */
#define APP_SETTLE_US (300 * 1000)
#define MAX_MESSAGE   (128u * 1024 * 1024)
#define MAX_QUEUED    (16u * 1024 * 1024)

enum phase { STARTING, LOGGING_IN, RUNNING, STOPPING, DONE };

struct session {
	const struct session_config *cfg;
	struct session_env env;
	struct proxy *proxy;
	struct captoken app_token;              /* the app-server's: only codex-switch knows it */
	char tui_token[UTIL_TOKEN_HEX_LEN + 1]; /* the TUI's, given through its environment */
	char run_id[UTIL_UUID_LEN + 1];
	enum phase phase;
	int exit_status;
	char fatal[512];        /* why the session ended early, for the user */
	struct transport where; /* unix sockets or loopback TCP */
	struct ev_io sig_io;

	struct children kids;
	struct steer steer;
	struct endnote end;
	struct startpick pick;
	bool tui_started; /* spawned, perhaps before RUNNING (see the phases above) */
};

static void begin_stop(struct session *s);

/* Ends the session with an error; the message is printed once, after the TUI is gone. */
static void fail(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->fatal[0]) {
		va_start(ap, fmt);
		vsnprintf(s->fatal, sizeof(s->fatal), fmt, ap);
		va_end(ap);
	}
	s->exit_status = 1;
	begin_stop(s);
}

/* what, then the app-server's last lines on stderr, introduced as whose ("its"). */
static void fail_with_tail(struct session *s, const char *what, const char *whose)
{
	char tail[CHILDREN_STDERR_TAIL];

	children_stderr_tail(&s->kids, tail, sizeof(tail));
	if (tail[0]) {
		fail(s, "%s; %s last output:\n%s", what, whose, tail);
	} else {
		fail(s, "%s", what);
	}
}

/* ---- what the parts may call (their narrow interfaces) ---- */

static int send_control(void *ctx, char *json)
{
	struct session *s = ctx;
	struct proxy_conn *c = s->proxy ? proxy_control(s->proxy) : NULL;
	int r = c && json ? proxy_send_to_server(c, json, strlen(json)) : -ENOTCONN;

	util_free_secret(json);
	return r;
}

static int send_to_server(void *ctx, struct proxy_conn *conn, char *json)
{
	int r = json ? proxy_send_to_server(conn, json, strlen(json)) : -ENOMEM;

	(void)ctx;
	util_free_secret(json);
	return r;
}

static int send_to_tui(void *ctx, struct proxy_conn *conn, const char *json)
{
	struct session *s = ctx;

	if (conn) {
		return proxy_send_to_client(conn, json, strlen(json));
	}
	proxy_broadcast_to_clients(s->proxy, json, strlen(json));
	return 0;
}

static void steer_failed(void *ctx, const char *msg)
{
	fail(ctx, "%s", msg);
}

static void go_running(struct session *s);

static void logged_in(void *ctx)
{
	struct session *s = ctx;

	if (s->phase == LOGGING_IN) {
		go_running(s);
	}
}

static const struct steer_ops steer_ops = {
        .send_control = send_control,
        .send_to_server = send_to_server,
        .send_to_tui = send_to_tui,
        .logged_in = logged_in,
        .fail = steer_failed,
};

/* ---- children and signals ---- */

static int start_tui(struct session *s)
{
	char url[300], *env_entry, **argv;
	const char *env[2] = {NULL, NULL};
	bool tcp = !s->where.tui_sock; /* codex takes no token over a unix socket */
	int r;

	transport_tui_url(&s->where, proxy_port(s->proxy), url, sizeof(url));
	argv = runargs_tui_argv(s->cfg->codex_bin, s->cfg->argc, s->cfg->argv, s->cfg->cwd, url,
	                        tcp ? REMOTE_TOKEN_ENV : NULL);
	env_entry = tcp ? util_printf("%s=%s", REMOTE_TOKEN_ENV, s->tui_token) : NULL;
	env[0] = env_entry;
	/* From here on the TUI owns the terminal: log to the run log only. */
	log_set_stderr_level(LOG_OFF);
	r = argv && (env_entry || !tcp) ? children_start_tui(&s->kids, argv, env) : -ENOMEM;
	runargs_free(argv);
	util_free_secret(env_entry);
	if (r) {
		fail(s, "cannot start '%s': %s", s->cfg->codex_bin, strerror(-r));
		return r;
	}
	s->tui_started = true;
	log_info("tui started (pid %ld) on %s", (long)s->kids.tui_pid, url);
	return 0;
}

/* The start account is logged in: the TUI, started now or already waiting, is served. */
static void go_running(struct session *s)
{
	if (!s->tui_started && start_tui(s)) {
		return;
	}
	s->phase = RUNNING;
	proxy_hold_clients(s->proxy, false);
	if (s->cfg->start && s->cfg->account_id) {
		runstart_go(s->cfg->start); /* provisional: the usage queries waited until now */
	}
	steer_running(&s->steer);
}

static void maybe_done(struct session *s)
{
	if (s->phase == STOPPING && s->kids.app_pid <= 0 && s->kids.tui_pid <= 0) {
		s->phase = DONE;
	}
}

static void begin_stop(struct session *s)
{
	bool served = s->phase == RUNNING;

	if (s->phase == STOPPING || s->phase == DONE) {
		return;
	}
	s->phase = STOPPING;
	steer_stopping(&s->steer);
	proxy_close_clients(s->proxy, 1001, "codex-switch is exiting");
	if (!served && s->proxy) {
		/* A TUI that never got its connection gets a refusal instead, and exits. */
		proxy_refuse_clients(s->proxy);
	}
	/* The app-server writes what the session did once its client is gone: stopped at once,
	 * it could leave the session out of the next `run resume`'s picker. */
	children_stop_app(&s->kids, served ? APP_SETTLE_US : 0);
	/* The TUI sees its connection end; give it time to restore the terminal. */
	children_stop_tui(&s->kids, 0, TUI_GRACE_US);
	maybe_done(s);
}

static void child_exited(void *ctx, enum children_which which, int status)
{
	struct session *s = ctx;

	if (which == CHILDREN_TUI && s->phase < RUNNING) {
		/* It gave up waiting (codex allows 10 s to connect) or could not start. */
		char what[96];
		snprintf(what, sizeof(what),
		         "codex exited (status %d) while the app-server was starting", status);
		fail_with_tail(s, what, "the app-server's");
	} else if (which == CHILDREN_TUI) {
		if (!s->fatal[0]) {
			s->exit_status = status;
		}
		begin_stop(s);
	} else if (s->phase != STOPPING) {
		char what[96];
		proxy_close_clients(s->proxy, 1011, "app-server exited");
		snprintf(what, sizeof(what), "the codex app-server exited unexpectedly (status %d)",
		         status);
		fail_with_tail(s, what, "its");
	}
	maybe_done(s);
}

static void on_signal(struct session *s, int sig)
{
	if (sig == SIGCHLD) {
		children_reap(&s->kids);
		return;
	}
	log_info("received signal %d", sig);
	if (s->kids.tui_pid > 0 && s->phase < STOPPING) {
		/* The TUI decides how to end; it exits, and we follow. */
		children_stop_tui(&s->kids, sig, TUI_GRACE_US);
		begin_stop(s);
		return;
	}
	children_stop_tui(&s->kids, 0, 0); /* a second signal: no more waiting */
	children_stop_app(&s->kids, 0);
	if (!s->fatal[0]) {
		s->exit_status = 128 + sig;
	}
	begin_stop(s);
}

static void on_signalfd(struct ev_io *io, uint32_t events)
{
	struct session *s = EV_CONTAINER_OF(io, struct session, sig_io);
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		on_signal(s, (int)si.ssi_signo);
	}
}

/* ---- proxy hooks: the proxy reports, the supervisor routes ---- */

static enum proxy_verdict hook_server_message(void *ctx, struct proxy_conn *c,
                                              const struct jsonrpc_head *h, const char *json,
                                              size_t len)
{
	struct session *s = ctx;

	return steer_server_message(&s->steer, c, proxy_conn_is_control(c), h, json, len);
}

static enum proxy_verdict hook_client_message(void *ctx, struct proxy_conn *c,
                                              const struct jsonrpc_head *h, const char *json,
                                              size_t len)
{
	struct session *s = ctx;

	return steer_client_message(&s->steer, c, h, json, len);
}

static void hook_conn_opened(void *ctx, struct proxy_conn *c)
{
	struct session *s = ctx;

	if (!proxy_conn_is_control(c)) {
		return;
	}
	if (s->phase == STARTING) {
		s->phase = LOGGING_IN;
	}
	if (steer_control_opened(&s->steer) < 0) {
		fail(s, "cannot talk to the codex app-server on its control connection");
	}
}

static void hook_conn_closed(void *ctx, struct proxy_conn *c)
{
	struct session *s = ctx;

	steer_conn_closed(&s->steer, c, proxy_conn_is_control(c));
	if (proxy_conn_is_control(c)) {
		if (s->phase == RUNNING) {
			log_warn("control connection to the app-server closed; reconnecting");
			proxy_control_open(s->proxy, READY_TIMEOUT_MS);
		}
	}
}

static void hook_control_failed(void *ctx, const char *why)
{
	struct session *s = ctx;
	char what[256];

	if (s->phase == STOPPING || s->phase == DONE) {
		return;
	}
	snprintf(what, sizeof(what), "the codex app-server was not ready within %d s (%s)",
	         READY_TIMEOUT_MS / 1000, why);
	fail_with_tail(s, what, "its");
}

static const struct proxy_hooks hooks = {
        .server_message = hook_server_message,
        .client_message = hook_client_message,
        .conn_opened = hook_conn_opened,
        .conn_closed = hook_conn_closed,
        .control_failed = hook_control_failed,
};

/* ---- start and end ---- */

static void wake_loop(void *ctx)
{
	ev_wake(ctx);
}

static void on_wake(void *ctx)
{
	struct session *s = ctx;

	worker_drain(s->env.worker);
}

static int create_loop(struct session *s, const sigset_t *mask)
{
	struct proxy_config pc = {
	        .ev = s->env.ev,
	        .upstream_port = s->where.app_port,
	        .listen_path = s->where.tui_sock,
	        .upstream_path = s->where.app_sock,
	        .token = s->tui_token,
	        .upstream_token = s->app_token.token,
	        .max_message = MAX_MESSAGE,
	        .max_queued = MAX_QUEUED,
	        .server_methods = steer_server_methods,
	        .internal_id_prefix = RPCMSG_ID_PREFIX,
	        .client_methods = steer_client_methods,
	        .hooks = &hooks,
	        .hooks_ctx = s,
	};
	int fd;

	s->env.ev = pc.ev = ev_new();
	if (!s->env.ev) {
		return -errno;
	}
	s->env.worker = worker_create(8, wake_loop, s->env.ev);
	if (!s->env.worker) {
		return -errno;
	}
	ev_set_wake(s->env.ev, on_wake, s);
	s->proxy = proxy_create(&pc);
	if (!s->proxy && pc.listen_path) {
		/* A store on a file system without unix sockets: TCP, as with an older codex. */
		log_info("cannot listen on '%s': %s; the session uses 127.0.0.1", pc.listen_path,
		         strerror(errno));
		if (transport_use_tcp(&s->where)) {
			return -EADDRNOTAVAIL;
		}
		pc.listen_path = pc.upstream_path = NULL;
		pc.upstream_port = s->where.app_port;
		s->proxy = proxy_create(&pc);
	}
	if (!s->proxy) {
		return -errno;
	}
	proxy_hold_clients(s->proxy, true); /* until the start account is logged in */
	fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (ev_io_start(s->env.ev, &s->sig_io, fd, EPOLLIN, on_signalfd) < 0) {
		close(fd);
		return -EIO;
	}
	return 0;
}

static int spawn_app_server(struct session *s)
{
	/* execvp takes char *const[]: writable copies of the fixed words. */
	char listen[300], app[] = "app-server", lopt[] = "--listen", aopt[] = "--ws-auth",
	                  amode[] = "capability-token", fopt[] = "--ws-token-file";
	char *argv[] = {(char *)s->cfg->codex_bin, app, lopt, listen, aopt, amode, fopt,
	                s->app_token.path,         NULL};

	/* The token flags stay on a unix socket too: codex ignores them there, and we send it. */
	transport_app_url(&s->where, listen, sizeof(listen));
	return children_start_app(&s->kids, argv);
}

/* ---- the start account, chosen on the worker while the app-server starts ---- */

/* After a provisional start: the choice confirms the account, or the session switches. */
static void settle(struct session *s, int status, const struct account *a, const char *why)
{
	startpick_store(&s->pick);
	if (status != EXIT_SUCCESS) {
		log_warn("the start account could not be checked with fresh usage; the session "
		         "stays on it");
		steer_settle(&s->steer, NULL, NULL);
	} else if (steer_settle(&s->steer, a, why) < 0) {
		fail(s, "cannot switch to the start account: out of memory");
	}
}

static void start_chosen(void *ctx, int status, const struct account *a)
{
	struct session *s = ctx;
	const char *why = s->cfg->start->why;

	if (status == -ECANCELED || s->phase == STOPPING || s->phase == DONE) {
		return; /* stopping already */
	}
	if (s->cfg->account_id) {
		settle(s, status, a, why);
		return;
	}
	if (status != EXIT_SUCCESS) {
		s->exit_status = status; /* runstart said why */
		begin_stop(s);
		return;
	}
	if (why[0]) {
		/* Before the TUI owns the terminal: the user's choice was not followed. */
		fprintf(stderr, "codex-switch: %s\n", why);
	}
	/* Queued before any pool load: that one then reads the fresh usage cache. */
	startpick_store(&s->pick);
	if (steer_start(&s->steer, a, why) < 0) {
		fail(s, "cannot log in the start account: out of memory");
	}
}

static int make_tokens(struct session *s)
{
	const struct paths *p = s->cfg->paths;
	unsigned char raw[UTIL_TOKEN_HEX_LEN / 2];
	int r;

	captoken_clean_stale(p->runtime_dir);
	r = captoken_create(&s->app_token, p->runtime_dir);
	if (r) {
		log_error("cannot create the token file in '%s': %s", p->runtime_dir, strerror(-r));
		return r;
	}
	r = util_random_bytes(raw, sizeof(raw));
	if (r) {
		log_error("cannot make a token: %s", strerror(-r));
		return r;
	}
	util_hex(raw, sizeof(raw), s->tui_token);
	memset(raw, 0, sizeof(raw));
	log_pin_secret(s->tui_token); /* never evicted, however many tokens follow */
	return 0;
}

/*
 * codex's version, asked while the app-server started (codexver_prefetch): the control
 * connection and our own backend requests introduce themselves with it, as codex does.
 */
static int check_codex(struct session *s)
{
	const char *v = codexver_installed(s->cfg->codex_bin);

	if (!v) {
		log_warn("cannot read the version of '%s'; run 'codex-switch doctor'",
		         s->cfg->codex_bin);
		return 0; /* the app-server says what is wrong */
	}
	if (codexver_cmp(v, CODEXVER_OLDEST) < 0) {
		/* printed once the TUI, if one started, has given the terminal back */
		fail(s,
		     "codex %s is older than %s, the oldest version codex-switch supports; "
		     "update codex to %s or pass --codex-bin PATH",
		     v, CODEXVER_OLDEST, CODEXVER_PINNED);
		return -ENOTSUP;
	}
	log_info("codex %s", v);
	if (codexseen_remember(s->cfg->paths->codex_seen, s->cfg->codex_bin, v)) {
		log_debug("cannot record the version of '%s'; the next start waits for it",
		          s->cfg->codex_bin);
	}
	steer_codex_version(&s->steer, v);
	return 0;
}

/*
 * Whether the TUI may start before the login. Not when the start account is still to be
 * chosen (the choice may print first), nor for resume and fork: an app-server that has just
 * started may still be indexing the sessions the last run wrote, and a listing made at once
 * can miss one (seen with 0.169 in about half of the tries). Started after the login, the TUI
 * lists them some 100 ms later, as before.
 */
static bool early_tui(const struct session *s)
{
	return s->cfg->account_id && !runargs_reads_sessions(s->cfg->argc, s->cfg->argv);
}

static int start(struct session *s, const sigset_t *mask)
{
	char err[512];
	int r = make_tokens(s);

	if (r) {
		return r;
	}
	r = transport_choose(&s->where, s->cfg->paths, s->cfg->codex_bin);
	if (r) {
		return r;
	}
	r = create_loop(s, mask);
	if (r) {
		log_error("cannot start the proxy: %s", strerror(-r));
		return r;
	}
	/* First: it takes longest to be ready, and the rest is done while it starts. */
	r = spawn_app_server(s);
	if (r) {
		log_error("cannot start '%s app-server': %s; check --codex-bin or "
		          "CODEX_SWITCH_CODEX_BIN",
		          s->cfg->codex_bin, strerror(-r));
		return r;
	}
	if (s->where.app_sock) {
		log_info("app-server started (pid %ld) on %s", (long)s->kids.app_pid,
		         s->where.app_sock);
	} else {
		log_info("app-server started (pid %ld) on port %d", (long)s->kids.app_pid,
		         s->where.app_port);
	}
	if (steer_load(&s->steer, s->cfg->account_id, err, sizeof(err))) {
		log_error("%s", err);
		return -EINVAL;
	}
	if (s->cfg->start && s->cfg->account_id) {
		steer_provisional(&s->steer);
	}
	r = s->cfg->start ? startpick_begin(&s->pick) : 0;
	if (r) {
		log_error("cannot choose the start account: %s", strerror(-r));
		return r;
	}
	/* The account is known: the TUI starts while the app-server does. Otherwise its choice
	 * may still print to the terminal (choice_done), and the TUI waits for the login. The
	 * same codex file was a supported version before: no need to wait for its version. */
	if (early_tui(s) &&
	    codexseen_supported(s->cfg->paths->codex_seen, s->cfg->codex_bin, CODEXVER_OLDEST)) {
		r = start_tui(s);
	}
	r = r ? r : check_codex(s);
	if (r == 0) {
		r = proxy_control_open(s->proxy, READY_TIMEOUT_MS);
	}
	if (r == 0 && early_tui(s) && !s->tui_started) {
		r = start_tui(s);
	}
	return r;
}

static void finish(struct session *s)
{
	children_release(&s->kids);
	startpick_cancel(&s->pick);
	/* Queued jobs end (cancelled) here, while the parts they report to still exist. */
	s->phase = DONE;
	worker_destroy(s->env.worker);
	steer_release(&s->steer);
	if (s->sig_io.active) {
		ev_io_stop(s->env.ev, &s->sig_io);
		close(s->sig_io.fd);
	}
	proxy_destroy(s->proxy);
	ev_free(s->env.ev);
	transport_release(&s->where);
	captoken_destroy(&s->app_token);
	memset(s->tui_token, 0, sizeof(s->tui_token));
}

int session_run(const struct session_config *cfg)
{
	struct session *s = calloc(1, sizeof(*s));
	enum log_level saved = log_stderr_level();
	sigset_t mask, old;
	int r;
	int status;

	if (!s) {
		log_error("out of memory");
		return 1;
	}
	s->cfg = cfg;
	s->env.paths = cfg->paths;
	s->exit_status = 1;
	s->sig_io.fd = -1;
	util_uuid(s->run_id);
	endnote_init(&s->end);
	/* The parts keep &s->env; its loop and worker are filled in by start(). */
	children_init(&s->kids, &s->env, child_exited, s);
	steer_init(&s->steer, &s->env, &steer_ops, s, s->run_id, cfg->policy);
	startpick_init(&s->pick, &s->env, cfg->policy, cfg->start, start_chosen, s);
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
	/* Hours of usage re-checks and token renewals would each leave libcurl's and OpenSSL's
	 * memory in the relay: every request runs in a child of its own instead. */
	httpchild_enable();
	r = start(s, &mask);
	if (r && s->tui_started && !s->fatal[0]) {
		fail(s, "cannot start the session: %s", strerror(-r));
	}
	/* A TUI already started is given the loop to learn that the session ends. */
	if (r == 0 || s->tui_started) {
		while (s->phase != DONE && ev_run_once(s->env.ev) >= 0) {
		}
	}
	finish(s);
	endnote_restore(&s->end);
	sigprocmask(SIG_SETMASK, &old, NULL);
	log_set_stderr_level(saved);
	endnote_print(s->fatal, s->steer.running, s->steer.notice.thread_id);
	status = s->exit_status;
	free(s);
	return status;
}
