/*
 * The policy as the commands see it: policy_account entries built from the store and the
 * usage a command has (fetched now, else the cache), the config with the commands' error
 * handling, and the "next" account that `list` and `usage --all` mark.
 */
#ifndef CS_POLICY_INPUTS_H
#define CS_POLICY_INPUTS_H

#include "store/paths.h"
#include "policy/policy.h"
#include "store/store.h"
#include "policy/usage.h"

#include <stdbool.h>
#include <stddef.h>

struct policy_inputs_entry {
	char label[256];         /* "name (id8)" */
	struct usage cached;     /* owned: the cache entry, when it was used */
	bool from_cache;         /* the usage is the cached one */
	const char *fetch_error; /* borrowed from the fetched usage: why the cache was used */
};

struct policy_inputs {
	struct policy_account *accounts; /* owned array of n, in store order */
	struct policy_inputs_entry *e;   /* owned array of n */
	size_t n;
};

/*
 * Builds v for every account of s (borrowed; it must outlive v). The usage of an account is
 * the fetched[k] whose ids[k] is its id (both borrowed, k < nfetched; they must outlive v)
 * when that fetch succeeded, else its usage-cache entry, else unknown. `list` passes none.
 * Returns 0 or -ENOMEM (v is then empty and safe to release).
 */
int policy_inputs_init(struct policy_inputs *v, const struct paths *p, const struct store *s,
                       const char *const *ids, const struct usage *fetched, size_t nfetched);
/* Frees the contents; a zeroed view is fine. */
void policy_inputs_release(struct policy_inputs *v);

/*
 * config.json into c. Returns 0; on a bad file it logs the error and returns its code, with
 * c at the defaults (callers that can go on just ignore the result).
 */
int policy_inputs_config(const struct paths *p, struct policy_config *c);

/*
 * The index in s of the account the policy would switch to if the current one (index
 * current, -1 = none) stopped now, or -1; a bad config.json is a warning here.
 */
long policy_inputs_next(const struct paths *p, const struct store *s, long current,
                        const char *const *ids, const struct usage *fetched, size_t nfetched);

#endif
