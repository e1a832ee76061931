/*
 * Codex's own $CODEX_HOME/auth.json: read it, recognise which stored account it is, and write
 * an account into it (atomic, 0600) so plain `codex` uses that account.
 */
#ifndef CS_AUTHJSON_H
#define CS_AUTHJSON_H

#include "store/account.h"
#include "store/paths.h"
#include "store/store.h"

/*
 * Reads auth.json into a (an unsaved account without id or name). -ENOENT when missing;
 * -EINVAL with err set when it cannot be parsed; -ENOTSUP with err set for the auth modes
 * codex-switch cannot store (chatgptAuthTokens, agentIdentity).
 */
int authjson_read(const char *path, struct account *a, char *err, size_t errsz);

/* Writes a as auth.json at path (atomic, 0600, trailing newline). */
int authjson_write(const char *path, const struct account *a);

/* Serialises a in auth.json form into a new string (caller frees with util_free_secret). */
char *authjson_to_string(const struct account *a);

/*
 * Index in s of the account that $CODEX_HOME/auth.json holds, or -1 (missing, unreadable, or
 * no stored account matches).
 */
long authjson_current(const struct paths *p, const struct store *s);

#endif
