#include "wsframe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "util.h"

#define RESPONSE_MAX (16 * 1024)

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int wsframe_new_key(char key[WSFRAME_KEY_LEN + 1])
{
	unsigned char raw[16];
	int r = util_random_bytes(raw, sizeof(raw));

	if (r) {
		return r;
	}
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
	return 0;
}

char *wsframe_request(const char *host, int port, const char *path, const char *key,
                      const char *extra_headers)
{
	return util_printf("GET %s HTTP/1.1\r\n"
	                   "Host: %s:%d\r\n"
	                   "Upgrade: websocket\r\n"
	                   "Connection: Upgrade\r\n"
	                   "Sec-WebSocket-Key: %s\r\n"
	                   "Sec-WebSocket-Version: 13\r\n"
	                   "%s\r\n",
	                   path, host, port, key, extra_headers ? extra_headers : "");
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

static bool accept_ok(const char *key, const char *got)
{
	unsigned char sha[EVP_MAX_MD_SIZE];
	char want[64], in[WSFRAME_KEY_LEN + sizeof(ws_guid)];
	unsigned int n = 0;

	snprintf(in, sizeof(in), "%s%s", key, ws_guid);
	if (!EVP_Digest(in, strlen(in), sha, &n, EVP_sha1(), NULL)) {
		return false;
	}
	EVP_EncodeBlock((unsigned char *)want, sha, (int)n);
	return strcmp(want, got) == 0;
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

void wsframe_rx_init(struct wsframe_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

/* Bytes of header needed so far: 2, then the extended length. */
static size_t header_need(const struct wsframe_rx *rx)
{
	unsigned l7;

	if (rx->hlen < 2) {
		return 2;
	}
	l7 = rx->hdr[1] & 0x7f;
	return l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
}

/* The header is complete: check it and set up the payload. */
static int header_done(struct wsframe_rx *rx)
{
	unsigned op = rx->hdr[0] & 0x0f, l7 = rx->hdr[1] & 0x7f;
	uint64_t n = l7;

	if ((rx->hdr[0] & 0x70) || (rx->hdr[1] & 0x80)) {
		return -EPROTO; /* reserved bits (no extension agreed), or a masked server frame */
	}
	if (l7 == 126) {
		n = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
	} else if (l7 == 127) {
		n = 0;
		for (int i = 2; i < 10; i++) {
			n = n << 8 | rx->hdr[i];
		}
	}
	rx->fin = rx->hdr[0] & 0x80;
	rx->op = op;
	rx->left = n;
	rx->in_payload = true;
	rx->hlen = 0;
	rx->clen = 0;
	if (op >= 8) {
		return op > WSFRAME_PONG || !rx->fin || n > WSFRAME_CTRL_MAX ? -EPROTO : 0;
	}
	if (op == WSFRAME_CONT) {
		return rx->in_message ? 0 : -EPROTO;
	}
	if (op > WSFRAME_BINARY || rx->in_message) {
		return -EPROTO;
	}
	rx->in_message = true;
	rx->msg_binary = op == WSFRAME_BINARY;
	rx->msg_started = false;
	return 0;
}

/* A slice of data payload (possibly empty, for an empty frame). */
static void data_slice(struct wsframe_rx *rx, const unsigned char *p, size_t n,
                       struct wsframe_event *ev)
{
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

/* Collects a control frame's payload; true when it is complete. */
static bool ctrl_bytes(struct wsframe_rx *rx, const unsigned char *p, size_t n,
                       struct wsframe_event *ev)
{
	memcpy(rx->ctrl + rx->clen, p, n);
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
	return true;
}

long wsframe_parse(struct wsframe_rx *rx, const unsigned char *in, size_t len,
                   struct wsframe_event *ev, bool *have)
{
	size_t used = 0;

	*have = false;
	while (!rx->in_payload) {
		size_t need = header_need(rx);

		if (rx->hlen == need) {
			if (header_done(rx) < 0) {
				return -EPROTO;
			}
			break;
		}
		if (used == len) {
			return (long)used;
		}
		rx->hdr[rx->hlen++] = in[used++];
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

void wsframe_mask(unsigned char *p, size_t n, const unsigned char mask[4])
{
	uint64_t m8;
	size_t i = 0;
	unsigned char m[8];

	for (int k = 0; k < 8; k++) {
		m[k] = mask[k & 3];
	}
	memcpy(&m8, m, 8);
	/* Eight bytes at a time: the mask repeats every four, so offsets stay aligned. */
	for (; i + 8 <= n; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		v ^= m8;
		memcpy(p + i, &v, 8);
	}
	for (; i < n; i++) {
		p[i] ^= mask[i & 3];
	}
}
