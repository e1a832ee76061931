/* State shared by runtime.c (processes, signals, lifecycle) and switcher.c (accounts). */
#ifndef CS_SESSION_INTERNAL_H
#define CS_SESSION_INTERNAL_H

#include "store/account.h"
#include "policy/policy.h"
#include "session/captoken.h"
#include "proxy/proxy.h"
#include "policy/usage.h"
#include "session/session.h"
#include "base/util.h"
#include "base/worker.h"

#include "base/ev.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_STDERR_TAIL 4096 /* last bytes of the app-server's stderr kept for error messages */

enum rt_phase {
	RT_STARTING,   /* app-server spawned, control connection not open yet */
	RT_LOGGING_IN, /* control connection initialising and logging the account in */
	RT_RUNNING,    /* TUI running */
	RT_STOPPING,   /* TUI gone or fatal error: stopping the app-server */
	RT_DONE,
};

/* One account's known exhaustion, so a switch never goes back to it before it resets. */
struct rt_exhausted {
	char id[UTIL_UUID_LEN + 1];
	int64_t until; /* Unix seconds; 0 = unknown, treated as an hour from when it was marked */
};

struct rt {
	const struct session_config *cfg;
	struct proxy *proxy;
	struct worker *worker;
	struct captoken token;
	char run_id[UTIL_UUID_LEN + 1];
	long next_id;
	enum rt_phase phase;
	int exit_status;
	char fatal[512]; /* why the session ended early, for the user */

	pid_t app_pid, tui_pid;
	int app_port;
	int sigfd, app_err_fd;
	char err_tail[RT_STDERR_TAIL];
	size_t err_tail_len;
	int term_sent; /* SIGTERMs sent to the app-server while stopping */
	struct ev_timer stop_tm, tui_kill_tm;

	/* Accounts. */
	struct account active; /* logged into the app-server (a copy of the stored one) */
	struct rt_exhausted exhausted[64];
	size_t nexhausted;
	bool all_exhausted_told;
	int64_t last_reset_hint; /* from the last rate-limit update of the active account */
	struct rt_login *login;  /* the one pending account/login/start, or NULL */
	struct rt_refresh *refreshes;
	char init_id[96];

	/* Policy (issue #5). */
	struct policy_config policy;
	int64_t last_soft_switch; /* Unix seconds; 0 = never */
	struct usage live;        /* the active account's "codex" limits from the app-server */
	bool live_valid;

	/* Activity, periodic re-check, token prewarm (maintain.c). */
	int64_t last_activity; /* Unix seconds of the last turn/start; 0 = none yet */
	bool recheck_armed, recheck_running, prewarm_running;
	struct ev_timer recheck_tm, prewarm_tm;
	struct rt_turn *turns; /* the last turn/start of each thread, newest first */
	size_t nturns;

	/* External changes to auth.json / accounts.json (reconcile.c). */
	int inotify_fd;
	bool auth_write_pending; /* our own auth.json write is on the worker */
	struct ev_timer reconcile_tm;
	int reconcile_attempt;
	bool unknown_current_told;
};

/* runtime.c */
void rt_fail(struct rt *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rt_next_id(struct rt *rt, char *out, size_t outsz);
void rt_control_ready(struct rt *rt);

/* switcher.c: the proxy hooks that concern accounts. */
enum proxy_verdict switcher_server_message(struct rt *rt, struct proxy_conn *c,
                                           const struct jsonrpc_head *h, const char *json,
                                           size_t len);
void switcher_conn_closed(struct rt *rt, struct proxy_conn *c);
/* Logs the start account in on the control connection; the TUI starts when that succeeds. */
int switcher_initial_login(struct rt *rt);
void switcher_release(struct rt *rt);
/*
 * Asks the policy for a better account and switches to it. reason says why (for the warning);
 * POLICY_HARD also when the active account cannot go on.
 */
void switcher_consider(struct rt *rt, enum policy_mode mode, const char *reason);
/* The active account's refresh token was refused for good: switch away, or say so once. */
void switcher_login_revoked(struct rt *rt);
/* Logs account id in (the user chose it outside the session), telling the TUI why. */
void switcher_follow(struct rt *rt, const char *id, const char *reason);
/* Re-sends the active account's (fresh) tokens to the app-server; no warning. */
void switcher_relogin_active(struct rt *rt, const struct account *fresh);

/* tokenreq.c: answers to account/chatgptAuthTokens/refresh */
void tokenreq_on_request(struct rt *rt, struct proxy_conn *c, const struct jsonrpc_head *h);
void tokenreq_conn_closed(struct rt *rt, struct proxy_conn *c);
void tokenreq_release(struct rt *rt);

/* maintain.c */
enum proxy_verdict maintain_client_message(struct rt *rt, const struct jsonrpc_head *h,
                                           const char *json, size_t len);
void maintain_logged_in(struct rt *rt); /* after each login of the active account */
void maintain_release(struct rt *rt);

/* reconcile.c */
int reconcile_start(struct rt *rt);
void reconcile_on_ready(struct rt *rt);
void reconcile_after_login(struct rt *rt); /* a login finished: look again for changes */
void reconcile_release(struct rt *rt);

#endif
