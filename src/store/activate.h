/*
 * Making a stored account the one plain `codex` uses: its credentials go into
 * $CODEX_HOME/auth.json and its last use into the store. Shared by `switch` and `auto-switch`
 * so both commit a switch the same way.
 */
#ifndef CS_ACTIVATE_H
#define CS_ACTIVATE_H

#include "store/paths.h"

#include <stddef.h>

/*
 * Makes the stored account with this id (borrowed) current. Its token is refreshed first
 * when it expires soon (outside the store transaction, since token_ensure_fresh takes the
 * store lock itself; a failed refresh is a warning and the stored tokens are written). Then,
 * under the store lock: what auth.json held is taken in first (adopt_in_store: newer tokens,
 * an unknown login, a copy of an API key; the user is told on stderr), auth.json is written
 * (atomic, 0600) and last_used_at is set. label (labelsz bytes; may be
 * NULL) receives "name (id8)". Errors are logged here. Returns 0, -ENOENT when the account
 * is no longer stored, or the error of the write.
 */
int activate_account(const struct paths *p, const char *id, char *label, size_t labelsz);

#endif
