#include "net/http.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "net/curlso.h"

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONNECT_TIMEOUT_MS 10000L
#define REDACTED           "<redacted>"

struct sink {
	struct buf body;
	long retry_after_s;
	bool too_big;
};

/* http_set_transport(): set before threads exist. */
static http_transport other_transport;

/* http_share_connections(): set once, before the requests it serves. */
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)c;
	(void)access;
	(void)ctx;
	pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *ctx)
{
	(void)c;
	(void)ctx;
	pthread_mutex_unlock(&share_locks[data]);
}

void http_set_transport(http_transport t)
{
	other_transport = t;
}

int http_share_connections(void)
{
	const struct curlso *C = curlso_get(NULL, 0);
	CURLSH *sh;

	if (!C) {
		return -ENOSYS;
	}
	if (share) {
		return 0;
	}
	sh = C->share_init();
	if (!sh) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++) {
		pthread_mutex_init(&share_locks[i], NULL);
	}
	C->share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
	C->share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
	C->share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	C->share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	C->share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	share = sh;
	return 0;
}

bool http_url_allowed(const char *url)
{
	if (!url) {
		return false;
	}
	if (util_starts_with(url, "https://")) {
		return url[8] != '\0';
	}
	/* Plain http only to the loopback address the test mocks listen on. */
	return util_starts_with(url, "http://127.0.0.1:") ||
	       util_starts_with(url, "http://127.0.0.1/");
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;

	if (buf_append(&s->body, p, size * n) < 0) {
		s->too_big = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;
	char line[64];
	long v;

	if (len < sizeof(line) && strncasecmp(p, "retry-after:", 12) == 0) {
		memcpy(line, p + 12, len - 12);
		line[len - 12] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (util_parse_long(line + strspn(line, " \t"), 0, 86400, &v) == 0) {
			s->retry_after_s = v;
		}
	}
	return len;
}

static int map_curl_error(CURLcode rc, const struct sink *s)
{
	if (s->too_big) {
		return -E2BIG;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static struct curl_slist *build_headers(const struct curlso *C, const char *const *headers)
{
	struct curl_slist *list = NULL, *next;

	/* curl would otherwise send "Expect: 100-continue" and wait for it on larger bodies. */
	list = C->slist_append(list, "Expect:");
	for (size_t i = 0; list && headers && headers[i]; i++) {
		next = C->slist_append(list, headers[i]);
		if (!next) {
			C->slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

static void set_options(const struct curlso *C, CURL *c, const struct http_request *req,
                        struct sink *s, struct curl_slist *hdrs, char *errbuf)
{
	const char *ca = getenv("CODEX_CA_CERTIFICATE");

	C->easy_setopt(c, CURLOPT_URL, req->url);
	C->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	C->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	C->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	C->easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	C->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	               req->timeout_ms < CONNECT_TIMEOUT_MS ? req->timeout_ms : CONNECT_TIMEOUT_MS);
	C->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	C->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	C->easy_setopt(c, CURLOPT_WRITEDATA, s);
	C->easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	C->easy_setopt(c, CURLOPT_HEADERDATA, s);
	C->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	C->easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (share) {
		C->easy_setopt(c, CURLOPT_SHARE, share);
	}
	if (ca && *ca) {
		/* Replaces the bundle file; the system CA directory (CAPATH) stays trusted. */
		C->easy_setopt(c, CURLOPT_CAINFO, ca);
	}
	if (strcmp(req->method, "POST") == 0) {
		C->easy_setopt(c, CURLOPT_POST, 1L);
		C->easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		C->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		C->easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

static int finish(const struct curlso *C, CURL *c, CURLcode rc, struct sink *s,
                  struct http_response *resp, const char *errbuf, char *err, size_t errsz)
{
	int ret;

	if (rc != CURLE_OK) {
		ret = map_curl_error(rc, s);
		if (ret == -E2BIG) {
			snprintf(err, errsz, "response body is larger than %zu bytes", s->body.max);
		} else {
			snprintf(err, errsz, "%s", errbuf[0] ? errbuf : C->easy_strerror(rc));
		}
		buf_release(&s->body);
		return ret;
	}
	if (buf_append(&s->body, "", 0) < 0) {
		buf_release(&s->body);
		return -ENOMEM;
	}
	C->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body_len = s->body.len;
	resp->body = s->body.data ? buf_detach(&s->body) : strdup("");
	resp->retry_after_s = s->retry_after_s;
	return resp->body ? 0 : -ENOMEM;
}

int http_perform(const struct http_request *req, struct http_response *resp, char *err,
                 size_t errsz)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	const struct curlso *C;
	struct sink s = {.retry_after_s = -1};
	struct curl_slist *hdrs;
	CURL *c;
	CURLcode rc;
	int ret;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	if (!http_url_allowed(req->url)) {
		snprintf(err, errsz, "refusing a non-https URL");
		return -EINVAL;
	}
	if (other_transport) {
		return other_transport(req, resp, err, errsz);
	}
	C = curlso_get(err, errsz);
	if (!C) {
		return -ENOSYS;
	}
	buf_init(&s.body, req->max_body);
	hdrs = build_headers(C, req->headers);
	c = C->easy_init();
	if (!hdrs || !c) {
		C->slist_free_all(hdrs);
		C->easy_cleanup(c);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	set_options(C, c, req, &s, hdrs, errbuf);
	rc = C->easy_perform(c);
	ret = finish(C, c, rc, &s, resp, errbuf, err, errsz);
	C->easy_cleanup(c);
	C->slist_free_all(hdrs);
	return ret;
}

void http_response_release(struct http_response *r)
{
	if (r) {
		util_free_secret(r->body);
		r->body = NULL;
		r->body_len = 0;
	}
}

/* Replaces every occurrence of needle in *text by "<redacted>". */
static int replace_all(char **text, const char *needle)
{
	struct buf b;
	size_t nlen = strlen(needle);
	const char *p = *text, *hit;
	int rc = 0;

	if (nlen == 0 || !strstr(p, needle)) {
		return 0;
	}
	buf_init(&b, strlen(p) * 2 + 64);
	while (rc == 0 && (hit = strstr(p, needle))) {
		rc = buf_append(&b, p, (size_t)(hit - p));
		rc = rc ? rc : buf_append_str(&b, REDACTED);
		p = hit + nlen;
	}
	rc = rc ? rc : buf_append_str(&b, p);
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	util_free_secret(*text);
	*text = buf_detach(&b);
	return 0;
}

static int redact_one(char **text, const char *secret)
{
	char *enc;
	int rc;

	if (!secret || !*secret) {
		return 0;
	}
	rc = replace_all(text, secret);
	enc = util_urlencode(secret);
	if (rc == 0 && !enc) {
		rc = -ENOMEM;
	}
	if (rc == 0) {
		rc = replace_all(text, enc);
	}
	free(enc);
	return rc;
}

char *http_redact_body(const char *body, const char *const *secrets, size_t nsecrets)
{
	char *text = strdup(body ? body : ""), *clean, *cut;
	size_t len;

	for (size_t i = 0; text && i < nsecrets; i++) {
		if (redact_one(&text, secrets[i]) < 0) {
			util_free_secret(text);
			return NULL;
		}
	}
	if (!text) {
		return NULL;
	}
	clean = log_redact_dup(text);
	util_free_secret(text);
	if (!clean || strlen(clean) <= HTTP_ERR_BODY_MAX) {
		return clean;
	}
	/* Never cut inside a UTF-8 sequence. */
	len = HTTP_ERR_BODY_MAX;
	while (len > 0 && ((unsigned char)clean[len] & 0xC0) == 0x80) {
		len--;
	}
	cut = malloc(len + 4);
	if (cut) {
		memcpy(cut, clean, len);
		memcpy(cut + len, "...", 4);
	}
	free(clean);
	return cut;
}

char *http_bearer_header(const char *token)
{
	return util_printf("Authorization: Bearer %s", token ? token : "");
}

long http_timeout_ms(long dflt)
{
	const char *v = getenv("CODEX_SWITCH_TEST_HTTP_TIMEOUT_MS");
	long ms;

	/* Tests shorten the timeout to exercise it; nothing else sets this. */
	if (v && util_parse_long(v, 100, dflt, &ms) == 0) {
		return ms;
	}
	return dflt;
}
