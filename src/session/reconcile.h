/*
 * Noticing the user's changes made outside the session: `codex-switch switch X` or
 * `auto-switch` in another terminal, or `codex login`, rewrite $CODEX_HOME/auth.json; other
 * commands rewrite accounts.json and usage-cache.json. inotify on the two directories (the
 * files are replaced by rename, so watches on the files themselves would be lost), and a short
 * debounce so a rename burst is reported once. What to do about a change is the supervisor's.
 */
#ifndef CS_SESSION_RECONCILE_H
#define CS_SESSION_RECONCILE_H

#include "base/ev.h"
#include "session/part.h"

#include <stdbool.h>

#define RECONCILE_DEBOUNCE_US (150 * 1000)

enum {
	RECONCILE_AUTH = 1,     /* auth.json */
	RECONCILE_ACCOUNTS = 2, /* accounts.json */
	RECONCILE_USAGE = 4,    /* usage-cache.json */
};

struct reconcile {
	const struct session_env *env;        /* borrowed */
	void (*changed)(void *ctx, int what); /* RECONCILE_* bits, after the debounce */
	void *ctx;
	struct ev_io io; /* the inotify descriptor, -1 when not watching */
	struct ev_timer tm;
	int what;
};

void reconcile_init(struct reconcile *r, const struct session_env *env,
                    void (*changed)(void *ctx, int what), void *ctx);
/* Starts watching codex_home and store_dir. 0 or -errno (then nothing is watched). */
int reconcile_start(struct reconcile *r);
void reconcile_release(struct reconcile *r);

#endif
