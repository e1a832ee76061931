#include "proxy/jsonrpc.h"

#include <errno.h>
#include <string.h>

/* A cursor over the available prefix. Every step returns 0, -EAGAIN (ran out of bytes before the
 * end of the message) or -EINVAL (not JSON we can walk). */
struct cur {
	const char *d;
	size_t len;
	size_t pos;
	bool final;
};

/* Room for a decoded key: longer ones are none of the keys we look for. */
#define KEY_BUF 16

/* What the walk has seen so far. */
struct seen {
	bool method;
	bool id;
	bool result; /* "result" or "error" */
};

static int out_of_bytes(const struct cur *c)
{
	return c->final ? -EINVAL : -EAGAIN;
}

static int skip_ws(struct cur *c)
{
	while (c->pos < c->len) {
		char ch = c->d[c->pos];

		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
			return 0;
		}
		c->pos++;
	}
	return out_of_bytes(c);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/* Appends one decoded byte to out (NULL: skipping), flagging truncation. */
static void put(char *out, size_t outsz, size_t *n, bool *trunc, char ch)
{
	if (!out) {
		return;
	}
	if (*n + 1 < outsz) {
		out[(*n)++] = ch;
		out[*n] = '\0';
	} else if (trunc) {
		*trunc = true;
	}
}

/* Appends n plain bytes to out (NULL: skipping), flagging truncation. */
static void put_run(char *out, size_t outsz, size_t *n, bool *trunc, const char *p, size_t len)
{
	size_t room;

	if (!out || !len) {
		return;
	}
	room = outsz - 1 - *n;
	if (len > room) {
		len = room;
		if (trunc) {
			*trunc = true;
		}
	}
	memcpy(out + *n, p, len);
	*n += len;
	out[*n] = '\0';
}

/* Decodes \uXXXX (c->pos is at 'u') as UTF-8; surrogates are not paired (names are ASCII). */
static int decode_u(struct cur *c, char *out, size_t outsz, size_t *n, bool *trunc)
{
	unsigned v = 0;

	if (c->pos + 5 > c->len) {
		return out_of_bytes(c);
	}
	for (int i = 1; i <= 4; i++) {
		int x = hexval(c->d[c->pos + (size_t)i]);

		if (x < 0) {
			return -EINVAL;
		}
		v = v * 16 + (unsigned)x;
	}
	c->pos += 5;
	if (v < 0x80) {
		put(out, outsz, n, trunc, (char)v);
	} else if (v < 0x800) {
		put(out, outsz, n, trunc, (char)(0xC0 | (v >> 6)));
		put(out, outsz, n, trunc, (char)(0x80 | (v & 0x3F)));
	} else {
		put(out, outsz, n, trunc, (char)(0xE0 | (v >> 12)));
		put(out, outsz, n, trunc, (char)(0x80 | ((v >> 6) & 0x3F)));
		put(out, outsz, n, trunc, (char)(0x80 | (v & 0x3F)));
	}
	return 0;
}

static char simple_escape(char ch)
{
	switch (ch) {
	case '"':
	case '\\':
	case '/':
		return ch;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return '\0';
	}
}

/* Reads a string (c->pos at the opening quote), decoding it into out when out is not NULL. */
static int scan_string(struct cur *c, char *out, size_t outsz, bool *trunc)
{
	size_t n = 0;

	if (out) {
		out[0] = '\0';
	}
	c->pos++;
	while (c->pos < c->len) {
		size_t run = c->pos;
		char ch;

		/* Plain characters in one run: every message passes here, so no per-byte calls. */
		while (run < c->len && c->d[run] != '"' && c->d[run] != '\\') {
			run++;
		}
		put_run(out, outsz, &n, trunc, c->d + c->pos, run - c->pos);
		c->pos = run;
		if (run == c->len) {
			break;
		}
		ch = c->d[c->pos];
		if (ch == '"') {
			c->pos++;
			return 0;
		}
		if (c->pos + 1 >= c->len) {
			return out_of_bytes(c);
		}
		c->pos++;
		if (c->d[c->pos] == 'u') {
			int r = decode_u(c, out, outsz, &n, trunc);

			if (r < 0) {
				return r;
			}
			continue;
		}
		ch = simple_escape(c->d[c->pos]);
		if (ch == '\0') {
			return -EINVAL;
		}
		put(out, outsz, &n, trunc, ch);
		c->pos++;
	}
	return out_of_bytes(c);
}

/* Skips a scalar (number, true, false, null): it ends at a delimiter, which must be seen. */
static int skip_scalar(struct cur *c)
{
	size_t start = c->pos;

	while (c->pos < c->len) {
		char ch = c->d[c->pos];

		if (ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\t' || ch == '\n' ||
		    ch == '\r') {
			return c->pos > start ? 0 : -EINVAL;
		}
		if (ch == '{' || ch == '[' || ch == '"' || ch == ':') {
			return -EINVAL;
		}
		c->pos++;
	}
	/* A scalar that ends the text is still followed by '}' in any valid object. */
	return out_of_bytes(c);
}

/* Skips one value of any type; nesting is tracked by depth only (brackets are not matched). */
static int skip_value(struct cur *c)
{
	size_t depth = 0;

	do {
		int r = skip_ws(c);
		char ch;

		if (r < 0) {
			return r;
		}
		ch = c->d[c->pos];
		if (ch == '"') {
			r = scan_string(c, NULL, 0, NULL);
		} else if (ch == '{' || ch == '[') {
			depth++;
			c->pos++;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0) {
				return -EINVAL;
			}
			depth--;
			c->pos++;
		} else if ((ch == ',' || ch == ':') && depth > 0) {
			c->pos++;
		} else {
			r = skip_scalar(c);
		}
		if (r < 0) {
			return r;
		}
	} while (depth > 0);
	return 0;
}

static int scan_id(struct cur *c, struct jsonrpc_head *h)
{
	size_t start = c->pos, n;
	int r = skip_value(c);

	if (r < 0) {
		return r;
	}
	n = c->pos - start;
	h->id_truncated = n >= sizeof(h->id);
	if (h->id_truncated) {
		n = sizeof(h->id) - 1;
	}
	memcpy(h->id, c->d + start, n);
	h->id[n] = '\0';
	h->id_is_string = c->d[start] == '"';
	return 0;
}

enum key { KEY_OTHER, KEY_METHOD, KEY_ID, KEY_PARAMS, KEY_RESULT };

/* Which key the n bytes at k spell. */
static enum key key_of(const char *k, size_t n)
{
	switch (n) {
	case 2:
		return memcmp(k, "id", 2) == 0 ? KEY_ID : KEY_OTHER;
	case 5:
		return memcmp(k, "error", 5) == 0 ? KEY_RESULT : KEY_OTHER;
	case 6:
		if (memcmp(k, "method", 6) == 0) {
			return KEY_METHOD;
		}
		if (memcmp(k, "params", 6) == 0) {
			return KEY_PARAMS;
		}
		return memcmp(k, "result", 6) == 0 ? KEY_RESULT : KEY_OTHER;
	default:
		return KEY_OTHER;
	}
}

/* Reads one value for key; sets *decided when the head is known without reading further. */
static int scan_member(struct cur *c, enum key k, struct jsonrpc_head *h, struct seen *s,
                       bool *decided)
{
	int r;

	if (k == KEY_METHOD && !s->method && c->d[c->pos] == '"') {
		r = scan_string(c, h->method, sizeof(h->method), &h->method_truncated);
		s->method = r == 0;
	} else if (k == KEY_ID && !s->id) {
		r = scan_id(c, h);
		s->id = r == 0;
	} else if (k == KEY_PARAMS && s->method) {
		h->kind = s->id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
		*decided = true;
		return 0;
	} else if (k == KEY_RESULT && s->id && !s->method) {
		h->kind = JSONRPC_RESPONSE;
		*decided = true;
		return 0;
	} else {
		if (k == KEY_RESULT) {
			s->result = true;
		}
		r = skip_value(c);
	}
	if (r == 0 && s->method && s->id) {
		h->kind = JSONRPC_REQUEST;
		h->complete = true;
		*decided = true;
	}
	return r;
}

static void classify_end(struct jsonrpc_head *h, const struct seen *s)
{
	if (s->method) {
		h->kind = s->id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
	} else if (s->id && s->result) {
		h->kind = JSONRPC_RESPONSE;
	} else {
		h->kind = JSONRPC_UNKNOWN;
	}
	h->complete = true;
}

/* Reads `"key" :` and leaves the cursor at the start of the value. Every message passes here:
 * a key without escapes (all of codex's) is compared where it lies, without decoding. */
static int scan_key(struct cur *c, enum key *k)
{
	char key[KEY_BUF];
	bool trunc = false;
	size_t end = c->pos + 1;
	int r = 0;

	if (c->d[c->pos] != '"') {
		return -EINVAL;
	}
	while (end < c->len && c->d[end] != '"' && c->d[end] != '\\') {
		end++;
	}
	if (end < c->len && c->d[end] == '"') {
		*k = key_of(c->d + c->pos + 1, end - c->pos - 1);
		c->pos = end + 1;
	} else {
		r = scan_string(c, key, sizeof(key), &trunc);
		*k = trunc ? KEY_OTHER : key_of(key, strlen(key));
	}
	if (r == 0) {
		r = skip_ws(c);
	}
	if (r == 0 && c->d[c->pos] != ':') {
		return -EINVAL;
	}
	if (r == 0) {
		c->pos++;
		r = skip_ws(c);
	}
	return r;
}

static int scan_members(struct cur *c, struct jsonrpc_head *h)
{
	struct seen s = {0};
	bool decided = false;
	enum key k = KEY_OTHER;

	for (bool first = true;; first = false) {
		int r = skip_ws(c);

		if (r == 0 && c->d[c->pos] == '}' && first) {
			break;
		}
		if (r == 0) {
			r = scan_key(c, &k);
		}
		if (r == 0) {
			r = scan_member(c, k, h, &s, &decided);
		}
		if (r < 0 || decided) {
			return r;
		}
		r = skip_ws(c);
		if (r < 0) {
			return r;
		}
		if (c->d[c->pos] == '}') {
			break;
		}
		if (c->d[c->pos] != ',') {
			return -EINVAL;
		}
		c->pos++;
	}
	classify_end(h, &s);
	return 0;
}

int jsonrpc_scan(const char *data, size_t len, bool final, struct jsonrpc_head *h)
{
	struct cur c = {.d = data, .len = len, .pos = 0, .final = final};
	int r;

	/* Not a memset: every relayed message is scanned, and the strings only need their NUL. */
	h->kind = JSONRPC_UNKNOWN;
	h->method[0] = h->id[0] = '\0';
	h->method_truncated = h->id_truncated = h->id_is_string = h->complete = false;
	r = skip_ws(&c);
	if (r < 0) {
		return r;
	}
	if (data[c.pos] != '{') {
		return -EINVAL;
	}
	c.pos++;
	r = scan_members(&c, h);
	if (r < 0) {
		h->kind = JSONRPC_UNKNOWN;
		h->complete = false;
	}
	return r;
}

bool jsonrpc_id_has_prefix(const struct jsonrpc_head *h, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!h->id_is_string || strlen(h->id) < n + 1) {
		return false;
	}
	return memcmp(h->id + 1, prefix, n) == 0;
}
