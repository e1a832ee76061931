/*
 * The account store: $CODEX_SWITCH_HOME/accounts.json, guarded by accounts.lock.
 *
 * Every change is a transaction: take the cross-process lock, reload the file, apply the
 * change, write atomically if anything changed, release. A lock whose owner process is dead is
 * reclaimed. A file that cannot be parsed is never overwritten.
 */
#ifndef CS_STORE_H
#define CS_STORE_H

#include "store/account.h"
#include "store/paths.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct store {
	struct account *accounts; /* owned array */
	size_t n;
	cJSON *json; /* owned: top level as read, so unknown top-level fields survive */
};

/*
 * Loads accounts.json (a missing file is an empty store). On a parse error returns -EINVAL and
 * writes a one-line description naming the file into err (errsz bytes).
 */
int store_load(const struct paths *p, struct store *s, char *err, size_t errsz);
void store_release(struct store *s);

/*
 * A transaction: fn runs on a freshly loaded store while the lock is held; it returns < 0 to
 * abort (nothing is written, its value is returned), 0 for "no change", > 0 to save.
 * err receives a description of lock, load or save failures.
 */
typedef int (*store_fn)(struct store *s, void *ctx);
int store_update(const struct paths *p, store_fn fn, void *ctx, char *err, size_t errsz);

/* Serialises s (pretty JSON, trailing newline) into a new string; NULL on -ENOMEM. */
char *store_to_string(const struct store *s);

/* Appends a copy of a; -ENOMEM. */
int store_add(struct store *s, const struct account *a);
/* Removes the account at index i (released). */
void store_remove(struct store *s, size_t i);

/* Index of the account with this exact id, or -1. */
long store_find_id(const struct store *s, const char *id);
/* Index of the first account with the same identity as a (account_same_identity), or -1. */
long store_find_identity(const struct store *s, const struct account *a);
/* Index of the ChatGPT account whose chatgpt_account_id is acct (first match), or -1. */
long store_find_chatgpt_account(const struct store *s, const char *acct);

/*
 * Resolves a selector: a name, a full id, a unique id prefix or a unique email.
 * Returns the index, -ENOENT when nothing matches, -EEXIST when several do; then err lists the
 * candidates as "name (id8)".
 */
long store_select(const struct store *s, const char *selector, char *err, size_t errsz);

#endif
