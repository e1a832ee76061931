/* State shared by runtime.c (processes, signals, lifecycle) and switcher.c (accounts). */
#ifndef CS_RUNTIME_INTERNAL_H
#define CS_RUNTIME_INTERNAL_H

#include "account.h"
#include "captoken.h"
#include "proxy.h"
#include "runtime.h"
#include "util.h"
#include "worker.h"

#include <libwebsockets.h>
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
	const struct runtime_config *cfg;
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
	lws_sorted_usec_list_t stop_sul, tui_kill_sul;

	/* Accounts. */
	struct account active; /* logged into the app-server (a copy of the stored one) */
	struct rt_exhausted exhausted[64];
	size_t nexhausted;
	bool all_exhausted_told;
	int64_t last_reset_hint; /* from the last rate-limit update of the active account */
	struct rt_login *login;  /* the one pending account/login/start, or NULL */
	struct rt_refresh *refreshes;
	char init_id[96];
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

#endif
