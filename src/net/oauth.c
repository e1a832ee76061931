#define _GNU_SOURCE /* environ */
#include "net/oauth.h"

#include "net/endpoints.h"
#include "net/http.h"
#include "base/base64.h"
#include "base/log.h"
#include "base/sha.h"
#include "net/oauth_server.h"
#include "base/spawn.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN_MAX_BODY (256 * 1024)

extern char **environ;

void oauth_tokens_release(struct oauth_tokens *t)
{
	if (t) {
		util_free_secret(t->id_token);
		util_free_secret(t->access_token);
		util_free_secret(t->refresh_token);
		memset(t, 0, sizeof(*t));
	}
}

int oauth_pkce(char verifier[OAUTH_VERIFIER_LEN + 1], char challenge[OAUTH_CHALLENGE_LEN + 1])
{
	unsigned char raw[64], digest[SHA256_LEN];
	char enc[BASE64_LEN(64) + 1];
	int rc = util_random_bytes(raw, sizeof(raw));

	if (rc < 0) {
		return rc;
	}
	base64url_encode(raw, sizeof(raw), enc);
	memcpy(verifier, enc, OAUTH_VERIFIER_LEN + 1);
	explicit_bzero(enc, sizeof(enc));
	sha256_digest(verifier, strlen(verifier), digest);
	base64url_encode(digest, sizeof(digest), enc); /* SHA-256: always 43 characters */
	memcpy(challenge, enc, OAUTH_CHALLENGE_LEN);
	challenge[OAUTH_CHALLENGE_LEN] = '\0';
	return 0;
}

int oauth_state(char out[OAUTH_STATE_LEN + 1])
{
	unsigned char raw[32];
	char enc[45];
	int rc = util_random_bytes(raw, sizeof(raw));

	if (rc == 0) {
		base64url_encode(raw, sizeof(raw), enc);
		memcpy(out, enc, OAUTH_STATE_LEN + 1);
	}
	return rc;
}

/* Appends "&key=value" (value URL-encoded) to b; the first call omits the '&'. */
static int add_param(char **acc, const char *key, const char *value)
{
	char *enc = util_urlencode(value), *n;

	if (!enc) {
		return -ENOMEM;
	}
	n = util_printf("%s%s%s=%s", *acc ? *acc : "", *acc ? "&" : "", key, enc);
	free(enc);
	util_free_secret(*acc);
	*acc = n;
	return n ? 0 : -ENOMEM;
}

char *oauth_authorize_url(const char *issuer, const char *redirect_uri, const char *challenge,
                          const char *state)
{
	char *orig = endpoints_originator(), *q = NULL, *url = NULL;
	const char *kv[][2] = {
	        {"response_type", "code"},
	        {"client_id", ENDPOINTS_CLIENT_ID},
	        {"redirect_uri", redirect_uri},
	        {"scope", OAUTH_SCOPES},
	        {"code_challenge", challenge},
	        {"code_challenge_method", "S256"},
	        {"id_token_add_organizations", "true"},
	        {"codex_cli_simplified_flow", "true"},
	        {"state", state},
	        {"originator", orig ? orig : ENDPOINTS_DEFAULT_ORIGINATOR},
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < UTIL_ARRAY_LEN(kv); i++) {
		rc = add_param(&q, kv[i][0], kv[i][1]);
	}
	if (rc == 0) {
		url = util_printf("%s/oauth/authorize?%s", issuer, q);
	}
	free(q);
	free(orig);
	return url;
}

static int dup_string(const cJSON *o, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || !v->valuestring[0]) {
		return -EINVAL;
	}
	*out = strdup(v->valuestring);
	if (!*out) {
		return -ENOMEM;
	}
	log_add_secret(*out);
	return 0;
}

int oauth_parse_tokens(const char *body, struct oauth_tokens *t)
{
	cJSON *o = cJSON_Parse(body ? body : "");
	int rc = cJSON_IsObject(o) ? 0 : -EINVAL;

	memset(t, 0, sizeof(*t));
	rc = rc ? rc : dup_string(o, "id_token", &t->id_token);
	rc = rc ? rc : dup_string(o, "access_token", &t->access_token);
	rc = rc ? rc : dup_string(o, "refresh_token", &t->refresh_token);
	cJSON_Delete(o);
	if (rc < 0) {
		oauth_tokens_release(t);
	}
	return rc;
}

/* POSTs body to url; on 2xx returns 0 with the response in r. err is redacted. */
static int post(const char *url, const char *ctype, const char *body, struct http_response *r,
                char *err, size_t errsz)
{
	char *ua = endpoints_user_agent(), *orig = endpoints_originator();
	char *h[4] = {util_printf("Content-Type: %s", ctype), strdup("Accept: application/json"),
	              ua ? util_printf("User-Agent: %s", ua) : NULL,
	              orig ? util_printf("originator: %s", orig) : NULL};
	const char *lines[5] = {h[0], h[1], h[2], h[3], NULL};
	struct http_request req = {
	        "POST", url, lines, body, strlen(body), OAUTH_HTTP_TIMEOUT_MS, TOKEN_MAX_BODY};
	int rc = h[0] && h[1] && h[2] && h[3] ? http_perform(&req, r, err, errsz) : -ENOMEM;

	for (size_t i = 0; i < UTIL_ARRAY_LEN(h); i++) {
		free(h[i]);
	}
	free(ua);
	free(orig);
	return rc;
}

static int fail_status(const char *what, const struct http_response *r, char *err, size_t errsz)
{
	char *clean = http_redact_body(r->body, NULL, 0);

	snprintf(err, errsz, "%s failed: %ld - %s", what, r->status, clean ? clean : "");
	free(clean);
	return -EACCES;
}

int oauth_exchange_code(const char *issuer, const char *redirect_uri, const char *code,
                        const char *verifier, struct oauth_tokens *t, char *err, size_t errsz)
{
	char *form = NULL, *url = util_printf("%s/oauth/token", issuer);
	struct http_response r = {0};
	int rc = url ? 0 : -ENOMEM;

	memset(t, 0, sizeof(*t));
	rc = rc ? rc : add_param(&form, "grant_type", "authorization_code");
	rc = rc ? rc : add_param(&form, "code", code);
	rc = rc ? rc : add_param(&form, "redirect_uri", redirect_uri);
	rc = rc ? rc : add_param(&form, "client_id", ENDPOINTS_CLIENT_ID);
	rc = rc ? rc : add_param(&form, "code_verifier", verifier);
	rc = rc ? rc : post(url, "application/x-www-form-urlencoded", form, &r, err, errsz);
	if (rc == 0 && (r.status < 200 || r.status > 299)) {
		rc = fail_status("the token exchange", &r, err, errsz);
	} else if (rc == 0 && oauth_parse_tokens(r.body, t) < 0) {
		snprintf(err, errsz, "the token exchange answered without the three tokens");
		rc = -EPROTO;
	} else if (rc == -ENOMEM) {
		snprintf(err, errsz, "out of memory");
	}
	http_response_release(&r);
	util_free_secret(form);
	free(url);
	return rc;
}

/* ---- browser flow ---- */

static size_t login_ports(int *ports)
{
	const char *v = getenv("CODEX_SWITCH_TEST_LOGIN_PORT");
	long port;

	/* Tests pick a free port; the issuer accepts only 1455 and 1457 as redirect ports. */
	if (v && util_parse_long(v, 0, 65535, &port) == 0) {
		ports[0] = (int)port;
		return 1;
	}
	ports[0] = OAUTH_PORT;
	ports[1] = OAUTH_PORT_FALLBACK;
	return 2;
}

/* Starts xdg-open when a graphical session is there; the URL is printed either way. */
static pid_t open_browser(const char *url)
{
	const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	char opener[] = "xdg-open";
	char *argv[] = {opener, (char *)url, NULL};
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	pid_t pid;

	if ((!d || !*d) && (!w || !*w)) {
		return -1;
	}
	return spawn_start(&o, &pid) == 0 ? pid : -1;
}

struct flow {
	const char *issuer;
	oauth_accept_fn accept;
	void *ctx;
};

/* Exchanges the code and hands the tokens to the caller before anyone is told the outcome. */
static int finish_flow(const struct flow *f, const char *redirect, const char *code,
                       const char *verifier, char *err, size_t errsz)
{
	struct oauth_tokens t = {0};
	int rc = oauth_exchange_code(f->issuer, redirect, code, verifier, &t, err, errsz);

	if (rc == 0) {
		rc = f->accept(&t, f->ctx, err, errsz);
	}
	oauth_tokens_release(&t);
	return rc;
}

static int browser_wait(struct oauth_server *srv, const struct flow *f, const char *redirect,
                        const char *state, const char *verifier, char *err, size_t errsz)
{
	int64_t deadline = util_now_ms() + (int64_t)OAUTH_LOGIN_TIMEOUT_S * 1000;
	char *code = NULL;
	int client = -1;
	int rc = oauth_server_wait(srv, state, deadline, &code, &client, err, errsz);

	if (rc < 0) {
		return rc;
	}
	rc = finish_flow(f, redirect, code, verifier, err, errsz);
	util_free_secret(code);
	oauth_server_reply(client, rc == 0,
	                   rc == 0 ? "codex-switch stored the account. You can close this window "
	                             "and return to the terminal."
	                           : "codex-switch could not store the account; the terminal "
	                             "says why.");
	return rc;
}

int oauth_login_browser(const char *issuer, oauth_accept_fn accept, void *ctx, char *err,
                        size_t errsz)
{
	struct flow f = {issuer, accept, ctx};
	char verifier[OAUTH_VERIFIER_LEN + 1], challenge[OAUTH_CHALLENGE_LEN + 1];
	char state[OAUTH_STATE_LEN + 1], *redirect = NULL, *url = NULL;
	struct oauth_server srv = {.fd = -1};
	int ports[2];
	size_t nports = login_ports(ports);
	pid_t browser;
	int rc = oauth_pkce(verifier, challenge);

	rc = rc ? rc : oauth_state(state);
	if (rc < 0) {
		snprintf(err, errsz, "cannot get random bytes: %s", strerror(-rc));
		return rc;
	}
	rc = oauth_server_listen(&srv, ports, nports);
	if (rc < 0) {
		snprintf(err, errsz,
		         "cannot listen on 127.0.0.1:%d or :%d for the sign-in callback "
		         "(%s); close the other login or use --device-auth",
		         OAUTH_PORT, OAUTH_PORT_FALLBACK, strerror(-rc));
		return rc;
	}
	redirect = util_printf("http://localhost:%d/auth/callback", srv.port);
	url = redirect ? oauth_authorize_url(issuer, redirect, challenge, state) : NULL;
	if (!url) {
		snprintf(err, errsz, "out of memory");
		rc = -ENOMEM;
	} else {
		fprintf(stderr,
		        "Sign in to ChatGPT in a browser; open this URL if none opens:\n\n"
		        "  %s\n\nWaiting for the sign-in (15 minutes at most)...\n",
		        url);
		fflush(stderr);
		browser = open_browser(url);
		rc = browser_wait(&srv, &f, redirect, state, verifier, err, errsz);
		if (browser > 0) {
			waitpid(browser, NULL, WNOHANG);
		}
	}
	oauth_server_close(&srv);
	explicit_bzero(verifier, sizeof(verifier));
	free(redirect);
	free(url);
	return rc;
}

/* ---- device-code flow ---- */

struct device {
	char *auth_id;
	char *user_code;
	long interval_s;
};

static void device_release(struct device *d)
{
	free(d->auth_id);
	free(d->user_code);
}

static char *json_body(const char *k1, const char *v1, const char *k2, const char *v2)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o && cJSON_AddStringToObject(o, k1, v1) &&
	    (!k2 || cJSON_AddStringToObject(o, k2, v2))) {
		s = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	return s;
}

static int parse_usercode(const char *body, struct device *d)
{
	cJSON *o = cJSON_Parse(body);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "device_auth_id");
	const cJSON *uc = cJSON_GetObjectItemCaseSensitive(o, "user_code");
	const cJSON *iv = cJSON_GetObjectItemCaseSensitive(o, "interval");
	long v = 5;

	uc = cJSON_IsString(uc) ? uc : cJSON_GetObjectItemCaseSensitive(o, "usercode");
	/* The interval arrives as a string of seconds or as a number. */
	if (cJSON_IsString(iv)) {
		util_parse_long(iv->valuestring, 1, 60, &v);
	} else if (cJSON_IsNumber(iv) && iv->valuedouble >= 1 && iv->valuedouble <= 60) {
		v = (long)iv->valuedouble;
	}
	d->interval_s = v;
	d->auth_id = cJSON_IsString(id) ? strdup(id->valuestring) : NULL;
	d->user_code = cJSON_IsString(uc) ? strdup(uc->valuestring) : NULL;
	cJSON_Delete(o);
	return d->auth_id && d->user_code ? 0 : -EPROTO;
}

static int device_start(const char *issuer, struct device *d, char *err, size_t errsz)
{
	char *url = util_printf("%s/api/accounts/deviceauth/usercode", issuer);
	char *body = json_body("client_id", ENDPOINTS_CLIENT_ID, NULL, NULL);
	struct http_response r = {0};
	int rc = url && body ? post(url, "application/json", body, &r, err, errsz) : -ENOMEM;

	if (rc == 0 && r.status == 404) {
		snprintf(err, errsz,
		         "device-code sign-in is not enabled for this account; enable it "
		         "in the ChatGPT security settings or sign in without --device-auth");
		rc = -ENOTSUP;
	} else if (rc == 0 && (r.status < 200 || r.status > 299)) {
		rc = fail_status("the device-code request", &r, err, errsz);
	} else if (rc == 0 && parse_usercode(r.body, d) < 0) {
		snprintf(err, errsz, "the device-code answer lacks device_auth_id or user_code");
		rc = -EPROTO;
	}
	http_response_release(&r);
	free(url);
	free(body);
	return rc;
}

static void sleep_s(long s)
{
	struct timespec ts = {s, 0};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* One poll: 0 = approved (code and verifier set), 1 = pending, < 0 = failure. */
static int device_poll_once(const char *url, const char *body, char **code, char **verifier,
                            char *err, size_t errsz)
{
	struct http_response r = {0};
	int rc = post(url, "application/json", body, &r, err, errsz);
	cJSON *o;

	if (rc < 0) {
		log_debug("device-code poll failed: %s", err);
		return 1; /* the network may come back before the code expires */
	}
	if (r.status == 403 || r.status == 404) {
		rc = 1;
	} else if (r.status < 200 || r.status > 299) {
		rc = fail_status("the device-code sign-in", &r, err, errsz);
	} else {
		o = cJSON_Parse(r.body);
		rc = dup_string(o, "authorization_code", code);
		rc = rc ? rc : dup_string(o, "code_verifier", verifier);
		cJSON_Delete(o);
		if (rc < 0) {
			snprintf(err, errsz, "the device-code answer lacks the authorization code");
		}
	}
	http_response_release(&r);
	return rc;
}

static int device_poll(const char *issuer, const struct device *d, char **code, char **verifier,
                       char *err, size_t errsz)
{
	int64_t deadline = util_now_ms() + (int64_t)OAUTH_LOGIN_TIMEOUT_S * 1000;
	char *url = util_printf("%s/api/accounts/deviceauth/token", issuer);
	char *body = json_body("device_auth_id", d->auth_id, "user_code", d->user_code);
	int rc = url && body ? 1 : -ENOMEM;

	while (rc == 1) {
		if (util_now_ms() >= deadline) {
			snprintf(err, errsz,
			         "the device code was not approved within 15 minutes; "
			         "run the login again");
			rc = -ETIMEDOUT;
			break;
		}
		rc = device_poll_once(url, body, code, verifier, err, errsz);
		if (rc == 1) {
			sleep_s(d->interval_s);
		}
	}
	free(url);
	free(body);
	return rc;
}

int oauth_login_device(const char *issuer, oauth_accept_fn accept, void *ctx, char *err,
                       size_t errsz)
{
	struct flow f = {issuer, accept, ctx};
	struct device d = {0};
	char *code = NULL, *verifier = NULL, *redirect = NULL;
	int rc = device_start(issuer, &d, err, errsz);

	if (rc == 0) {
		fprintf(stderr,
		        "To sign in, open %s/codex/device in a browser and enter this code:\n"
		        "\n  %s\n\nWaiting for the approval (15 minutes at most)...\n",
		        issuer, d.user_code);
		fflush(stderr);
		rc = device_poll(issuer, &d, &code, &verifier, err, errsz);
	}
	if (rc == 0) {
		redirect = util_printf("%s/deviceauth/callback", issuer);
		rc = redirect ? finish_flow(&f, redirect, code, verifier, err, errsz) : -ENOMEM;
	}
	util_free_secret(code);
	util_free_secret(verifier);
	free(redirect);
	device_release(&d);
	return rc;
}
