/*
 * Taking in what $CODEX_HOME/auth.json holds before codex-switch overwrites it, so a login the
 * user made with plain `codex login` is never lost (issue #15): an unknown ChatGPT account is
 * stored under a new name, newer tokens of a stored account are saved to it, and a file
 * codex-switch cannot store (an API key it does not hold, another auth mode, broken JSON) is
 * copied 0600 into the store's directory. Every command that writes auth.json calls this first;
 * `run` calls it at start and the session when it sees auth.json change.
 */
#ifndef CS_ADOPT_H
#define CS_ADOPT_H

#include "store/paths.h"
#include "store/store.h"

#include <stddef.h>

/* Longest name given to an adopted account (the CLI's limit for names). */
#define ADOPT_MAX_NAME 64

enum adopt_kind {
	ADOPT_NOTHING,   /* no auth.json, or it holds a stored account and nothing newer */
	ADOPT_REFRESHED, /* newer tokens of a stored account were saved to it */
	ADOPT_ADDED,     /* an unknown ChatGPT account was stored under a new name */
	ADOPT_COPIED,    /* a file codex-switch cannot store was copied into the store's dir */
};

struct adopt_result {
	enum adopt_kind kind;
	long index;        /* index in the store of the account auth.json holds; -1: none */
	char id[64];       /* its id, "" when none */
	char message[768]; /* for the user (plain words, no secrets); "" when nothing to say */
};

/*
 * The work, inside a store transaction (s is the locked, freshly loaded store; fn-style
 * return): 0 when s is unchanged, 1 when s changed and must be saved, < 0 on an error, with
 * res->message saying what to do. A missing auth.json is ADOPT_NOTHING. An auth.json that
 * cannot be read (other than missing) is an error: it must not be overwritten unseen.
 * Nothing is logged here.
 */
int adopt_in_store(const struct paths *p, struct store *s, struct adopt_result *res);

/*
 * adopt_in_store as its own store transaction, entered only when there may be something to
 * adopt: no auth.json, or a login stored already with tokens not older than auth.json's, is
 * settled from an unlocked read (ADOPT_NOTHING, res->id set for a stored login), with no lock
 * file created. res->message, when set, is also logged as a warning (stderr for commands; the
 * run log in a session, which shows it inline itself). Returns 0 or the negative errno of the
 * failure (logged). Blocks only on the store lock and small file I/O, like every store
 * transaction.
 */
int adopt_authjson(const struct paths *p, struct adopt_result *res);

#endif
