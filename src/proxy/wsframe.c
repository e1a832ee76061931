#include "proxy/wsframe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "base/sha.h"
#include "base/util.h"

#define RESPONSE_MAX (16 * 1024)

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
#define ACCEPT_LEN 28 /* base64 of a SHA-1 */

int wsframe_new_key(char key[WSFRAME_KEY_LEN + 1])
{
	unsigned char raw[16];
	int r = util_random_bytes(raw, sizeof(raw));

	if (r) {
		return r;
	}
	base64_encode(raw, sizeof(raw), key);
	return 0;
}

char *wsframe_request(const char *host, int port, const char *path, const char *key,
                      const char *extra_headers)
{
	char hp[300];

	if (port > 0) {
		snprintf(hp, sizeof(hp), "%s:%d", host, port);
	} else {
		snprintf(hp, sizeof(hp), "%s", host);
	}
	return util_printf("GET %s HTTP/1.1\r\n"
	                   "Host: %s\r\n"
	                   "Upgrade: websocket\r\n"
	                   "Connection: Upgrade\r\n"
	                   "Sec-WebSocket-Key: %s\r\n"
	                   "Sec-WebSocket-Version: 13\r\n"
	                   "%s\r\n",
	                   path, hp, key, extra_headers ? extra_headers : "");
}

/* The value of header name in the head (lines end in \r\n), copied into out; false if absent.
 */
static bool header_value(const char *head, size_t len, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v;
		size_t n;

		if (!eol) {
			break;
		}
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			for (v = p + nl + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {
			}
			n = (size_t)(eol - v);
			while (n && (v[n - 1] == '\r' || v[n - 1] == ' ' || v[n - 1] == '\t')) {
				n--;
			}
			if (n >= outsz) {
				return false;
			}
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		p = eol + 1;
	}
	return false;
}

/* Sec-WebSocket-Accept for the key's klen bytes: base64(SHA-1(key GUID)), NUL-terminated. */
static bool accept_value(const char *key, size_t klen, char out[ACCEPT_LEN + 1])
{
	unsigned char sha[SHA1_LEN];
	char in[64 + sizeof(ws_guid)];

	if (klen > 64) {
		return false;
	}
	memcpy(in, key, klen);
	memcpy(in + klen, ws_guid, sizeof(ws_guid) - 1);
	sha1_digest(in, klen + sizeof(ws_guid) - 1, sha);
	base64_encode(sha, SHA1_LEN, out);
	return true;
}

static bool accept_ok(const char *key, const char *got)
{
	char want[ACCEPT_LEN + 1];

	return accept_value(key, strlen(key), want) && strcmp(want, got) == 0;
}

long wsframe_response(const char *data, size_t len, const char *key, int *status)
{
	const char *end = NULL;
	char v[128];
	long head;

	for (size_t i = 3; i < len && i < RESPONSE_MAX; i++) {
		if (data[i] == '\n' && data[i - 1] == '\r' && data[i - 2] == '\n' &&
		    data[i - 3] == '\r') {
			end = data + i + 1;
			break;
		}
	}
	if (!end) {
		return len >= RESPONSE_MAX ? -E2BIG : -EAGAIN;
	}
	head = end - data;
	*status = 0;
	if (len < 12 || strncmp(data, "HTTP/1.1 ", 9) != 0) {
		return -EPROTO;
	}
	*status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
	if (*status != 101) {
		return -ECONNREFUSED;
	}
	if (!header_value(data, (size_t)head, "upgrade", v, sizeof(v)) ||
	    strcasecmp(v, "websocket") != 0 ||
	    !header_value(data, (size_t)head, "sec-websocket-accept", v, sizeof(v)) ||
	    !accept_ok(key, v)) {
		return -EPROTO;
	}
	return head;
}

/* ---- server end of the handshake ---- */

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_b64(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* p[0..n) equals the NUL-terminated lowercase word w, in any case. */
static bool eq_nocase(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

/* The request line p[0..n) (no line end): "<method> <target> HTTP/1.<digit>". Sets *get and
 * *minor. */
static bool request_line(const char *p, size_t n, bool *get, int *minor)
{
	size_t m = 0, t;

	while (m < n && is_tchar((unsigned char)p[m])) {
		m++;
	}
	if (m == 0 || m + 1 >= n || p[m] != ' ') {
		return false;
	}
	t = m + 1;
	while (t < n && p[t] > ' ' && p[t] < 0x7f) {
		t++;
	}
	if (t == m + 1 || n - t != 9 || strncmp(p + t, " HTTP/1.", 8) != 0 || p[n - 1] < '0' ||
	    p[n - 1] > '9') {
		return false;
	}
	*get = m == 3 && memcmp(p, "GET", 3) == 0;
	*minor = p[n - 1] - '0';
	return true;
}

/* Connection is a comma-separated list of tokens; true when one is "upgrade" in any case. */
static bool lists_upgrade(const char *v, size_t n)
{
	const char *end = v + n;

	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		const char *e = comma ? comma : end;
		const char *b = v;

		while (b < e && is_ows(*b)) {
			b++;
		}
		while (e > b && is_ows(e[-1])) {
			e--;
		}
		if (eq_nocase(b, (size_t)(e - b), "upgrade")) {
			return true;
		}
		v = comma ? comma + 1 : end;
	}
	return false;
}

/* A key that decodes to 16 bytes: 22 base64 characters and "==". */
static bool key_ok(const char *v, size_t n)
{
	if (n != WSFRAME_KEY_LEN || v[22] != '=' || v[23] != '=') {
		return false;
	}
	for (size_t i = 0; i < 22; i++) {
		if (!is_b64((unsigned char)v[i])) {
			return false;
		}
	}
	return true;
}

long wsframe_parse_upgrade(const char *data, size_t len, size_t max, struct wsframe_upgrade *u)
{
	size_t lim = len < max ? len : max, head = 0;
	const char *p, *end, *eol = lim ? memchr(data, '\n', lim) : NULL;
	const char *upg = NULL, *conn = NULL, *ver = NULL, *key = NULL;
	size_t upg_n = 0, conn_n = 0, ver_n = 0, key_n = 0;
	bool get = false;
	int minor = 0;

	memset(u, 0, sizeof(*u));
	/* Reject a bad request line as soon as it is complete, not when the head is. */
	if (eol && !request_line(data, (size_t)(eol - data) - (eol > data && eol[-1] == '\r'), &get,
	                         &minor)) {
		return -EPROTO;
	}
	/* The head ends at an empty line: "\n" then "\n" or "\r\n". */
	while (eol) {
		size_t at = (size_t)(eol - data) + 1;

		if (at < lim && data[at] == '\n') {
			head = at + 1;
			break;
		}
		if (at + 1 < lim && data[at] == '\r' && data[at + 1] == '\n') {
			head = at + 2;
			break;
		}
		eol = at < lim ? memchr(data + at, '\n', lim - at) : NULL;
	}
	if (!head) {
		return len >= max ? -E2BIG : -EAGAIN;
	}
	u->get = get;
	end = data + head;
	p = (const char *)memchr(data, '\n', head) + 1;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *colon, *v, *ve = nl;

		if (ve > p && ve[-1] == '\r') {
			ve--;
		}
		if (ve == p) {
			break; /* the empty line */
		}
		colon = memchr(p, ':', (size_t)(ve - p));
		if (colon) {
			size_t nn = (size_t)(colon - p);

			for (v = colon + 1; v < ve && is_ows(*v); v++) {
			}
			while (ve > v && is_ows(ve[-1])) {
				ve--;
			}
			/* The first of each header counts. */
			if (!upg && eq_nocase(p, nn, "upgrade")) {
				upg = v, upg_n = (size_t)(ve - v);
			} else if (!conn && eq_nocase(p, nn, "connection")) {
				conn = v, conn_n = (size_t)(ve - v);
			} else if (!ver && eq_nocase(p, nn, "sec-websocket-version")) {
				ver = v, ver_n = (size_t)(ve - v);
			} else if (!key && eq_nocase(p, nn, "sec-websocket-key")) {
				key = v, key_n = (size_t)(ve - v);
			} else if (eq_nocase(p, nn, "origin")) {
				u->origin = true;
			} else if (!u->auth && eq_nocase(p, nn, "authorization")) {
				u->auth = v;
				u->auth_len = (size_t)(ve - v);
			}
		}
		p = nl + 1;
	}
	u->upgrade = get && minor >= 1 && upg && eq_nocase(upg, upg_n, "websocket") && conn &&
	             lists_upgrade(conn, conn_n) && ver && eq_nocase(ver, ver_n, "13") && key &&
	             key_ok(key, key_n);
	u->key = u->upgrade ? key : NULL;
	return (long)head;
}

long wsframe_accept_response(const char *key, char *out, size_t outsz)
{
	char acc[ACCEPT_LEN + 1];
	int n;

	if (!accept_value(key, WSFRAME_KEY_LEN, acc)) {
		return -EIO;
	}
	n = snprintf(out, outsz,
	             "HTTP/1.1 101 Switching Protocols\r\n"
	             "Upgrade: websocket\r\n"
	             "Connection: Upgrade\r\n"
	             "Sec-WebSocket-Accept: %s\r\n"
	             "\r\n",
	             acc);
	if (n < 0 || (size_t)n >= outsz) {
		return -ENOSPC;
	}
	return n;
}

/* ---- frames ---- */

void wsframe_rx_init(struct wsframe_rx *rx, bool from_client)
{
	memset(rx, 0, sizeof(*rx));
	rx->from_client = from_client;
}

/* Bytes of header needed so far: 2, then the extended length and the masking key. */
static size_t header_need(const struct wsframe_rx *rx)
{
	unsigned l7;

	if (rx->hlen < 2) {
		return 2;
	}
	l7 = rx->hdr[1] & 0x7f;
	return (l7 == 126 ? 4 : l7 == 127 ? 10 : 2) + (rx->hdr[1] & 0x80 ? 4 : 0);
}

/* The first two header bytes: no reserved bits (no extension agreed), masked exactly when the
 * frame comes from a client. */
static bool header_start_ok(const struct wsframe_rx *rx)
{
	return !(rx->hdr[0] & 0x70) && !(rx->hdr[1] & 0x80) == !rx->from_client;
}

/* The payload length the header announces; -EPROTO when it is not in the minimal form
 * (RFC 6455 5.2), -EMSGSIZE when the most significant bit of a 64-bit length is set. */
static int header_length(const struct wsframe_rx *rx, uint64_t *len)
{
	unsigned l7 = rx->hdr[1] & 0x7f;
	uint64_t n = l7;

	if (l7 == 126) {
		n = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
		if (n < 126) {
			return -EPROTO;
		}
	} else if (l7 == 127) {
		if (rx->hdr[2] & 0x80) {
			return -EMSGSIZE;
		}
		n = 0;
		for (int i = 2; i < 10; i++) {
			n = n << 8 | rx->hdr[i];
		}
		if (n <= 0xffff) {
			return -EPROTO;
		}
	}
	*len = n;
	return 0;
}

/* Whether a data frame with opcode op may start or continue a message here. */
static int data_frame_ok(struct wsframe_rx *rx, unsigned op, uint64_t n)
{
	if (op == WSFRAME_CONT ? !rx->in_message : op > WSFRAME_BINARY || rx->in_message) {
		return -EPROTO;
	}
	if (rx->max_len && n > rx->max_len) {
		return -EMSGSIZE;
	}
	if (op == WSFRAME_CONT) {
		return rx->max_frames && ++rx->msg_frames > rx->max_frames ? -EMSGSIZE : 0;
	}
	rx->in_message = true;
	rx->msg_binary = op == WSFRAME_BINARY;
	rx->msg_started = false;
	rx->msg_frames = 1;
	return 0;
}

/* The header is complete: check it and set up the payload. */
static int header_done(struct wsframe_rx *rx)
{
	unsigned op = rx->hdr[0] & 0x0f;
	uint64_t n = 0;
	int r;

	/* A control frame's length always fits in the 7 bits: no extended length at all. */
	if (op >= 8 &&
	    (op > WSFRAME_PONG || !(rx->hdr[0] & 0x80) || (rx->hdr[1] & 0x7f) > WSFRAME_CTRL_MAX)) {
		return -EPROTO;
	}
	r = header_length(rx, &n);
	if (r == 0 && op < 8) {
		r = data_frame_ok(rx, op, n);
	}
	if (r < 0) {
		return r;
	}
	if (rx->from_client) {
		memcpy(rx->key, rx->hdr + rx->hlen - 4, 4);
	}
	rx->moff = 0;
	rx->fin = rx->hdr[0] & 0x80;
	rx->op = op;
	rx->left = n;
	rx->in_payload = true;
	rx->hlen = 0;
	rx->clen = 0;
	return 0;
}

/* Unmasks n payload bytes at p (from a client) and moves the mask offset on. Only moff % 4
 * matters, so its wrapping past SIZE_MAX on a huge frame does no harm. */
static void unmask(struct wsframe_rx *rx, unsigned char *p, size_t n)
{
	if (rx->from_client) {
		wsframe_mask_at(p, n, rx->key, rx->moff);
		rx->moff += n;
	}
}

/* A slice of data payload (possibly empty, for an empty frame). */
static void data_slice(struct wsframe_rx *rx, unsigned char *p, size_t n, struct wsframe_event *ev)
{
	ev->masked = rx->from_client && rx->keep_mask;
	if (ev->masked) {
		wsframe_mask_shift(ev->mask, rx->key, rx->moff);
		rx->moff += n;
	} else {
		unmask(rx, p, n);
	}
	rx->left -= n;
	ev->op = rx->msg_binary ? WSFRAME_BINARY : WSFRAME_TEXT;
	ev->data = p;
	ev->len = n;
	ev->first = !rx->msg_started;
	ev->final = rx->fin && rx->left == 0;
	rx->msg_started = true;
	if (rx->left == 0) {
		rx->in_payload = false;
		if (rx->fin) {
			rx->in_message = false;
		}
	}
}

/* Collects a control frame's payload (unmasked in the copy); true when it is complete. */
static bool ctrl_bytes(struct wsframe_rx *rx, const unsigned char *p, size_t n,
                       struct wsframe_event *ev)
{
	memcpy(rx->ctrl + rx->clen, p, n);
	unmask(rx, rx->ctrl + rx->clen, n);
	rx->clen += n;
	rx->left -= n;
	if (rx->left) {
		return false;
	}
	rx->in_payload = false;
	ev->op = (enum wsframe_op)rx->op;
	ev->data = rx->ctrl;
	ev->len = rx->clen;
	ev->first = ev->final = true;
	ev->masked = false;
	return true;
}

long wsframe_parse(struct wsframe_rx *rx, unsigned char *in, size_t len, struct wsframe_event *ev,
                   bool *have)
{
	size_t used = 0;

	*have = false;
	while (!rx->in_payload) {
		size_t need = header_need(rx);

		if (rx->hlen == need) {
			int r = header_done(rx);

			if (r < 0) {
				return r;
			}
			break;
		}
		if (used == len) {
			return (long)used;
		}
		rx->hdr[rx->hlen++] = in[used++];
		if (rx->hlen == 2 && !header_start_ok(rx)) {
			return -EPROTO;
		}
	}
	{
		size_t n = len - used;

		if (n > rx->left) {
			n = (size_t)rx->left;
		}
		if (rx->op >= 8) {
			*have = ctrl_bytes(rx, in + used, n, ev);
		} else if (n || rx->left == 0) {
			data_slice(rx, in + used, n, ev);
			*have = true;
		}
		return (long)(used + n);
	}
}

/* One UTF-8 sequence at p[0..n) starting with lead byte b0: its length, or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid, RFC 3629). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned b0 = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (b0 < 0x80) {
		return 1;
	}
	if (b0 < 0xc2 || b0 > 0xf4) {
		return 0;
	}
	len = b0 < 0xe0 ? 2 : b0 < 0xf0 ? 3 : 4;
	lo = b0 == 0xe0 ? 0xa0 : b0 == 0xf0 ? 0x90 : 0x80;
	hi = b0 == 0xed ? 0x9f : b0 == 0xf4 ? 0x8f : 0xbf;
	if (n < len || p[1] < lo || p[1] > hi) {
		return 0;
	}
	for (size_t i = 2; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0;
		}
	}
	return len;
}

bool wsframe_utf8_ok(const unsigned char *p, size_t n)
{
	while (n) {
		size_t l = utf8_seq(p, n);

		if (!l) {
			return false;
		}
		p += l;
		n -= l;
	}
	return true;
}

bool wsframe_close_code_ok(int code)
{
	return (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
	       (code >= 3000 && code <= 4999);
}

int wsframe_close_check(const unsigned char *p, size_t n)
{
	if (n == 0) {
		return 0;
	}
	if (n == 1 || !wsframe_close_code_ok(p[0] << 8 | p[1])) {
		return WSFRAME_CLOSE_PROTOCOL;
	}
	return wsframe_utf8_ok(p + 2, n - 2) ? 0 : WSFRAME_CLOSE_INVALID_DATA;
}

size_t wsframe_header(unsigned char *out, enum wsframe_op op, bool fin, uint64_t len,
                      const unsigned char mask[4])
{
	size_t h = 2;

	unsigned char m = mask ? 0x80 : 0;

	out[0] = (unsigned char)((fin ? 0x80 : 0) | (unsigned)op);
	if (len < 126) {
		out[1] = (unsigned char)(m | len);
	} else if (len <= 0xffff) {
		out[1] = m | 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		h = 4;
	} else {
		out[1] = m | 127;
		for (int i = 0; i < 8; i++) {
			out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
		}
		h = 10;
	}
	if (!mask) {
		return h;
	}
	memcpy(out + h, mask, 4);
	return h + 4;
}

void wsframe_mask_at(unsigned char *p, size_t n, const unsigned char mask[4], size_t off)
{
	unsigned char m[8];
	uint64_t m8;
	size_t i = 0;

	/* The mask rotated to start at off, twice: it repeats every four bytes, so every step of
	 * eight starts at the same phase. memcpy keeps unaligned words defined (one load each). */
	for (int k = 0; k < 8; k++) {
		m[k] = mask[(off + (size_t)k) & 3];
	}
	memcpy(&m8, m, 8);
	for (; i + 32 <= n; i += 32) {
		uint64_t v[4];

		memcpy(v, p + i, 32);
		v[0] ^= m8;
		v[1] ^= m8;
		v[2] ^= m8;
		v[3] ^= m8;
		memcpy(p + i, v, 32);
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		v ^= m8;
		memcpy(p + i, &v, 8);
	}
	for (; i < n; i++) {
		p[i] ^= m[i & 3];
	}
}

void wsframe_mask_shift(unsigned char out[4], const unsigned char mask[4], size_t off)
{
	for (size_t k = 0; k < 4; k++) {
		out[k] = mask[(off + k) & 3];
	}
}

void wsframe_mask(unsigned char *p, size_t n, const unsigned char mask[4])
{
	wsframe_mask_at(p, n, mask, 0);
}
