/*
 * $CODEX_SWITCH_HOME/usage-cache.json: the last usage fetched per account id, so `list` and
 * the runtime can show and reason about usage without asking the backend each time. It holds
 * no secrets. A corrupt cache is ignored with a warning, never fatal; it is written
 * atomically (0600) under runtime/usage-cache.lock.
 */
#ifndef CS_USAGE_CACHE_H
#define CS_USAGE_CACHE_H

#include "store/paths.h"
#include "policy/usage.h"

#include <stdbool.h>
#include <stddef.h>

/* The cached usage of account_id into u (initialised by the call). -ENOENT when none. */
int usage_cache_load(const struct paths *p, const char *account_id, struct usage *u);

/*
 * The cached usage of every ids[i] into out[i] (i < n; initialised by the call; an account
 * without an entry, or a NULL ids[i], gets an empty usage), reading the file once.
 * found_each[i] (may be NULL) says which had an entry. Returns how many were found, or
 * -ENOMEM. The caller releases each out[i].
 */
int usage_cache_load_all(const struct paths *p, const char *const *ids, size_t n, struct usage *out,
                         bool *found_each);

/*
 * Stores usages[i] for ids[i] (i < n), keeping the other accounts' entries. Entries whose
 * usage has an error are skipped, so a failed fetch never hides the last good numbers.
 */
int usage_cache_store(const struct paths *p, const char *const *ids, const struct usage *usages,
                      size_t n);

/* Drops the entries of account ids that are not in keep[0..n) (after deletes). */
int usage_cache_prune(const struct paths *p, const char *const *keep, size_t n);

#endif
