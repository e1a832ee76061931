/*
 * Steering the accounts of a running session: which account the app-server holds, when to
 * switch and to whom, and telling the user. It owns the account parts (pool, chooser,
 * switcher, tokenreq, maintain, reconcile, notice) and decides on what they report; the
 * supervisor (session.c) owns it, hands it the proxy's messages, and gives it a narrow way
 * back (steer_ops).
 */
#ifndef CS_SESSION_STEER_H
#define CS_SESSION_STEER_H

#include "policy/policy.h"
#include "policy/usage.h"
#include "proxy/proxy.h"
#include "session/chooser.h"
#include "session/maintain.h"
#include "session/notice.h"
#include "session/park.h"
#include "session/part.h"
#include "session/pool.h"
#include "session/reconcile.h"
#include "session/resubmit.h"
#include "session/startgate.h"
#include "session/switcher.h"
#include "session/tokenreq.h"
#include "session/turns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct steer_ops {
	/* Sends json (owned: freed by the callee, as a secret) on the control connection. */
	int (*send_control)(void *ctx, char *json);
	/* Sends json (owned, likewise) toward the app-server on conn. */
	int (*send_to_server)(void *ctx, struct proxy_conn *conn, char *json);
	/* Sends json (borrowed) to the TUI of conn, or to every TUI when conn is NULL. */
	int (*send_to_tui)(void *ctx, struct proxy_conn *conn, const char *json);
	/* The start account is logged in: the TUI may start. */
	void (*logged_in)(void *ctx);
	/* The session cannot go on; msg is for the user. */
	void (*fail)(void *ctx, const char *msg);
};

struct steer {
	const struct session_env *env; /* borrowed */
	const struct steer_ops *ops;   /* borrowed */
	void *ctx;
	char start_id[64];
	bool running, stopping;

	struct pool pool;
	struct chooser chooser;
	struct switcher sw;
	struct tokenreq tokens;
	struct maintain maint;
	struct reconcile watch;
	struct notice notice;
	struct turns turns;
	struct resubmit resub;
	struct park park;

	struct account active; /* logged into the app-server (a copy of the stored one) */
	struct usage live;     /* the active account's "codex" limits from the app-server */
	bool live_valid;
	bool limits_stale; /* switched: no turn has started on the new account yet */
	int64_t last_reset_hint;
	bool all_exhausted_told;
	char park_told_turn[128]; /* the held turn the waiting line was told for */
	bool in_error;            /* deciding on a usage-limit error (not a rate-limit update) */
	bool credit_tried;        /* a reset credit was spent (or tried) since the last switch */
	bool auth_write_pending;  /* our own auth.json write is on the worker */
	bool check_auth, consider_after_load;
	bool unknown_current_told;
	int follow_attempts;
	struct ev_timer follow_tm;
	bool resume_after_load; /* parked: the reset passed, decide again */
	struct startgate gate;  /* turns wait while the start account is provisional */
	struct account settle;  /* the start choice, come before the provisional login ended */
	char settle_note[768];
	bool settle_keep; /* the choice failed: the provisional account stays */
};

/* Nothing runs yet; ops and policy (may be NULL: defaults) are borrowed for s's lifetime. */
void steer_init(struct steer *s, const struct session_env *env, const struct steer_ops *ops,
                void *ctx, const char *run_id, const struct policy_config *policy);
void steer_release(struct steer *s);

/*
 * Loads the accounts (blocking: before the loop runs); start_id is the start account, or
 * NULL while it is being chosen (steer_start() then names it).
 */
int steer_load(struct steer *s, const char *start_id, char *err, size_t errsz);

/*
 * The start account was chosen while the app-server started: a (borrowed; tokens fresh) is
 * logged in as soon as the control connection is initialized, and ops->logged_in follows.
 * note (may be NULL) is shown to the user once the TUI is there (why this account).
 */
int steer_start(struct steer *s, const struct account *a, const char *note);

/*
 * The start account given to steer_load() is provisional: the TUI's turns are held until
 * steer_settle() confirms it or the switch to the account it names is done.
 */
void steer_provisional(struct steer *s);

/*
 * The start choice made with fresh usage, after a provisional start: a (borrowed; tokens
 * fresh) stays if it is the active account, else the session switches to it, note (may be
 * NULL) being the reason the TUI is told; a NULL a keeps the provisional account. Then the
 * held turns go.
 */
int steer_settle(struct steer *s, const struct account *a, const char *note);

/* The control connection opened: initialize, then the start account once it is known (or
 * the next login). */
int steer_control_opened(struct steer *s);
void steer_conn_closed(struct steer *s, struct proxy_conn *conn, bool control);

/* The TUI runs: watch for outside changes, act on triggers. */
void steer_running(struct steer *s);
/* The session is ending: decide nothing more. */
void steer_stopping(struct steer *s);

/* The proxy's intercepted messages (proxy.h rules); the verdict is the proxy's. */
enum proxy_verdict steer_server_message(struct steer *s, struct proxy_conn *conn, bool control,
                                        const struct jsonrpc_head *h, const char *json, size_t len);
enum proxy_verdict steer_client_message(struct steer *s, struct proxy_conn *conn,
                                        const struct jsonrpc_head *h, const char *json, size_t len);

#endif
