/*
 * Signing in to ChatGPT the way codex does: the browser flow (PKCE S256, a local callback
 * server on 127.0.0.1:1455, else 1457) and the device-code flow. Both end with the tokens of
 * the new sign-in; storing them is the caller's business. Blocking, for the `login` command.
 */
#ifndef CS_OAUTH_H
#define CS_OAUTH_H

#include <stddef.h>

#define OAUTH_PORT            1455
#define OAUTH_PORT_FALLBACK   1457
#define OAUTH_LOGIN_TIMEOUT_S (15 * 60)
#define OAUTH_HTTP_TIMEOUT_MS 30000L
#define OAUTH_SCOPES          "openid profile email offline_access"
/* 64 random bytes as base64url: 86 characters; the challenge is 43. */
#define OAUTH_VERIFIER_LEN  86
#define OAUTH_CHALLENGE_LEN 43
#define OAUTH_STATE_LEN     43

struct oauth_tokens {
	char *id_token; /* secrets: release with oauth_tokens_release() */
	char *access_token;
	char *refresh_token;
};

void oauth_tokens_release(struct oauth_tokens *t);

/* A fresh PKCE pair: a random verifier and its S256 challenge. */
int oauth_pkce(char verifier[OAUTH_VERIFIER_LEN + 1], char challenge[OAUTH_CHALLENGE_LEN + 1]);

/* A random state parameter (32 bytes, base64url). */
int oauth_state(char out[OAUTH_STATE_LEN + 1]);

/* {issuer}/oauth/authorize?... with codex's parameters. Caller frees; NULL on -ENOMEM. */
char *oauth_authorize_url(const char *issuer, const char *redirect_uri, const char *challenge,
                          const char *state);

/*
 * Reads {id_token, access_token, refresh_token} from a token response body; all three must be
 * there. -EINVAL otherwise.
 */
int oauth_parse_tokens(const char *body, struct oauth_tokens *t);

/* POSTs the authorization_code grant to {issuer}/oauth/token (form-encoded, PKCE). */
int oauth_exchange_code(const char *issuer, const char *redirect_uri, const char *code,
                        const char *verifier, struct oauth_tokens *t, char *err, size_t errsz);

/*
 * What the caller does with the tokens of a sign-in before the user is told it worked (for
 * `login`: store the account). It may take the strings out of t. A negative return fails the
 * sign-in; err (errsz bytes) then says why, and the browser is told it failed.
 */
typedef int (*oauth_accept_fn)(struct oauth_tokens *t, void *ctx, char *err, size_t errsz);

/*
 * The browser flow: prints the URL to stderr, opens a browser when one is available, waits
 * up to OAUTH_LOGIN_TIMEOUT_S for the callback, exchanges the code, calls accept, and answers
 * the browser with the outcome. Returns 0 or a negative errno with err set.
 */
int oauth_login_browser(const char *issuer, oauth_accept_fn accept, void *ctx, char *err,
                        size_t errsz);

/* The device-code flow: prints the code and the URL to stderr, polls until approved, then
 * exchanges the code and calls accept. */
int oauth_login_device(const char *issuer, oauth_accept_fn accept, void *ctx, char *err,
                       size_t errsz);

#endif
