/*
 * The pool forecast of `usage --all` for people and scripts: which accounts count, their
 * snapshot histories from the usage cache, and the sentence ("At the pace of the last 2 h
 * your 3 accounts last about 6 h 10 min (until 21:40); the first window resets at 17:02").
 */
#ifndef CS_FORECAST_VIEW_H
#define CS_FORECAST_VIEW_H

#include "policy/forecast.h"
#include "store/paths.h"
#include "store/store.h"
#include "policy/usage.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The forecast for the accounts of s (borrowed) that count: enabled ChatGPT accounts that need
 * no new login and whose usage ids[k] / u[k] (k < n) was fetched without an error. Their
 * histories come from the usage cache (stored after the fetch). 0 or -ENOMEM.
 */
int forecast_view_compute(const struct paths *p, const struct store *s, const char *const *ids,
                          const struct usage *u, size_t n, int64_t now, struct forecast *out);

/* The forecast as a paragraph for people, ending in a newline. */
void forecast_view_print(FILE *f, const struct forecast *fc, int64_t now);

/* The forecast as the "forecast" object of `usage --all --json`. NULL on -ENOMEM. */
cJSON *forecast_view_json(const struct forecast *fc, int64_t now);

#endif
