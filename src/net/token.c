#include "net/token.h"

#include "store/authjson.h"
#include "net/endpoints.h"
#include "net/http.h"
#include "store/jwt.h"
#include "store/lockfile.h"
#include "base/log.h"
#include "store/store.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_BASE_MS 250
/* Upper bound on the time all attempts of one refresh may take together. */
#define TOTAL_BUDGET_MS 75000L

static const char *const terminal_codes[] = {
        "refresh_token_reused",
        "refresh_token_expired",
        "refresh_token_invalidated",
        "invalid_grant",
};

bool token_needs_refresh(const struct account *a, int64_t now)
{
	int64_t exp = jwt_exp(a->access_token);

	if (exp > 0) {
		return exp <= now + TOKEN_REFRESH_SKEW_S;
	}
	return a->token_last_refresh_at <= 0 ||
	       now - a->token_last_refresh_at / 1000000 > TOKEN_FALLBACK_MAX_AGE_S;
}

enum token_error_kind token_classify(long status, const char *body, const char **code)
{
	if (code) {
		*code = NULL;
	}
	for (size_t i = 0; body && i < UTIL_ARRAY_LEN(terminal_codes); i++) {
		if (strstr(body, terminal_codes[i])) {
			if (code) {
				*code = terminal_codes[i];
			}
			return TOKEN_ERROR_TERMINAL;
		}
	}
	return status == 400 || status == 401 || status == 403 ? TOKEN_ERROR_TERMINAL
	                                                       : TOKEN_ERROR_TRANSIENT;
}

static int replace_secret(char **dst, const cJSON *v)
{
	char *n;

	if (!cJSON_IsString(v) || !v->valuestring[0]) {
		return 0; /* absent: keep the stored one (rotation sends only what changed) */
	}
	n = strdup(v->valuestring);
	if (!n) {
		return -ENOMEM;
	}
	/* The tokens in use stay redacted however many others are registered after them. */
	if (log_pin_secret(n) == -ENOSPC) {
		log_debug("the redaction table has no room to pin another token");
	}
	log_unpin_secret(*dst);
	util_free_secret(*dst);
	*dst = n;
	return 0;
}

/* A stored id and the same claim of a token conflict only when both are known. */
static bool ids_conflict(const char *stored, const char *claim)
{
	return stored && stored[0] && claim && claim[0] && strcmp(stored, claim) != 0;
}

/* False when token (a JWT) names another user or workspace than the stored account a. */
static bool same_owner(const struct account *a, const cJSON *token)
{
	struct jwt_claims c;
	bool same;

	if (!cJSON_IsString(token) || jwt_claims(token->valuestring, &c) < 0) {
		return true; /* no readable claims: nothing says it is someone else's */
	}
	same = !ids_conflict(a->chatgpt_user_id, c.user_id) &&
	       !ids_conflict(a->chatgpt_account_id, c.account_id);
	jwt_claims_release(&c);
	return same;
}

int token_apply_response(struct account *a, const char *body)
{
	cJSON *o = cJSON_Parse(body ? body : "");
	const cJSON *id, *acc;
	int rc = -EINVAL;

	if (!cJSON_IsObject(o)) {
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(o, "id_token");
	acc = cJSON_GetObjectItemCaseSensitive(o, "access_token");
	if (!cJSON_IsString(id) && !cJSON_IsString(acc)) {
		goto out;
	}
	/* Relabelling the stored account as another person would merge two accounts into one. */
	if (!same_owner(a, id) || !same_owner(a, acc)) {
		rc = -EXDEV;
		goto out;
	}
	rc = replace_secret(&a->id_token, id);
	rc = rc ? rc : replace_secret(&a->access_token, acc);
	rc = rc ? rc
	        : replace_secret(&a->refresh_token,
	                         cJSON_GetObjectItemCaseSensitive(o, "refresh_token"));
	if (rc == 0 && cJSON_IsString(id) && account_apply_id_token(a) < 0) {
		log_warn(
		        "the refreshed id token of '%s' has unreadable claims; keeping the old ones",
		        a->name ? a->name : "?");
	}
out:
	cJSON_Delete(o);
	return rc;
}

/* ---- store access ---- */

static int load_account(const struct paths *p, const char *id, struct account *out, char *err,
                        size_t errsz)
{
	struct store s = {0};
	long i;
	int rc = store_load(p, &s, err, errsz);

	if (rc < 0) {
		return rc;
	}
	i = store_find_id(&s, id);
	if (i < 0) {
		snprintf(err, errsz, "account '%s' is not in the store", id);
		rc = -ENOENT;
	} else {
		rc = account_copy(out, &s.accounts[i]);
	}
	store_release(&s);
	return rc;
}

/* Replaces *dst by a copy of src (a secret); a NULL src keeps *dst. */
static void take_secret(char **dst, const char *src)
{
	if (src) {
		util_free_secret(*dst);
		*dst = strdup(src);
	}
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = util_strdup0(src);
}

static void take_tokens(struct account *dst, const struct account *src)
{
	take_secret(&dst->id_token, src->id_token);
	take_secret(&dst->access_token, src->access_token);
	take_secret(&dst->refresh_token, src->refresh_token);
}

/* True when the auth.json copy f holds newer tokens of the same account than stored a. */
static bool file_is_newer(const struct account *f, const struct account *a)
{
	bool differ = (f->refresh_token && a->refresh_token &&
	               strcmp(f->refresh_token, a->refresh_token) != 0) ||
	              (f->access_token && a->access_token &&
	               strcmp(f->access_token, a->access_token) != 0);

	if (a->kind != ACCOUNT_CHATGPT || f->kind != ACCOUNT_CHATGPT || !differ ||
	    !account_same_identity(f, a)) {
		return false;
	}
	return f->token_last_refresh_at > a->token_last_refresh_at ||
	       jwt_exp(f->access_token) > jwt_exp(a->access_token);
}

struct custody_ctx {
	const char *id;
	const struct account *file;
};

static int custody_fn(struct store *s, void *ctx)
{
	struct custody_ctx *c = ctx;
	long i = store_find_id(s, c->id);
	struct account *a;

	if (i < 0 || !file_is_newer(c->file, &s->accounts[i])) {
		return 0;
	}
	a = &s->accounts[i];
	take_tokens(a, c->file);
	if (!a->id_token || !a->access_token || !a->refresh_token) {
		return -ENOMEM;
	}
	if (account_apply_id_token(a) < 0) {
		log_warn(
		        "the id token in auth.json has unreadable claims; keeping the stored ones");
	}
	a->token_last_refresh_at = c->file->token_last_refresh_at > 0
	                                   ? c->file->token_last_refresh_at
	                                   : (int64_t)util_now() * 1000000;
	set_str(&a->relogin_reason, NULL);
	return 1;
}

/*
 * Takes newer tokens of account id from auth.json into the store, so a refresh token that
 * codex has rotated is never sent again. An unreadable auth.json is not our business here.
 */
static int custody(const struct paths *p, const char *id, char *err, size_t errsz)
{
	struct account file = {0}, cur = {0};
	struct custody_ctx c = {id, &file};
	char ignored[256];
	int rc = 0;

	if (authjson_read(p->auth_json, &file, ignored, sizeof(ignored)) < 0) {
		return 0;
	}
	if (load_account(p, id, &cur, err, errsz) == 0 && file_is_newer(&file, &cur)) {
		rc = store_update(p, custody_fn, &c, err, errsz);
		if (rc > 0) {
			log_info("took newer tokens of '%s' from %s", cur.name, p->auth_json);
		}
	}
	account_release(&cur);
	account_release(&file);
	return rc < 0 ? rc : 0;
}

/* ---- saving a refresh ---- */

struct save_ctx {
	const struct account *fresh;
	const char *relogin_reason; /* non-NULL: mark the account instead */
	const char *auth_json;
	const struct paths *p;
	int auth_rc;
};

static int save_fresh(struct store *s, struct account *a, struct save_ctx *c, long i)
{
	bool current = authjson_current(c->p, s) == i; /* before the tokens change */
	const struct account *f = c->fresh;

	take_tokens(a, f);
	if (!a->id_token || !a->access_token || !a->refresh_token) {
		return -ENOMEM;
	}
	set_str(&a->email, f->email);
	set_str(&a->plan_type, f->plan_type);
	set_str(&a->chatgpt_user_id, f->chatgpt_user_id);
	set_str(&a->chatgpt_account_id, f->chatgpt_account_id);
	a->fedramp = f->fedramp;
	a->subscription_expires_at = f->subscription_expires_at;
	a->token_last_refresh_at = f->token_last_refresh_at;
	set_str(&a->relogin_reason, NULL);
	if (current) {
		c->auth_rc = authjson_write(c->auth_json, a);
	}
	return 1;
}

static int save_fn(struct store *s, void *ctx)
{
	struct save_ctx *c = ctx;
	long i = store_find_id(s, c->fresh->id);
	struct account *a;

	if (i < 0) {
		return -ENOENT; /* deleted meanwhile: never resurrect it */
	}
	a = &s->accounts[i];
	if (c->relogin_reason) {
		free(a->relogin_reason);
		a->relogin_reason = strdup(c->relogin_reason);
		return a->relogin_reason ? 1 : -ENOMEM;
	}
	return save_fresh(s, a, c, i);
}

/* ---- the request ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static char *request_body(const struct account *a)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o && cJSON_AddStringToObject(o, "client_id", ENDPOINTS_CLIENT_ID) &&
	    cJSON_AddStringToObject(o, "grant_type", "refresh_token") &&
	    cJSON_AddStringToObject(o, "refresh_token", a->refresh_token)) {
		s = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	return s;
}

struct attempt {
	const char *url;
	const char *const *headers;
	const char *body;
	struct http_response resp;
	char neterr[256];
};

/* Sends the refresh with retries on network errors and 5xx. 0 when a response arrived. */
static int send_with_retries(struct attempt *at)
{
	int64_t deadline = util_now_ms() + TOTAL_BUDGET_MS;
	long timeout = http_timeout_ms(TOKEN_HTTP_TIMEOUT_MS);
	int rc = -EIO;

	for (int i = 1; i <= TOKEN_MAX_ATTEMPTS; i++) {
		long left = (long)(deadline - util_now_ms());
		struct http_request req = {"POST",           at->url,
		                           at->headers,      at->body,
		                           strlen(at->body), left < timeout ? left : timeout,
		                           TOKEN_MAX_BODY};
		if (left <= 0) {
			break;
		}
		http_response_release(&at->resp);
		rc = http_perform(&req, &at->resp, at->neterr, sizeof(at->neterr));
		if ((rc == 0 && at->resp.status < 500) || rc == -EINVAL || rc == -ENOMEM) {
			return rc;
		}
		log_debug("token refresh attempt %d failed (%s)", i,
		          rc == 0 ? "server error" : at->neterr);
		if (i < TOKEN_MAX_ATTEMPTS) {
			sleep_ms(RETRY_BASE_MS * i);
		}
	}
	return rc;
}

static int build_headers(char **lines, size_t n)
{
	char *orig = endpoints_originator(), *ua = endpoints_user_agent();

	memset(lines, 0, n * sizeof(*lines));
	lines[0] = strdup("Content-Type: application/json");
	lines[1] = strdup("Accept: application/json");
	lines[2] = orig ? util_printf("originator: %s", orig) : NULL;
	lines[3] = ua ? util_printf("User-Agent: %s", ua) : NULL;
	free(orig);
	free(ua);
	for (size_t i = 0; i < 4; i++) {
		if (!lines[i]) {
			return -ENOMEM;
		}
	}
	return 0;
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(lines[i]);
	}
}

/* Describes a failed response into err; returns -EKEYREVOKED or -EAGAIN. */
static int describe_failure(const struct account *a, long status, const char *body,
                            const char **code, char *err, size_t errsz)
{
	const char *secrets[] = {a->id_token, a->access_token, a->refresh_token, a->api_key};
	char *clean = http_redact_body(body, secrets, UTIL_ARRAY_LEN(secrets));
	char label[256];

	account_label(a, label, sizeof(label));
	if (token_classify(status, body, code) == TOKEN_ERROR_TERMINAL) {
		snprintf(err, errsz,
		         "the auth server rejected the refresh token of %s (HTTP %ld: %s); "
		         "run 'codex-switch login %s --replace' to sign in again",
		         label, status, clean ? clean : "", a->name);
		free(clean);
		return -EKEYREVOKED;
	}
	snprintf(err, errsz, "token refresh for %s failed: %ld - %s; try again later", label,
	         status, clean ? clean : "");
	free(clean);
	return -EAGAIN;
}

static int refresh_now(struct account *a, char *err, size_t errsz)
{
	char *hdr[5], *url = endpoints_refresh_url(), *body = request_body(a), label[256];
	struct attempt at = {.url = url, .headers = (const char *const *)hdr, .body = body};
	int rc = build_headers(hdr, UTIL_ARRAY_LEN(hdr));

	account_label(a, label, sizeof(label));
	if (rc == 0 && (!url || !body)) {
		rc = -ENOMEM;
	}
	rc = rc ? rc : send_with_retries(&at);
	if (rc < 0) {
		snprintf(err, errsz,
		         "cannot refresh the tokens of %s: %s; check the network and "
		         "try again",
		         label, rc == -ENOMEM ? "out of memory" : at.neterr);
		rc = rc == -ETIMEDOUT ? -ETIMEDOUT : rc == -ENOMEM ? -ENOMEM : -EAGAIN;
	} else if (at.resp.status < 200 || at.resp.status > 299) {
		rc = describe_failure(a, at.resp.status, at.resp.body, NULL, err, errsz);
	} else if ((rc = token_apply_response(a, at.resp.body)) == -EXDEV) {
		snprintf(err, errsz,
		         "the auth server answered the refresh of %s with the tokens of another "
		         "account (another user or workspace id); the stored tokens are kept; if "
		         "this repeats, run 'codex-switch login %s --replace'",
		         label, a->name);
	} else if (rc < 0) {
		snprintf(err, errsz,
		         "the auth server sent an unreadable token response for %s; "
		         "try again later",
		         label);
		rc = -EAGAIN;
	} else {
		a->token_last_refresh_at = (int64_t)util_now() * 1000000;
	}
	http_response_release(&at.resp);
	util_free_secret(body);
	free(url);
	free_lines(hdr, UTIL_ARRAY_LEN(hdr));
	return rc;
}

static int mark_relogin(const struct paths *p, const struct account *a, const char *reason)
{
	struct save_ctx c = {.fresh = a, .relogin_reason = reason, .p = p};
	char err[512];
	int rc = store_update(p, save_fn, &c, err, sizeof(err));

	if (rc < 0) {
		log_warn("cannot mark '%s' as needing a new login: %s", a->name, err);
	}
	return rc;
}

static int save_refresh(const struct paths *p, const struct account *a, char *err, size_t errsz)
{
	struct save_ctx c = {.fresh = a, .auth_json = p->auth_json, .p = p};
	int rc = store_update(p, save_fn, &c, err, errsz);

	if (rc >= 0 && c.auth_rc < 0) {
		log_warn("cannot rewrite '%s' with the refreshed tokens: %s", p->auth_json,
		         strerror(-c.auth_rc));
	}
	return rc < 0 ? rc : 0;
}

/* The part under the per-account refresh lock. cur is the caller's copy (before locking). */
static int refresh_locked(const struct paths *p, const struct account *cur, struct account *out,
                          char *err, size_t errsz)
{
	struct account now = {0};
	const char *code = NULL;
	char reason[128];
	int rc = custody(p, cur->id, err, errsz);

	rc = rc ? rc : load_account(p, cur->id, &now, err, errsz);
	if (rc < 0) {
		return rc;
	}
	/* Double check: another process or thread may have refreshed while we waited. */
	if (strcmp(now.access_token ? now.access_token : "",
	           cur->access_token ? cur->access_token : "") != 0 &&
	    !token_needs_refresh(&now, util_now())) {
		*out = now;
		return 0;
	}
	rc = refresh_now(&now, err, errsz);
	if (rc == -EKEYREVOKED) {
		token_classify(0, err, &code);
		snprintf(reason, sizeof(reason), "token refresh rejected (%s)",
		         code ? code : "HTTP 400/401/403");
		mark_relogin(p, &now, reason);
	} else if (rc == 0) {
		rc = save_refresh(p, &now, err, errsz);
	}
	if (rc == 0) {
		*out = now;
		return 0;
	}
	account_release(&now);
	return rc;
}

int token_ensure_fresh(const struct paths *p, const char *account_id, bool force,
                       struct account *out, char *err, size_t errsz)
{
	struct account cur = {0};
	struct lockfile lock = {0};
	char *path = NULL, label[256];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = custody(p, account_id, err, errsz);
	rc = rc ? rc : load_account(p, account_id, &cur, err, errsz);
	if (rc < 0) {
		return rc;
	}
	if (cur.kind != ACCOUNT_CHATGPT || (!force && !token_needs_refresh(&cur, util_now()))) {
		*out = cur;
		return 0;
	}
	account_label(&cur, label, sizeof(label));
	if (cur.relogin_reason && !force) {
		snprintf(err, errsz,
		         "%s needs a new login (%s); run 'codex-switch login %s --replace'", label,
		         cur.relogin_reason, cur.name);
		account_release(&cur);
		return -EKEYREVOKED;
	}
	path = util_printf("%s/refresh-%s.lock", p->runtime_dir, cur.id);
	rc = path ? paths_ensure_store(p) : -ENOMEM;
	rc = rc ? rc : lockfile_acquire(&lock, path, TOKEN_LOCK_TIMEOUT_MS);
	if (rc == -ETIMEDOUT) {
		snprintf(err, errsz,
		         "another process has been refreshing %s for 2 minutes; "
		         "if none is running, delete '%s'",
		         label, path);
	} else if (rc < 0) {
		snprintf(err, errsz, "cannot lock '%s': %s", path ? path : "?", strerror(-rc));
	} else {
		rc = refresh_locked(p, &cur, out, err, errsz);
		lockfile_release(&lock);
	}
	free(path);
	account_release(&cur);
	return rc;
}
