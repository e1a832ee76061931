/* Choosing the account `codex-switch run` starts on. */
#ifndef CS_RUNSTART_H
#define CS_RUNSTART_H

#include "policy/policy.h"
#include "session/startusage.h"
#include "store/account.h"
#include "store/paths.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

/* Each usage request at start-up waits at most this long; the cache fills in the rest. */
#define RUNSTART_USAGE_TIMEOUT_MS 5000L
/*
 * A usage cache entry at most this old that says the account auth.json holds cannot be used
 * makes the session wait for the fresh usage: a week, the longest window. An older entry says
 * nothing of any window, like none at all (a first run): the session starts at once on that
 * account. A wrong guess costs no turn (the gate holds it), only a switch line.
 */
#define RUNSTART_PROVISIONAL_MAX_AGE_S (7 * 86400)

struct runstart {
	const char *pin;       /* in: `run --account` selector (borrowed), or NULL */
	const char *codex_bin; /* in: the codex the session runs (borrowed), named by the queries */
	char id[64];           /* out: the account to start on */
	/*
	 * out: plain words why the session does not start on the account auth.json holds, for the
	 * screen ("starting on bob (5678abcd) instead of alice (1234abcd): alice (1234abcd)
	 * cannot be used: its 5-hour window is used up (free again in 2h 3m); bob ..."); "" when
	 * it starts on that account or on the pinned one.
	 */
	char why[768];
	/* out: what adopting auth.json did (adopt_result.message, already logged); "" if nothing */
	char adopted[768];
	/* out: a choice is left for runstart_finish() (no --account) */
	bool pending;
	/*
	 * out: while the choice is pending, the account auth.json holds unless the usage cache
	 * (an entry at most RUNSTART_PROVISIONAL_MAX_AGE_S old) says it cannot be used now, or it
	 * needs a new login or is excluded: the session may start on it and let the fresh usage
	 * confirm or correct it (steer_settle); the queries then wait for runstart_go(). ""
	 * otherwise.
	 */
	char provisional[64];

	/* private: between runstart_begin() and runstart_release() */
	struct store store;
	long cur;         /* the account auth.json holds, or -1 */
	const char **ids; /* the accounts whose usage is asked (borrowed from store) */
	size_t nids;
	bool child; /* the queries run in a child (startusage.h) */
	struct startusage usage;
};

/*
 * The start, in two halves so the app-server can start while the usage queries run.
 * runstart_begin() first takes in what auth.json holds (adopt_authjson: an unknown `codex
 * login` is stored, so a first run with an empty store starts on it). Then the user's choice
 * wins: with rs->pin, rs->id is the pinned account at once. Otherwise it checks that there is
 * something to start on, starts the usage queries in a child process (startusage.h; call it
 * while the process has one thread), sets rs->pending and maybe rs->provisional. Errors are logged
 * with what to do next. Returns an exit status; call runstart_release() in every case.
 */
int runstart_begin(const struct paths *p, const struct policy_config *c, struct runstart *rs);

/* With rs->provisional: the session has started, the usage queries may begin. */
void runstart_go(struct runstart *rs);

/*
 * Blocking (the worker, or before the loop): the choice left pending. The account auth.json
 * holds unless it cannot be used (limit reached, needs a new login, excluded from automatic
 * switching); only then the policy's (fresh usage where the queries answered, the cache
 * where they did not), and rs->why says why. Returns an exit status (EXIT_OK when rs->id is
 * set); a no-op when nothing is pending.
 */
int runstart_finish(const struct paths *p, const struct policy_config *c, struct runstart *rs);

/*
 * The app-server refreshes auth.json by itself when its token is about to expire, which would
 * rotate the refresh token behind the store's back: so the start account's tokens are made
 * fresh and written to auth.json before it gets them. *out (may be NULL) receives the
 * account with those tokens (the caller releases it). Blocking. An exit status, logged.
 */
int runstart_tokens(const struct paths *p, const char *id, struct account *out);
/* The same without writing auth.json (the switch to it writes it). */
int runstart_fresh(const struct paths *p, const char *id, struct account *out);

/*
 * While the choice is pending the app-server already runs, and reads auth.json: the tokens
 * of the account it holds are renewed first if they are near their expiry. Blocking.
 */
void runstart_current_tokens(const struct paths *p, const struct runstart *rs);

/*
 * Blocking: once runstart_finish() has chosen, the usage child still stores what it fetched
 * in the usage cache; this waits for that, so what reads the cache next sees it.
 */
void runstart_settle(struct runstart *rs);

/* Ends the usage queries early (the session is stopping). Any thread. */
void runstart_cancel(struct runstart *rs);
void runstart_release(struct runstart *rs);

#endif
