#include "base/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

static const char std_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode(const unsigned char *in, size_t len, char *out, const char *abc, bool pad)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		uint32_t v = (uint32_t)in[i] << 16 | (left > 1 ? (uint32_t)in[i + 1] << 8 : 0) |
		             (left > 2 ? in[i + 2] : 0);

		out[n++] = abc[v >> 18 & 63];
		out[n++] = abc[v >> 12 & 63];
		if (left > 1 || pad) {
			out[n++] = left > 1 ? abc[v >> 6 & 63] : '=';
		}
		if (left > 2 || pad) {
			out[n++] = left > 2 ? abc[v & 63] : '=';
		}
	}
	out[n] = '\0';
	return n;
}

size_t base64_encode(const void *in, size_t len, char *out)
{
	return encode(in, len, out, std_abc, true);
}

size_t base64url_encode(const void *in, size_t len, char *out)
{
	return encode(in, len, out, url_abc, false);
}

static int url_value(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

int base64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	if (len % 4 == 1) {
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		int v = url_value(in[i]);

		if (v < 0) {
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = n;
	return 0;
}
