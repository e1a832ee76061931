/*
 * The hot swap itself, on the session's control connection: the connection's initialize,
 * then one account/login/start at a time (type chatgptAuthTokens). Before a login the
 * target's tokens are made fresh on the worker (token_ensure_fresh, the one locked refresh
 * path). The supervisor decides whom to log in and why; the switcher reports how it went.
 */
#ifndef CS_SESSION_SWITCHER_H
#define CS_SESSION_SWITCHER_H

#include "base/ev.h"
#include "policy/policy.h"
#include "session/part.h"
#include "store/account.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

#define SWITCHER_LOGIN_TIMEOUT_US (20 * 1000000)

enum switch_kind {
	SWITCH_INITIAL,  /* the start account, before the TUI runs (tokens are fresh already) */
	SWITCH_POLICY,   /* the policy chose another account */
	SWITCH_EXTERNAL, /* the user chose it outside the session (auth.json changed) */
	SWITCH_RENEW,    /* the active account with renewed tokens: nothing to tell */
};

struct switch_request {
	enum switch_kind kind;
	enum policy_mode mode; /* SWITCH_POLICY */
	char reason[256];      /* plain words, for the notice */
};

struct switch_result {
	const struct switch_request *req; /* borrowed for the call */
	int err;                          /* 0: the app-server took the account */
	const char *msg;                  /* why not (err != 0); borrowed for the call */
	/* The account as logged in (fresh tokens); borrowed for the call: account_copy() or take
	 * its contents (then zero it). */
	struct account *account;
};

struct switcher_ops {
	void *ctx;
	/* Sends json (owned: freed by the callee, as a secret) on the control connection; 0 or
	 * -ENOTCONN when there is none. */
	int (*send)(void *ctx, char *json);
	/* The control connection is ready for logins (initialize answered), or failed to be. */
	void (*ready)(void *ctx, int err);
	/* A switcher_start() ended. */
	void (*done)(void *ctx, const struct switch_result *r);
};

struct switch_pending;

struct switcher {
	const struct session_env *env; /* borrowed */
	struct switcher_ops ops;
	char prefix[96]; /* of our request ids: RPCMSG_ID_PREFIX "<run>/login/" */
	long next_id;
	char init_id[128];
	char client_version[64];
	bool ready;
	struct switch_pending *pending; /* the one login under way, or NULL */
};

/* env and ops are copied/borrowed; run_id names the session in request ids. */
void switcher_init(struct switcher *s, const struct session_env *env,
                   const struct switcher_ops *ops, const char *run_id, const char *client_version);
void switcher_release(struct switcher *s);
/* The version the next initialize gives as its clientInfo (copied). */
void switcher_set_client_version(struct switcher *s, const char *client_version);

/* The control connection opened: sends initialize. */
int switcher_connected(struct switcher *s);
/* The control connection closed: not ready; a login under way is retried after the next
 * switcher_connected(). */
void switcher_disconnected(struct switcher *s);

/* A login is under way. */
bool switcher_busy(const struct switcher *s);
/* The login's account/login/start is out and not yet answered. */
bool switcher_logging_in(const struct switcher *s);
/* The account of the login under way, or NULL. */
const struct account *switcher_target(const struct switcher *s);

/*
 * Logs target (copied) in. -EBUSY when a login is under way, -ENOMEM. The result comes
 * through ops.done, never from inside this call.
 */
int switcher_start(struct switcher *s, const struct account *target,
                   const struct switch_request *req);

/* A response to one of our requests (id starts with our prefix or is the initialize's).
 * Returns true when it was the switcher's. */
bool switcher_on_response(struct switcher *s, const char *id, const cJSON *msg);

#endif
