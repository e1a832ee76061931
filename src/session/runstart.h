/* Choosing the account `codex-switch run` starts on. */
#ifndef CS_RUNSTART_H
#define CS_RUNSTART_H

#include "store/paths.h"
#include "policy/policy.h"

#include <stddef.h>

/* Each usage request at start-up waits at most this long; the cache fills in the rest. */
#define RUNSTART_USAGE_TIMEOUT_MS 5000L

struct runstart {
	const char *pin; /* in: `run --account` selector (borrowed), or NULL */
	char id[64];     /* out: the account to start on */
	/*
	 * out: plain words why the session does not start on the account auth.json holds, for the
	 * screen ("starting on bob (5678abcd) instead of alice (1234abcd): alice (1234abcd)
	 * cannot be used: its 5-hour window is used up (free again in 2h 3m); bob ..."); "" when
	 * it starts on that account or on the pinned one.
	 */
	char why[768];
	/* out: what adopting auth.json did (adopt_result.message, already logged); "" if nothing */
	char adopted[768];
};

/*
 * First takes in what auth.json holds (adopt_authjson: an unknown `codex login` is stored, so
 * a first run with an empty store starts on it). Then the user's choice wins: the pinned
 * account, else the one auth.json holds unless it cannot be used (limit reached, needs a new
 * login, excluded from automatic switching); only then does the policy choose (usage fetched
 * with a bound, the cache as fallback) and rs->why says why. Errors are logged with what to do
 * next. Returns an exit status (EXIT_OK when rs->id is set).
 */
int runstart_choose(const struct paths *p, const struct policy_config *c, struct runstart *rs);

#endif
