/*
 * Keeping a ChatGPT account's tokens fresh. token_ensure_fresh() is the one path every
 * refresh takes, in commands and in the runtime's worker thread alike, so a refresh token is
 * used exactly once even when plain codex, other codex-switch processes and our own threads
 * all want fresh tokens at the same moment:
 *
 *   1. custody: newer tokens of this account in $CODEX_HOME/auth.json (plain codex or the
 *      app-server refreshed them) are taken into the store first;
 *   2. no network while the access token is valid for more than TOKEN_REFRESH_SKEW_S;
 *   3. a per-account cross-process lock (runtime/refresh-<id>.lock), then a reload: if
 *      someone else refreshed meanwhile, their tokens are used;
 *   4. the request; rotated fields replace the stored ones, absent ones are kept; the store
 *      is updated in a transaction and auth.json is rewritten when the account is current.
 *
 * Blocking (network, lock waits): never call it on an event loop.
 */
#ifndef CS_TOKEN_H
#define CS_TOKEN_H

#include "store/account.h"
#include "store/paths.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_REFRESH_SKEW_S     (5 * 60)
#define TOKEN_FALLBACK_MAX_AGE_S (8 * 24 * 3600)
#define TOKEN_HTTP_TIMEOUT_MS    30000L
#define TOKEN_LOCK_TIMEOUT_MS    (120 * 1000)
#define TOKEN_MAX_ATTEMPTS       3
#define TOKEN_MAX_BODY           (256 * 1024)

enum token_error_kind {
	TOKEN_ERROR_TRANSIENT = 0,
	TOKEN_ERROR_TERMINAL,
};

/*
 * Makes the account with id account_id fresh (refreshing when force, or when it needs it)
 * and copies the stored result into out (caller releases with account_release()).
 * Returns 0; -ENOENT (no such account); -EKEYREVOKED when the auth server rejected the
 * refresh token for good (the account is then marked relogin_reason in the store and needs
 * `codex-switch login <name> --replace`); -EXDEV when the answer carried another account's
 * tokens (nothing is stored); -EAGAIN / -ETIMEDOUT for transient failures;
 * other -errno. err receives a redacted, actionable message on failure.
 * API-key accounts are returned as they are.
 */
int token_ensure_fresh(const struct paths *p, const char *account_id, bool force,
                       struct account *out, char *err, size_t errsz);

/* True when a's access token expires within TOKEN_REFRESH_SKEW_S of now (Unix s), or, when
 * its exp is unreadable, when the last refresh is older than TOKEN_FALLBACK_MAX_AGE_S. */
bool token_needs_refresh(const struct account *a, int64_t now);

/*
 * Classifies a failed refresh response: invalid_grant, refresh_token_reused/_expired/
 * _invalidated and HTTP 400/401/403 are terminal, everything else transient. code (may be
 * NULL) receives a static name of the recognised error code or NULL.
 */
enum token_error_kind token_classify(long status, const char *body, const char **code);

/*
 * Copies the fields present in a token response body (id_token, access_token,
 * refresh_token) into a, keeping absent ones, then applies the new id token's claims.
 * -EINVAL when body is not a JSON object or carries no access token and no id token.
 * -EXDEV when the id token or access token names another user id or workspace (account) id
 * than a holds: a is then left unchanged, never relabelled as someone else.
 */
int token_apply_response(struct account *a, const char *body);

#endif
