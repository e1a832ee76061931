/*
 * The capability token shared by the app-server, the proxy and the TUI: 32 random bytes as 64
 * hex characters, written to $CODEX_SWITCH_HOME/runtime/ws-token-<pid>-<uuid> (0600, O_EXCL,
 * O_NOFOLLOW) for `--ws-token-file`, and given to the TUI only through its environment.
 * The pid in the name lets a later run remove files that a killed run left behind.
 */
#ifndef CS_CAPTOKEN_H
#define CS_CAPTOKEN_H

#include "base/util.h"

struct captoken {
	char token[UTIL_TOKEN_HEX_LEN + 1];
	char *path; /* owned */
};

/* Creates a fresh token and its file in runtime_dir (which must exist, 0700). */
int captoken_create(struct captoken *t, const char *runtime_dir);

/* Removes the file and wipes the token; safe to call twice and on a zeroed struct. */
void captoken_destroy(struct captoken *t);

/* Removes the files of runs (ws-token-<pid>-..., and the sockets sock-<pid>-... of
 * session/transport) in runtime_dir whose owner process no longer exists. */
void captoken_clean_stale(const char *runtime_dir);

#endif
