/*
 * Where the OpenAI auth server and the ChatGPT backend are, and how we introduce ourselves
 * to them (the same client id, originator and User-Agent shape as codex).
 *
 *   token refresh:  $CODEX_REFRESH_TOKEN_URL_OVERRIDE (trimmed; empty = default),
 *                   else https://auth.openai.com/oauth/token
 *   OAuth issuer:   $CODEX_SWITCH_AUTH_BASE_URL, else https://auth.openai.com
 *   ChatGPT API:    $CODEX_SWITCH_CHATGPT_BASE_URL, else chatgpt_base_url from
 *                   $CODEX_HOME/config.toml, else https://chatgpt.com/backend-api
 */
#ifndef CS_ENDPOINTS_H
#define CS_ENDPOINTS_H

#include "store/paths.h"

#include <stddef.h>

#define ENDPOINTS_CLIENT_ID          "app_EMoamEEZ73f0CkXaXp7hrann"
#define ENDPOINTS_DEFAULT_ISSUER     "https://auth.openai.com"
#define ENDPOINTS_DEFAULT_REFRESH    "https://auth.openai.com/oauth/token"
#define ENDPOINTS_DEFAULT_CHATGPT    "https://chatgpt.com/backend-api"
#define ENDPOINTS_DEFAULT_ORIGINATOR "codex_cli_rs"

/* The token refresh URL. Caller frees; NULL on -ENOMEM. */
char *endpoints_refresh_url(void);

/* The OAuth issuer, without a trailing slash. Caller frees; NULL on -ENOMEM. */
char *endpoints_issuer(void);

/* The ChatGPT backend base URL, without a trailing slash. p may be NULL (no config.toml). */
char *endpoints_chatgpt_base(const struct paths *p);

/*
 * Reads a top-level string key of a TOML file (before any [table]); basic and literal
 * strings. *out is a new string (caller frees). -ENOENT when the file or the key is missing,
 * -EINVAL when the value is not a string, other -errno from reading.
 */
int endpoints_toml_string(const char *path, const char *key, char **out);

/* The originator header value ($CODEX_INTERNAL_ORIGINATOR_OVERRIDE or codex_cli_rs). */
char *endpoints_originator(void);

/*
 * "codex_cli_rs/<version> (<os> <os version>; <arch>) <terminal>", as codex sends it.
 * The version is the installed codex's, as codex puts its own there: the one set with
 * endpoints_set_codex_version(), else codexver_for_agent() (the first call may run
 * `codex --version`: call it once off the event loop before). Caller frees.
 */
char *endpoints_user_agent(void);

/*
 * The "<os> <version>" part of the User-Agent as codex shows it ("Debian 12.0.0", "Ubuntu
 * 22.4.0"), from an os-release file. -ENOENT when the distribution is not one codex names
 * (the caller then uses uname), other -errno from reading.
 */
int endpoints_os_token(const char *os_release, char *out, size_t outsz);

/* Sets the codex version for the User-Agent (a caller that knows it; tests). Thread-safe. */
void endpoints_set_codex_version(const char *version);

#endif
