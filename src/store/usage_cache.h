/*
 * $CODEX_SWITCH_HOME/usage-cache.json: the last usage fetched per account id, so `list` and
 * the runtime can show and reason about usage without asking the backend each time. It holds
 * no secrets. A corrupt cache is ignored with a warning, never fatal; it is written
 * atomically (0600) under runtime/usage-cache.lock.
 */
#ifndef CS_USAGE_CACHE_H
#define CS_USAGE_CACHE_H

#include "store/paths.h"
#include "store/store.h"
#include "policy/forecast.h"
#include "policy/usage.h"

#include <stdbool.h>
#include <stddef.h>

/* The cached usage of account_id into u (initialised by the call). -ENOENT when none. */
int usage_cache_load(const struct paths *p, const char *account_id, struct usage *u);

/* The history of each entry: a snapshot per fetch, for the pool forecast. */
#define USAGE_CACHE_HISTORY_MAX   96
#define USAGE_CACHE_HISTORY_AGE_S (24 * 3600)

/*
 * The cached usage of every ids[i] into out[i] (i < n; initialised by the call; an account
 * without an entry, or a NULL ids[i], gets an empty usage), reading the file once.
 * found_each[i] (may be NULL) says which had an entry. Returns how many were found, or
 * -ENOMEM. The caller releases each out[i].
 */
int usage_cache_load_all(const struct paths *p, const char *const *ids, size_t n, struct usage *out,
                         bool *found_each);

/*
 * The cached usage of every account of s, the file read once: (*out)[i] and (*found)[i] for
 * s->accounts[i] (API-key accounts have none). Both arrays are the caller's, freed with
 * usage_cache_free_all(). 0, or -ENOMEM (nothing to free then).
 */
int usage_cache_load_store(const struct paths *p, const struct store *s, struct usage **out,
                           bool **found);
void usage_cache_free_all(struct usage *u, bool *found, size_t n);

/*
 * Stores usages[i] for ids[i] (i < n), keeping the other accounts' entries. Entries whose
 * usage has an error are skipped, so a failed fetch never hides the last good numbers.
 * Each stored usage also adds a snapshot to the entry's history (one per fetched_at; within
 * 2 minutes of the last one it replaces it; at most USAGE_CACHE_HISTORY_MAX, none older than
 * USAGE_CACHE_HISTORY_AGE_S). A reset credit expiry the new usage does not know is kept
 * while the credit count stays the same.
 */
int usage_cache_store(const struct paths *p, const char *const *ids, const struct usage *usages,
                      size_t n);

/*
 * The history of account_id, oldest first, into *out (n elements; caller frees; NULL when
 * none). Broken points are skipped. 0, or -ENOMEM.
 */
int usage_cache_history(const struct paths *p, const char *account_id, struct forecast_point **out,
                        size_t *n);

/* Drops the entries of account ids that are not in keep[0..n) (after deletes). */
int usage_cache_prune(const struct paths *p, const char *const *keep, size_t n);

#endif
