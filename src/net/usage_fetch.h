/*
 * Fetching usage from the ChatGPT backend (GET {chatgpt_base_url}/wham/usage). Blocking:
 * for commands and the runtime's worker thread, never the event loop.
 */
#ifndef CS_USAGE_FETCH_H
#define CS_USAGE_FETCH_H

#include "store/account.h"
#include "store/paths.h"
#include "policy/usage.h"

#include <stddef.h>

#define USAGE_HTTP_TIMEOUT_MS 30000L
#define USAGE_UNSUPPORTED     "usage unsupported"
/* Room for the header lines of a ChatGPT backend request, with the NULL that ends them. */
#define USAGE_HEADER_LINES 6

/*
 * Fetches the usage of the stored account account_id into u (initialised by the call;
 * release it in every case). Tokens are made fresh first (token_ensure_fresh), and a 401
 * leads to one forced refresh and one retry. On failure u->error says why too (for
 * usage_fetch_all's callers) and err gets a redacted message. Returns 0, -ENOTSUP for
 * API-key accounts (error "usage unsupported"), -EPROTO for a non-2xx answer or an
 * unreadable body, or the errors of token_ensure_fresh() and http_perform().
 */
int usage_fetch(const struct paths *p, const char *account_id, struct usage *u, char *err,
                size_t errsz);

/* The same with another limit on each usage request (not on token refreshes). */
int usage_fetch_timeout(const struct paths *p, const char *account_id, long timeout_ms,
                        struct usage *u, char *err, size_t errsz);

/*
 * The header lines every ChatGPT backend request of account a (borrowed) carries: bearer,
 * Accept, User-Agent, chatgpt-account-id and x-openai-fedramp when they apply. lines holds
 * USAGE_HEADER_LINES entries and ends NULL-terminated. One line holds the access token:
 * free them with usage_fetch_free_headers() in every case. 0 or -ENOMEM.
 */
int usage_fetch_headers(const struct account *a, char **lines);
void usage_fetch_free_headers(char **lines, size_t n);

/* Called after each finished fetch, from the calling thread, with the number done so far. */
typedef void (*usage_progress_fn)(size_t done, size_t total, void *ctx);

/*
 * Fetches the accounts ids[0..n) with at most USAGE_MAX_IN_FLIGHT requests at once;
 * out[i] (n elements, initialised by the call) belongs to ids[i]; failures are in
 * out[i].error. progress may be NULL. Returns 0, or -ENOMEM / -EAGAIN when the worker
 * threads cannot be set up.
 */
int usage_fetch_all(const struct paths *p, const char *const *ids, size_t n, struct usage *out,
                    usage_progress_fn progress, void *ctx);

/* The same with another limit on each usage request, for callers that must not wait long. */
int usage_fetch_all_timeout(const struct paths *p, const char *const *ids, size_t n,
                            long timeout_ms, struct usage *out, usage_progress_fn progress,
                            void *ctx);

#endif
