/*
 * `codex-switch run`: the app-server, the proxy in front of it, the TUI, and the account
 * switching between them, all on one event loop.
 */
#ifndef CS_SESSION_H
#define CS_SESSION_H

#include "store/paths.h"
#include "policy/policy.h"

struct runstart;

struct session_config {
	const struct paths *paths; /* borrowed */
	const char *codex_bin;
	int argc; /* codex arguments (checked by runargs_check) */
	char *const *argv;
	const char *cwd;
	/* the account to start on (a ChatGPT account; its tokens fresh in auth.json), or NULL
	 * while the choice is pending */
	const char *account_id;
	/* the pending choice (runstart.h; borrowed, rs->pending), finished on the worker while
	 * the app-server starts; or NULL. Without account_id the start account is logged in once
	 * it is made; with one (rs->provisional) that one starts at once, the TUI's turns wait
	 * for the choice, and the session switches if it differs (steer_settle). */
	struct runstart *start;
	const struct policy_config *policy; /* borrowed */
};

/*
 * Runs the session to its end. Returns the exit status for the process: the TUI's (128 +
 * signal when it was killed), or 1 when the session could not start or the app-server died.
 */
int session_run(const struct session_config *cfg);

#endif
