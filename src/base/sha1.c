#include "base/sha1.h"

#include <stdint.h>
#include <string.h>

struct sha1 {
	uint32_t h[5];
	unsigned char block[64];
	size_t used;   /* bytes in block */
	uint64_t bits; /* message length so far */
};

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void compress(struct sha1 *s, const unsigned char *p)
{
	uint32_t w[80], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f, k, t;

	for (int i = 0; i < 16; i++) {
		w[i] = load_be32(p + 4 * i);
	}
	for (int i = 16; i < 80; i++) {
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	}
	for (int i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999u;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1u;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdcu;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6u;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void update(struct sha1 *s, const unsigned char *p, size_t n)
{
	s->bits += (uint64_t)n * 8;
	while (n > 0) {
		size_t take = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->block + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used == 64) {
			compress(s, s->block);
			s->used = 0;
		}
	}
}

void sha1_digest(const void *data, size_t len, unsigned char out[SHA1_LEN])
{
	struct sha1 s = {.h = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u}};
	unsigned char pad[72] = {0x80};
	uint64_t bits;
	size_t padlen;

	update(&s, data, len);
	bits = s.bits;
	/* 0x80, zeros up to 56 mod 64, then the length in bits, big-endian. */
	padlen = (s.used < 56 ? 56 - s.used : 120 - s.used);
	for (int i = 0; i < 8; i++) {
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	}
	update(&s, pad, padlen + 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (unsigned char)(s.h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s.h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s.h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s.h[i];
	}
}
