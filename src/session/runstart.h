/* Choosing the account `codex-switch run` starts on. */
#ifndef CS_RUNSTART_H
#define CS_RUNSTART_H

#include "store/paths.h"
#include "policy/policy.h"

#include <stddef.h>

/* Each usage request at start-up waits at most this long; the cache fills in the rest. */
#define RUNSTART_USAGE_TIMEOUT_MS 5000L

/*
 * Fetches every usable account's usage (bounded; the cache is the fallback), runs the policy
 * for a start (POLICY_INITIAL) and writes the chosen account's id into id. Errors are logged
 * with what to do next. Returns an exit status (EXIT_OK when id is set).
 */
int runstart_choose(const struct paths *p, const struct policy_config *c, char *id, size_t idsz);

#endif
