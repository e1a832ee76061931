#include "net/credits.h"

#include "base/log.h"
#include "base/util.h"
#include "net/endpoints.h"
#include "net/http.h"
#include "net/token.h"
#include "net/usage_fetch.h"
#include "store/account.h"
#include "store/usage_cache.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CREDITS_PATH "/wham/rate-limit-reset-credits"

/* ---- parsing (pure) ---- */

static int64_t parse_time(const cJSON *v)
{
	int64_t us;

	/* The backend sends RFC 3339 strings; a number is taken as Unix seconds. */
	if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e12) {
		return (int64_t)v->valuedouble;
	}
	if (cJSON_IsString(v) && util_parse_rfc3339(v->valuestring, &us) == 0) {
		return us / 1000000;
	}
	return 0;
}

static void printable_copy(char *out, size_t outsz, const char *s)
{
	size_t i = 0;

	for (; s && s[i] && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (outsz) {
		out[i] = '\0';
	}
}

static void scan_credits(const cJSON *arr, int64_t now, struct credits_info *out, long *counted)
{
	const cJSON *it, *st;
	int64_t exp;

	cJSON_ArrayForEach(it, arr)
	{
		st = cJSON_GetObjectItemCaseSensitive(it, "status");
		if (!cJSON_IsString(st) || strcmp(st->valuestring, "available") != 0) {
			continue;
		}
		exp = parse_time(cJSON_GetObjectItemCaseSensitive(it, "expires_at"));
		if (exp && exp <= now) {
			continue; /* expired, whatever its status still says */
		}
		(*counted)++;
		if (exp && (!out->earliest_expiry || exp < out->earliest_expiry)) {
			const cJSON *rt = cJSON_GetObjectItemCaseSensitive(it, "reset_type");
			out->earliest_expiry = exp;
			printable_copy(out->reset_type, sizeof(out->reset_type),
			               cJSON_IsString(rt) ? rt->valuestring : "");
		}
	}
}

int credits_parse_list(const char *body, int64_t now, struct credits_info *out)
{
	cJSON *root = cJSON_Parse(body ? body : "");
	const cJSON *n;
	long counted = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	scan_credits(cJSON_GetObjectItemCaseSensitive(root, "credits"), now, out, &counted);
	n = cJSON_GetObjectItemCaseSensitive(root, "available_count");
	out->available = cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 1e6
	                         ? (long)n->valuedouble
	                         : counted;
	cJSON_Delete(root);
	return 0;
}

static const struct {
	const char *text;
	enum credits_code code;
} codes[] = {
        {"reset", CREDITS_RESET},
        {"nothing_to_reset", CREDITS_NOTHING_TO_RESET},
        {"no_credit", CREDITS_NO_CREDIT},
        {"already_redeemed", CREDITS_ALREADY_REDEEMED},
};

int credits_parse_consume(const char *body, struct credits_result *out)
{
	cJSON *root = cJSON_Parse(body ? body : "");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "windows_reset");

	memset(out, 0, sizeof(*out));
	out->windows_reset = -1;
	if (!cJSON_IsObject(root) || !cJSON_IsString(code)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	printable_copy(out->code_text, sizeof(out->code_text), code->valuestring);
	out->code = CREDITS_UNKNOWN;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(codes); i++) {
		if (strcmp(code->valuestring, codes[i].text) == 0) {
			out->code = codes[i].code;
		}
	}
	if (cJSON_IsNumber(w) && w->valuedouble >= 0 && w->valuedouble < 1000) {
		out->windows_reset = (long)w->valuedouble;
	}
	cJSON_Delete(root);
	return 0;
}

const char *credits_describe(const struct credits_result *r, char *out, size_t outsz)
{
	switch (r->code) {
	case CREDITS_RESET:
		if (r->windows_reset < 0) {
			return "usage windows reset";
		}
		snprintf(out, outsz, "reset %ld usage window%s", r->windows_reset,
		         r->windows_reset == 1 ? "" : "s");
		return out;
	case CREDITS_NOTHING_TO_RESET:
		return "nothing to reset: no usage window was in use, and the credit was kept";
	case CREDITS_NO_CREDIT:
		return "the account has no reset credit";
	case CREDITS_ALREADY_REDEEMED:
		return "this reset request was redeemed already";
	default:
		snprintf(out, outsz, "the backend answered '%s'", r->code_text);
		return out;
	}
}

/* ---- requests ---- */

struct call {
	const char *method;
	const char *path; /* after the ChatGPT base URL */
	const char *body; /* may be NULL */
	long timeout_ms;
};

static int perform(const struct paths *p, const struct account *a, const struct call *c,
                   struct http_response *r, char *err, size_t errsz)
{
	char *lines[USAGE_HEADER_LINES + 1] = {0}, *base = endpoints_chatgpt_base(p), *url = NULL;
	int rc = usage_fetch_headers(a, lines);
	size_t n = 0;

	while (lines[n]) {
		n++;
	}
	if (rc == 0 && c->body && !(lines[n] = strdup("Content-Type: application/json"))) {
		rc = -ENOMEM;
	}
	url = base ? util_printf("%s%s", base, c->path) : NULL;
	if (rc == 0 && url) {
		struct http_request req = {c->method,
		                           url,
		                           (const char *const *)lines,
		                           c->body,
		                           c->body ? strlen(c->body) : 0,
		                           c->timeout_ms,
		                           CREDITS_MAX_BODY};
		rc = http_perform(&req, r, err, errsz);
	} else {
		snprintf(err, errsz, "out of memory");
		rc = -ENOMEM;
	}
	usage_fetch_free_headers(lines, USAGE_HEADER_LINES + 1);
	free(url);
	free(base);
	return rc;
}

static int describe_status(const struct account *a, const struct call *c,
                           const struct http_response *r, char *err, size_t errsz)
{
	const char *secrets[] = {a->id_token, a->access_token, a->refresh_token, a->api_key};
	char *clean = http_redact_body(r->body, secrets, UTIL_ARRAY_LEN(secrets));
	char label[256];

	account_label(a, label, sizeof(label));
	snprintf(err, errsz, "reset credit request (%s %s) for %s failed: %ld - %s", c->method,
	         c->path, label, r->status, clean ? clean : "");
	free(clean);
	return -EPROTO;
}

/* The call with fresh tokens; a 401 gets one forced refresh and one retry. r->body is the
 * answer of a 2xx status, else err says why. */
static int call_backend(const struct paths *p, const char *account_id, const struct call *c,
                        struct http_response *r, char *err, size_t errsz)
{
	struct account a = {0};
	int rc = token_ensure_fresh(p, account_id, false, &a, err, errsz);

	if (rc == 0 && a.kind != ACCOUNT_CHATGPT) {
		snprintf(err, errsz, "API-key accounts have no reset credits");
		rc = -ENOTSUP;
	}
	rc = rc ? rc : perform(p, &a, c, r, err, errsz);
	if (rc == 0 && r->status == 401) {
		http_response_release(r);
		account_release(&a);
		rc = token_ensure_fresh(p, account_id, true, &a, err, errsz);
		rc = rc ? rc : perform(p, &a, c, r, err, errsz);
	}
	if (rc == 0 && (r->status < 200 || r->status > 299)) {
		rc = describe_status(&a, c, r, err, errsz);
	}
	account_release(&a);
	return rc;
}

int credits_fetch(const struct paths *p, const char *account_id, long timeout_ms,
                  struct credits_info *out, char *err, size_t errsz)
{
	struct call c = {"GET", CREDITS_PATH, NULL, timeout_ms};
	struct http_response r = {0};
	int rc = call_backend(p, account_id, &c, &r, err, errsz);

	memset(out, 0, sizeof(*out));
	if (rc == 0 && credits_parse_list(r.body, util_now(), out) < 0) {
		snprintf(err, errsz, "the reset credit list is not a JSON object");
		rc = -EPROTO;
	}
	http_response_release(&r);
	return rc;
}

/* The cache after a consume: after a reset the account's usage is fetched again (its
 * windows and credit count changed), so `run` and `list` see it usable; otherwise, or when
 * that fetch fails, the cached count goes one down so the account is not picked again for it. */
static void note_consumed(const struct paths *p, const char *account_id, bool reset)
{
	struct usage u;
	char err[1024];

	usage_init(&u);
	if (reset && usage_fetch(p, account_id, &u, err, sizeof(err)) == 0) {
		usage_cache_store(p, &account_id, &u, 1);
		usage_release(&u);
		return;
	}
	usage_release(&u);
	if (usage_cache_load(p, account_id, &u) == 0) {
		if (u.reset_credits_available > 0) {
			u.reset_credits_available--;
		}
		u.reset_credits_expire_at = 0; /* the next listing says which one is next */
		usage_cache_store(p, &account_id, &u, 1);
	}
	usage_release(&u);
}

int credits_consume(const struct paths *p, const char *account_id, struct credits_result *out,
                    char *err, size_t errsz)
{
	char rid[UTIL_UUID_LEN + 1], *body;
	struct http_response r = {0};
	struct call c = {"POST", CREDITS_PATH "/consume", NULL, CREDITS_CONSUME_TIMEOUT_MS};
	int rc;

	memset(out, 0, sizeof(*out));
	util_uuid(rid);
	body = util_printf("{\"redeem_request_id\":\"%s\"}", rid);
	if (!body) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	c.body = body;
	rc = call_backend(p, account_id, &c, &r, err, errsz);
	if (rc == 0 && credits_parse_consume(r.body, out) < 0) {
		snprintf(err, errsz, "the answer to the reset request has no 'code'");
		rc = -EPROTO;
	}
	if (rc == 0 && out->code == CREDITS_RESET) {
		log_info("spent a reset credit of account %s (%ld windows reset)", account_id,
		         out->windows_reset);
		note_consumed(p, account_id, true);
	} else if (rc == 0 && out->code == CREDITS_ALREADY_REDEEMED) {
		note_consumed(p, account_id, false);
	}
	http_response_release(&r);
	free(body);
	return rc;
}

/* ---- choosing an account with a credit (cache only) ---- */

struct pick {
	long index;
	int64_t expiry; /* 0 = unknown: after any known one */
	double weekly;
};

static bool better(const struct pick *cand, const struct pick *best)
{
	if (best->index < 0) {
		return true;
	}
	if (cand->expiry != best->expiry) {
		return cand->expiry && (!best->expiry || cand->expiry < best->expiry);
	}
	return cand->weekly > best->weekly;
}

long credits_pick(const struct store *s, const struct usage *u, const bool *have)
{
	struct pick best = {.index = -1};
	int64_t now = util_now();

	for (size_t i = 0; i < s->n; i++) {
		const struct account *a = &s->accounts[i];
		const struct usage_window *w;
		struct pick cand = {.index = (long)i};

		if (a->kind != ACCOUNT_CHATGPT || a->disabled || a->relogin_reason || !have[i] ||
		    u[i].reset_credits_available <= 0) {
			continue;
		}
		w = usage_weekly(&u[i]);
		cand.weekly = w ? w->used_percent : 0;
		cand.expiry = u[i].reset_credits_expire_at > now ? u[i].reset_credits_expire_at : 0;
		best = better(&cand, &best) ? cand : best;
	}
	return best.index;
}

/* The name when a shell takes it as one plain word, else the short id (a selector too). */
static void selector_for(const struct account *a, char *out, size_t outsz)
{
	bool plain = a->name[0] != '\0' && a->name[0] != '-';

	for (const char *c = a->name; plain && *c; c++) {
		plain = isalnum((unsigned char)*c) || strchr("._-@", *c);
	}
	snprintf(out, outsz, "%.*s", plain ? (int)strlen(a->name) : 8, plain ? a->name : a->id);
}

long credits_hint_from(const struct store *s, const struct usage *u, const bool *have, char *out,
                       size_t outsz)
{
	long i = credits_pick(s, u, have);
	char label[256], sel[128];
	long n;

	if (outsz) {
		out[0] = '\0';
	}
	if (i < 0) {
		return -1;
	}
	n = u[i].reset_credits_available;
	account_label(&s->accounts[i], label, sizeof(label));
	selector_for(&s->accounts[i], sel, sizeof(sel));
	snprintf(out, outsz,
	         "%s has %ld rate-limit reset credit%s: 'codex-switch reset-usage %s' resets its "
	         "usage windows",
	         label, n, n == 1 ? "" : "s", sel);
	return i;
}

long credits_hint(const struct paths *p, const struct store *s, char *out, size_t outsz)
{
	struct usage *u;
	bool *have;
	long i;

	if (outsz) {
		out[0] = '\0';
	}
	if (usage_cache_load_store(p, s, &u, &have) < 0) {
		return -1;
	}
	i = credits_hint_from(s, u, have, out, outsz);
	usage_cache_free_all(u, have, s->n);
	return i;
}
