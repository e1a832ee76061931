#define _DEFAULT_SOURCE /* explicit_bzero */
#include "net/httpchild.h"

#include "base/buf.h"
#include "base/spawn.h"
#include "base/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Both directions start with it, so a stray writer or an old binary is caught. */
#define MAGIC "csh1"
/* Header lines a request may carry. */
#define MAX_HEADERS 32
/* The child's own start (exec, loading libcurl) on top of the request's timeout. */
#define START_MARGIN_MS 5000L
/* The answer's fields besides the body: numbers and an error text of at most ERR_MAX. */
#define ERR_MAX      1024
#define ANSWER_FIXED (64 + ERR_MAX)

/* A request or an answer as the pipes carry it: fixed 8-byte little-endian numbers and
 * length-prefixed byte strings. */
struct reader {
	const char *p;
	size_t left;
	bool bad;
};

static int put_u64(struct buf *b, uint64_t v)
{
	unsigned char x[8];

	for (int i = 0; i < 8; i++) {
		x[i] = (unsigned char)(v >> (8 * i));
	}
	return buf_append(b, x, sizeof(x));
}

static int put_bytes(struct buf *b, const char *p, size_t n)
{
	int r = put_u64(b, n);

	return r ? r : buf_append(b, p ? p : "", n);
}

static int put_str(struct buf *b, const char *s)
{
	return put_bytes(b, s, s ? strlen(s) : 0);
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t v = 0;

	if (r->bad || r->left < 8) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < 8; i++) {
		v |= (uint64_t)(unsigned char)r->p[i] << (8 * i);
	}
	r->p += 8;
	r->left -= 8;
	return v;
}

/* A NUL-terminated copy of the next byte string (caller frees), or NULL when malformed. */
static char *get_bytes(struct reader *r, size_t *len)
{
	uint64_t n = get_u64(r);
	char *s;

	if (r->bad || n > r->left || !(s = malloc(n + 1))) {
		r->bad = true;
		return NULL;
	}
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	r->left -= n;
	if (len) {
		*len = n;
	}
	return s;
}

static bool get_magic(struct reader *r)
{
	if (r->left < 4 || memcmp(r->p, MAGIC, 4) != 0) {
		r->bad = true;
		return false;
	}
	r->p += 4;
	r->left -= 4;
	return true;
}

/* ---- the parent's side ---- */

static int encode_request(const struct http_request *req, struct buf *b)
{
	size_t n = 0;
	int r;

	while (req->headers && req->headers[n]) {
		n++;
	}
	if (n > MAX_HEADERS) {
		return -E2BIG;
	}
	r = buf_append(b, MAGIC, 4);
	r = r ? r : put_str(b, req->method);
	r = r ? r : put_str(b, req->url);
	r = r ? r : put_u64(b, n);
	for (size_t i = 0; i < n && !r; i++) {
		r = put_str(b, req->headers[i]);
	}
	r = r ? r : put_bytes(b, req->body, req->body ? req->body_len : 0);
	r = r ? r : put_u64(b, (uint64_t)req->timeout_ms);
	return r ? r : put_u64(b, req->max_body);
}

static int decode_answer(const char *data, size_t len, struct http_response *resp, char *err,
                         size_t errsz)
{
	struct reader rd = {data, len, false};
	int64_t rc;
	char *msg;

	get_magic(&rd);
	rc = (int64_t)get_u64(&rd);
	resp->status = (long)get_u64(&rd);
	resp->retry_after_s = (long)(int64_t)get_u64(&rd);
	msg = get_bytes(&rd, NULL);
	if (!rd.bad && rc == 0) {
		resp->body = get_bytes(&rd, &resp->body_len);
	}
	if (rd.bad || rc > 0 || rc < -4095) {
		free(msg);
		http_response_release(resp);
		return -EPROTO;
	}
	if (rc < 0) {
		snprintf(err, errsz, "%s", msg);
	}
	free(msg);
	return (int)rc;
}

static void wipe_free(void *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

int httpchild_perform(const struct http_request *req, struct http_response *resp, char *err,
                      size_t errsz)
{
	/* Our own binary, even if a newer one was installed since: the protocol is its own. */
	char exe[] = "/proc/self/exe", cmd[] = "__http";
	char *argv[] = {exe, cmd, NULL}, *out = NULL;
	long timeout = req->timeout_ms + START_MARGIN_MS;
	struct buf b;
	size_t outlen = 0;
	int r, status;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	buf_init(&b, HTTPCHILD_MAX_REQUEST);
	r = encode_request(req, &b);
	if (r) {
		if (b.data) {
			explicit_bzero(b.data, b.len);
		}
		buf_release(&b);
		snprintf(err, errsz, r == -E2BIG ? "request too large" : "out of memory");
		return r;
	}
	r = spawn_exchange(argv, b.data, b.len, req->max_body + ANSWER_FIXED,
	                   timeout > INT32_MAX ? INT32_MAX : (int)timeout, &out, &outlen, &status);
	explicit_bzero(b.data, b.len); /* header lines and body hold tokens */
	buf_release(&b);
	if (r) {
		snprintf(err, errsz, "cannot start the HTTP helper process: %s", strerror(-r));
	} else if (status == -1) {
		snprintf(err, errsz, "no answer within %ld ms", req->timeout_ms);
		r = -ETIMEDOUT;
	} else if ((r = decode_answer(out, outlen, resp, err, errsz)) == -EPROTO) {
		snprintf(err, errsz, "the HTTP helper process failed (exit status %d)", status);
		r = -EIO;
	}
	wipe_free(out, outlen);
	return r;
}

void httpchild_enable(void)
{
	http_set_transport(httpchild_perform);
}

/* ---- the child's side ---- */

struct wire_request {
	struct http_request req;
	char *method, *url, *body;
	char *headers[MAX_HEADERS + 1];
	size_t nheaders;
};

static void wire_release(struct wire_request *w)
{
	free(w->method);
	free(w->url);
	for (size_t i = 0; i < w->nheaders; i++) {
		util_free_secret(w->headers[i]);
	}
	if (w->body) {
		wipe_free(w->body, w->req.body_len);
	}
}

static int decode_request(const char *data, size_t len, struct wire_request *w)
{
	struct reader rd = {data, len, false};
	uint64_t n;

	memset(w, 0, sizeof(*w));
	get_magic(&rd);
	w->method = get_bytes(&rd, NULL);
	w->url = get_bytes(&rd, NULL);
	n = get_u64(&rd);
	if (n > MAX_HEADERS) {
		rd.bad = true;
	}
	for (size_t i = 0; i < n && !rd.bad; i++) {
		w->headers[w->nheaders] = get_bytes(&rd, NULL);
		w->nheaders += w->headers[w->nheaders] != NULL;
	}
	w->body = get_bytes(&rd, &w->req.body_len);
	w->req.timeout_ms = (long)get_u64(&rd);
	w->req.max_body = (size_t)get_u64(&rd);
	w->req.method = w->method;
	w->req.url = w->url;
	w->req.headers = (const char *const *)w->headers;
	w->req.body = w->req.body_len ? w->body : NULL;
	return rd.bad || rd.left || w->req.timeout_ms <= 0 ? -EPROTO : 0;
}

static int write_answer(int fd, int rc, const struct http_response *resp, const char *err)
{
	struct buf b;
	char msg[ERR_MAX];
	int r;

	snprintf(msg, sizeof(msg), "%s", rc ? err : "");
	buf_init(&b, resp->body_len + ANSWER_FIXED);
	r = buf_append(&b, MAGIC, 4);
	r = r ? r : put_u64(&b, (uint64_t)(int64_t)rc);
	r = r ? r : put_u64(&b, (uint64_t)resp->status);
	r = r ? r : put_u64(&b, (uint64_t)(int64_t)resp->retry_after_s);
	r = r ? r : put_str(&b, msg);
	if (rc == 0) {
		r = r ? r : put_bytes(&b, resp->body, resp->body_len);
	}
	r = r ? r : util_write_all(fd, b.data, b.len);
	if (b.data) {
		explicit_bzero(b.data, b.len); /* a token endpoint's answer holds tokens */
	}
	buf_release(&b);
	return r;
}

int httpchild_serve(int in_fd, int out_fd)
{
	struct http_response resp = {.retry_after_s = -1};
	struct wire_request w = {0};
	char err[ERR_MAX] = "";
	struct buf b;
	int r;

	buf_init(&b, HTTPCHILD_MAX_REQUEST);
	r = buf_read_fd(&b, in_fd);
	r = r ? r : decode_request(b.data ? b.data : "", b.len, &w);
	if (b.data) {
		explicit_bzero(b.data, b.len);
	}
	buf_release(&b);
	if (r) {
		wire_release(&w);
		fprintf(stderr, "codex-switch __http: a malformed request on stdin\n");
		return 1;
	}
	r = http_perform(&w.req, &resp, err, sizeof(err));
	wire_release(&w);
	r = write_answer(out_fd, r, &resp, err);
	http_response_release(&resp);
	return r ? 1 : 0;
}
