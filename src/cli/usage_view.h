/*
 * Showing usage to people (bars, local reset times, countdowns) and to scripts (JSON with
 * schema_version, no secrets). Shared by `usage` and, for the one-line summary, `list`.
 */
#ifndef CS_USAGE_VIEW_H
#define CS_USAGE_VIEW_H

#include "store/account.h"
#include "store/store.h"
#include "policy/usage.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A usage_progress_fn for a terminal: "fetching usage: done/total" on stderr, erased at the
 * end. ctx is unused. */
void usage_view_progress(size_t done, size_t total, void *ctx);

/* "resets 14:05 (in 2h 13m)" in local time; a day name is added beyond 24 h. */
void usage_view_reset(int64_t resets_at, int64_t now, char *out, size_t outsz);

/* A 20-cell bar for used_percent: "[#####---------------]". out holds >= 23 bytes. */
void usage_view_bar(double used_percent, char *out, size_t outsz);

/*
 * Why the account cannot be used now ("5-hour usage is 100.0%", "credits balance is 0",
 * "usage limit reached", ...), or NULL when it can. Static or in out (outsz bytes).
 */
const char *usage_view_unavailable(const struct usage *u, char *out, size_t outsz);

/* Compact "5h 31% · wk 7%" summary for tables; "-" when nothing is known. */
void usage_view_summary(const struct usage *u, char *out, size_t outsz);

/*
 * The text block of one account (a may be NULL when it was deleted meanwhile). next: the
 * policy would switch to this account if the current one stopped now (policy_inputs_next).
 */
void usage_view_print(FILE *f, const struct account *a, const struct usage *u, int64_t now,
                      bool next);

/*
 * {"schema_version":1,"command":"usage","accounts":[...]} for ids[i] / u[i], i < n. The
 * entry whose id is next_id (may be NULL) gets "next": true, the others false. forecast (may
 * be NULL; consumed) becomes the "forecast" member (`usage --all`).
 */
void usage_view_print_json(FILE *f, const struct store *s, const char *const *ids,
                           const struct usage *u, size_t n, const char *next_id, cJSON *forecast);

#endif
