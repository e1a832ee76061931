#include "net/usage_fetch.h"

#include "store/account.h"
#include "net/endpoints.h"
#include "net/http.h"
#include "base/log.h"
#include "store/store.h"
#include "net/token.h"
#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void usage_fetch_free_headers(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		util_free_secret(lines[i]); /* one holds the bearer token */
		lines[i] = NULL;
	}
}

int usage_fetch_headers(const struct account *a, char **lines)
{
	char *ua = endpoints_user_agent();
	size_t n = 0;
	int rc = 0;

	memset(lines, 0, USAGE_HEADER_LINES * sizeof(*lines));
	lines[n++] = http_bearer_header(a->access_token);
	lines[n++] = strdup("Accept: application/json");
	lines[n++] = ua ? util_printf("User-Agent: %s", ua) : NULL;
	if (a->chatgpt_account_id) {
		lines[n++] = util_printf("chatgpt-account-id: %s", a->chatgpt_account_id);
	}
	if (a->fedramp) {
		lines[n++] = strdup("x-openai-fedramp: true");
	}
	for (size_t i = 0; i < n; i++) {
		rc = lines[i] ? rc : -ENOMEM;
	}
	free(ua);
	return rc;
}

static int get_usage(const struct paths *p, const struct account *a, long timeout_ms,
                     struct http_response *r, char *err, size_t errsz)
{
	char *lines[USAGE_HEADER_LINES], *base = endpoints_chatgpt_base(p), *url = NULL;
	int rc = usage_fetch_headers(a, lines);

	url = base ? util_printf("%s/wham/usage", base) : NULL;
	if (rc == 0 && !url) {
		rc = -ENOMEM;
	}
	if (rc == 0) {
		struct http_request req = {"GET",         url, (const char *const *)lines,
		                           NULL,          0,   timeout_ms,
		                           USAGE_MAX_BODY};
		rc = http_perform(&req, r, err, errsz);
	} else {
		snprintf(err, errsz, "out of memory");
	}
	usage_fetch_free_headers(lines, USAGE_HEADER_LINES);
	free(url);
	free(base);
	return rc;
}

static void set_error(struct usage *u, const char *msg)
{
	free(u->error);
	u->error = strdup(msg);
}

static int describe_status(const struct account *a, const struct http_response *r, struct usage *u,
                           char *err, size_t errsz)
{
	const char *secrets[] = {a->id_token, a->access_token, a->refresh_token, a->api_key};
	char *clean = http_redact_body(r->body, secrets, UTIL_ARRAY_LEN(secrets));
	char msg[64], label[256];

	account_label(a, label, sizeof(label));
	snprintf(msg, sizeof(msg), "API error: %ld", r->status);
	set_error(u, msg);
	snprintf(err, errsz, "usage request for %s failed: %ld - %s", label, r->status,
	         clean ? clean : "");
	free(clean);
	return -EPROTO;
}

struct plan_ctx {
	const char *id;
	const char *plan;
};

static int plan_fn(struct store *s, void *ctx)
{
	struct plan_ctx *c = ctx;
	long i = store_find_id(s, c->id);
	char *n;

	if (i < 0 || (s->accounts[i].plan_type && !strcmp(s->accounts[i].plan_type, c->plan))) {
		return 0;
	}
	n = strdup(c->plan);
	if (!n) {
		return -ENOMEM;
	}
	free(s->accounts[i].plan_type);
	s->accounts[i].plan_type = n;
	return 1;
}

/* Best effort: the backend knows a plan change before the next id token does. */
static void remember_plan(const struct paths *p, const struct account *a, const char *plan)
{
	struct plan_ctx c = {a->id, plan};
	char err[256];

	if (plan && (!a->plan_type || strcmp(a->plan_type, plan) != 0) &&
	    store_update(p, plan_fn, &c, err, sizeof(err)) < 0) {
		log_debug("cannot record the new plan of '%s': %s", a->name, err);
	}
}

static int fetch_once(const struct paths *p, const struct account *a, long timeout_ms,
                      struct usage *u, long *status, char *err, size_t errsz)
{
	struct http_response r = {0};
	int rc = get_usage(p, a, timeout_ms, &r, err, errsz);

	*status = r.status;
	if (rc < 0) {
		set_error(u, err);
	} else if (r.status == 401) {
		rc = -EACCES;
	} else if (r.status < 200 || r.status > 299) {
		rc = describe_status(a, &r, u, err, errsz);
	} else if (usage_parse(r.body, u) < 0) {
		snprintf(err, errsz, "the usage response is not a JSON object");
		usage_init(u);
		set_error(u, err);
		rc = -EPROTO;
	}
	http_response_release(&r);
	return rc;
}

int usage_fetch(const struct paths *p, const char *account_id, struct usage *u, char *err,
                size_t errsz)
{
	return usage_fetch_timeout(p, account_id, http_timeout_ms(USAGE_HTTP_TIMEOUT_MS), u, err,
	                           errsz);
}

int usage_fetch_timeout(const struct paths *p, const char *account_id, long timeout_ms,
                        struct usage *u, char *err, size_t errsz)
{
	struct account a = {0};
	long status = 0;
	int rc;

	usage_init(u);
	rc = token_ensure_fresh(p, account_id, false, &a, err, errsz);
	if (rc == 0 && a.kind != ACCOUNT_CHATGPT) {
		snprintf(err, errsz, "usage is not available for API-key accounts");
		set_error(u, USAGE_UNSUPPORTED);
		account_release(&a);
		return -ENOTSUP;
	}
	rc = rc ? rc : fetch_once(p, &a, timeout_ms, u, &status, err, errsz);
	if (rc == -EACCES) {
		/* The access token was revoked early: one forced refresh, one retry. */
		account_release(&a);
		rc = token_ensure_fresh(p, account_id, true, &a, err, errsz);
		rc = rc ? rc : fetch_once(p, &a, timeout_ms, u, &status, err, errsz);
		if (rc == -EACCES) {
			struct http_response r = {.status = status, .body = (char *)""};
			rc = describe_status(&a, &r, u, err, errsz);
		}
	}
	if (rc == 0) {
		remember_plan(p, &a, u->plan_type);
	} else if (!u->error) {
		set_error(u, err);
	}
	account_release(&a);
	return rc;
}

/* ---- several at once ---- */

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	const struct paths *p;
	const char *const *ids;
	struct usage *out;
	size_t n, next, done;
	long timeout_ms;
};

static void *worker(void *arg)
{
	struct pool *pl = arg;
	char err[1024];
	size_t i;

	for (;;) {
		pthread_mutex_lock(&pl->lock);
		i = pl->next < pl->n ? pl->next++ : pl->n;
		pthread_mutex_unlock(&pl->lock);
		if (i == pl->n) {
			return NULL;
		}
		usage_fetch_timeout(pl->p, pl->ids[i], pl->timeout_ms, &pl->out[i], err,
		                    sizeof(err));
		pthread_mutex_lock(&pl->lock);
		pl->done++;
		pthread_cond_signal(&pl->done_cond);
		pthread_mutex_unlock(&pl->lock);
	}
}

static void wait_all(struct pool *pl, usage_progress_fn progress, void *ctx)
{
	size_t seen = 0;

	pthread_mutex_lock(&pl->lock);
	while (seen < pl->n) {
		while (pl->done == seen) {
			pthread_cond_wait(&pl->done_cond, &pl->lock);
		}
		seen = pl->done;
		if (progress) {
			pthread_mutex_unlock(&pl->lock);
			progress(seen, pl->n, ctx);
			pthread_mutex_lock(&pl->lock);
		}
	}
	pthread_mutex_unlock(&pl->lock);
}

int usage_fetch_all(const struct paths *p, const char *const *ids, size_t n, struct usage *out,
                    usage_progress_fn progress, void *ctx)
{
	return usage_fetch_all_timeout(p, ids, n, http_timeout_ms(USAGE_HTTP_TIMEOUT_MS), out,
	                               progress, ctx);
}

int usage_fetch_all_timeout(const struct paths *p, const char *const *ids, size_t n,
                            long timeout_ms, struct usage *out, usage_progress_fn progress,
                            void *ctx)
{
	struct pool pl = {.p = p, .ids = ids, .out = out, .n = n, .timeout_ms = timeout_ms};
	pthread_t th[USAGE_MAX_IN_FLIGHT];
	size_t started = 0;

	for (size_t i = 0; i < n; i++) {
		usage_init(&out[i]);
	}
	pthread_mutex_init(&pl.lock, NULL);
	pthread_cond_init(&pl.done_cond, NULL);
	while (started < USAGE_MAX_IN_FLIGHT && started < n &&
	       pthread_create(&th[started], NULL, worker, &pl) == 0) {
		started++;
	}
	if (started == 0 && n > 0) {
		pthread_cond_destroy(&pl.done_cond);
		pthread_mutex_destroy(&pl.lock);
		return -EAGAIN;
	}
	wait_all(&pl, progress, ctx);
	for (size_t i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
	}
	pthread_cond_destroy(&pl.done_cond);
	pthread_mutex_destroy(&pl.lock);
	return 0;
}
