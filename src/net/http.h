/*
 * A small blocking HTTP client on libcurl, for CLI commands and the runtime's worker thread
 * (never the event loop). Each call uses its own easy handle, so calls from several threads
 * are safe; libcurl is loaded at the first call (curlso.h).
 *
 * Only https:// URLs are accepted, plus http://127.0.0.1 for tests. $CODEX_CA_CERTIFICATE
 * (a PEM file, the variable codex uses) is trusted in addition to the system roots.
 */
#ifndef CS_HTTP_H
#define CS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* Longest body excerpt an error message may carry, as the Rust tool does. */
#define HTTP_ERR_BODY_MAX 2048

struct http_request {
	const char *method;         /* "GET" or "POST" */
	const char *url;            /* borrowed */
	const char *const *headers; /* borrowed, NULL-terminated "Name: value" lines; may be NULL */
	const char *body;           /* borrowed; may be NULL */
	size_t body_len;
	long timeout_ms; /* total time; the connect phase gets at most 10 s of it */
	size_t max_body; /* larger responses fail with -E2BIG */
};

struct http_response {
	long status;
	char *body; /* owned, NUL-terminated, never NULL after success */
	size_t body_len;
	long retry_after_s; /* Retry-After in seconds, -1 when absent */
};

/*
 * Performs req. Returns 0 when a response arrived (any status), else -ETIMEDOUT,
 * -ECONNREFUSED (cannot connect or resolve), -EPROTO (TLS or protocol failure), -E2BIG (body
 * over max_body), -EINVAL (URL not allowed), -ENOSYS (libcurl cannot be loaded), -ENOMEM,
 * -EIO; err then says why (no secrets: only curl's text, never headers or bodies). resp is
 * initialised in every case.
 */
int http_perform(const struct http_request *req, struct http_response *resp, char *err,
                 size_t errsz);

/* What performs a request instead of libcurl in this process (httpchild.h). */
typedef int (*http_transport)(const struct http_request *req, struct http_response *resp, char *err,
                              size_t errsz);

/*
 * From now on http_perform() hands every request to t (NULL: libcurl in this process again).
 * Set it before the process has threads: it is read without a lock.
 */
void http_set_transport(http_transport t);

/*
 * From now on the requests of this process, from any thread, share their connections, TLS
 * sessions and DNS answers: a request to a host another request has left an idle connection
 * to reuses it instead of a new TCP and TLS handshake. For a process that sends a batch to
 * one host and exits (the usage queries at `run`'s start); the share lives as long as the
 * process. 0, -ENOSYS (no libcurl) or -ENOMEM.
 */
int http_share_connections(void);

/* Frees the body; a zeroed response is fine. */
void http_response_release(struct http_response *r);

/* True for https:// URLs and for http://127.0.0.1 ones. */
bool http_url_allowed(const char *url);

/*
 * A body made fit for an error message: the given secrets (raw and URL-encoded) and
 * everything log_redact() knows become "<redacted>", control characters are escaped, and the
 * result is cut to HTTP_ERR_BODY_MAX characters plus "...". secrets holds nsecrets borrowed
 * strings; NULL entries are skipped. Caller frees; NULL on -ENOMEM.
 */
char *http_redact_body(const char *body, const char *const *secrets, size_t nsecrets);

/* "Authorization: Bearer <token>" for a request's header lines. The line holds a secret: the
 * caller frees it with util_free_secret(). NULL on -ENOMEM. */
char *http_bearer_header(const char *token);

/* The timeout of a request: dflt, or CODEX_SWITCH_TEST_HTTP_TIMEOUT_MS (100..dflt) when set. */
long http_timeout_ms(long dflt);

#endif
