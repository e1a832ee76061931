/*
 * The state of the steering hub, shared by the steer*.c files, which are one component split
 * for size. It sits below all of them so that none includes the hub's header to reach it: calls
 * go from steer.c down to the other steer_*.c files, never back up. session.c embeds struct
 * steer (through steer.h) and reads only running and notice.thread_id; the rest is steer's own.
 */
#ifndef CS_SESSION_STEER_INT_H
#define CS_SESSION_STEER_INT_H

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
#include <time.h>

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
	bool revoking;            /* deciding on a revoked login: the running turn fails anyway */
	bool credit_tried;        /* a reset credit was spent (or tried) since the last switch */
	bool auth_write_pending;  /* our own auth.json write is on the worker */
	bool check_auth, consider_after_load;
	bool unknown_current_told;
	int follow_attempts;
	struct ev_timer follow_tm;
	bool resume_after_load; /* parked: the reset passed, decide again */
	struct startgate gate;  /* turns wait while the start account is provisional */
	struct account settle;  /* the start choice, come before the provisional login ended */
	/* A switch decided while a turn ran: a login of another account ends the running turn
	 * (0.169: "application network permission was revoked"), so it waits for the turn's end. */
	struct account deferred;
	struct switch_request deferred_req;
	char settle_note[768];
	bool settle_keep; /* the choice failed: the provisional account stays */
	/* The fresh usage kept the provisional account: the held turns wait for the pool's
	 * load of that usage, which may say every account is spent. */
	bool settle_load;
};

static inline int64_t steer_now(void)
{
	return (int64_t)time(NULL);
}

/* Before the TUI runs the start owns the account; once the session ends nothing is decided. */
static inline bool steer_deciding(const struct steer *s)
{
	return s->running && !s->stopping;
}

#endif
