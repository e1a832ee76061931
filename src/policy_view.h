/*
 * The policy as the commands see it: policy_account entries built from the store and the
 * usage a command has (fetched now, else the cache), the config with the commands' error
 * handling, and the "next" account that `list` and `usage --all` mark.
 */
#ifndef CS_POLICY_VIEW_H
#define CS_POLICY_VIEW_H

#include "paths.h"
#include "policy.h"
#include "store.h"
#include "usage.h"

#include <stdbool.h>
#include <stddef.h>

struct policy_view_entry {
	char label[256];         /* "name (id8)" */
	struct usage cached;     /* owned: the cache entry, when it was used */
	bool from_cache;         /* the usage is the cached one */
	const char *fetch_error; /* borrowed from the fetched usage: why the cache was used */
};

struct policy_view {
	struct policy_account *accounts; /* owned array of n, in store order */
	struct policy_view_entry *e;     /* owned array of n */
	size_t n;
};

/*
 * Builds v for every account of s (borrowed; it must outlive v). The usage of an account is
 * the fetched[k] whose ids[k] is its id (both borrowed, k < nfetched; they must outlive v)
 * when that fetch succeeded, else its usage-cache entry, else unknown. `list` passes none.
 * Returns 0 or -ENOMEM (v is then empty and safe to release).
 */
int policy_view_init(struct policy_view *v, const struct paths *p, const struct store *s,
                     const char *const *ids, const struct usage *fetched, size_t nfetched);
/* Frees the contents; a zeroed view is fine. */
void policy_view_release(struct policy_view *v);

/*
 * config.json into c. Returns 0; on a bad file it logs the error and returns its code, with
 * c at the defaults (callers that can go on just ignore the result).
 */
int policy_view_config(const struct paths *p, struct policy_config *c);

/*
 * The index in s of the account the policy would switch to if the current one (index
 * current, -1 = none) stopped now, or -1; a bad config.json is a warning here.
 */
long policy_view_next(const struct paths *p, const struct store *s, long current,
                      const char *const *ids, const struct usage *fetched, size_t nfetched);

#endif
