/*
 * Rate-limit reset credits: ChatGPT grants some accounts credits that reset their usage
 * windows. GET {chatgpt_base_url}/wham/rate-limit-reset-credits lists them, POST
 * .../consume spends one. Blocking: for commands and the runtime's worker thread, never the
 * event loop. A credit is scarce, so nothing here spends one unless asked to: `reset-usage`
 * asks, and `run` may ask only when config.json sets auto_reset_credits.
 */
#ifndef CS_CREDITS_H
#define CS_CREDITS_H

#include "policy/usage.h"
#include "store/paths.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Listing is only for display: a slow backend must not hold up `usage` for long. */
#define CREDITS_LIST_TIMEOUT_MS    5000L
#define CREDITS_CONSUME_TIMEOUT_MS 30000L
/* Largest answer of either endpoint we read. */
#define CREDITS_MAX_BODY (256 * 1024)

struct credits_info {
	long available;          /* available_count, else the credits with status "available" */
	int64_t earliest_expiry; /* the earliest future expires_at of those, Unix s; 0 = none */
	char reset_type[64];     /* reset_type of that credit ("" when unknown) */
};

enum credits_code {
	CREDITS_RESET,            /* windows were reset */
	CREDITS_NOTHING_TO_RESET, /* no window was used: the credit was kept */
	CREDITS_NO_CREDIT,        /* the account has no credit */
	CREDITS_ALREADY_REDEEMED, /* this request id was used already */
	CREDITS_UNKNOWN,          /* a code we do not know (in code_text) */
};

struct credits_result {
	enum credits_code code;
	char code_text[32]; /* the code as the backend sent it, printable */
	long windows_reset; /* windows_reset, -1 when absent */
};

/*
 * Parses a GET /wham/rate-limit-reset-credits body; credits expiring at or before now are
 * not counted for earliest_expiry. -EINVAL when body is not a JSON object.
 */
int credits_parse_list(const char *body, int64_t now, struct credits_info *out);

/* Parses a consume answer. -EINVAL when body is not a JSON object with a string "code". */
int credits_parse_consume(const char *body, struct credits_result *out);

/* One sentence for people: "reset 2 usage windows", "nothing to reset: ...". Static text or
 * in out (outsz bytes). */
const char *credits_describe(const struct credits_result *r, char *out, size_t outsz);

/*
 * Lists the credits of the stored account account_id (tokens made fresh first, as usage_fetch
 * does; a 401 leads to one forced refresh and one retry). err gets a redacted message.
 * Returns 0, -ENOTSUP for API-key accounts, -EPROTO for a non-2xx answer or a bad body, or
 * the errors of token_ensure_fresh() and http_perform().
 */
int credits_fetch(const struct paths *p, const char *account_id, long timeout_ms,
                  struct credits_info *out, char *err, size_t errsz);

/*
 * Spends one credit of account_id: POST .../consume with a new redeem_request_id (a v4
 * uuid, so a retried request cannot spend two). Same errors as credits_fetch. After a reset
 * the account's usage is fetched again into the usage cache (best effort; failing that, the
 * cached credit count goes one down), so the cache shows it usable at once.
 */
int credits_consume(const struct paths *p, const char *account_id, struct credits_result *out,
                    char *err, size_t errsz);

/*
 * For `run` when every account is spent: the index in s of the account whose cached usage
 * says it has an available reset credit, or -1 (no network). u[i] is the cached usage of
 * s->accounts[i], have[i] whether the cache had an entry (both borrowed, s->n of each).
 * Disabled accounts, API-key accounts and accounts that need a new login are skipped. Among
 * several, the credit that expires first wins (it would be lost soonest), then the account
 * with the most weekly usage (a reset gives it back the most).
 */
long credits_pick(const struct store *s, const struct usage *u, const bool *have);

/*
 * For the waiting notice of `run` when every account is spent: one sentence (no newline) that
 * names the account credits_pick() chooses and the command that spends its credit, e.g.
 * "work (1a2b3c4d) has 2 rate-limit reset credits: 'codex-switch reset-usage work' resets its
 * usage windows", into out; "" when no account has one. Returns the index, or -1.
 */
long credits_hint_from(const struct store *s, const struct usage *u, const bool *have, char *out,
                       size_t outsz);
/* The same from usage-cache.json, read once. Safe on the worker thread. */
long credits_hint(const struct paths *p, const struct store *s, char *out, size_t outsz);

#endif
