/*
 * Base64 (RFC 4648): the standard alphabet with padding for the WebSocket handshake, the
 * URL-safe one without padding for JWTs and the OAuth login. Ours rather than OpenSSL's, so
 * that codex-switch does not link libcrypto (see sha.h).
 */
#ifndef CS_BASE64_H
#define CS_BASE64_H

#include <stddef.h>

/* The characters base64_encode() writes for len bytes, without the NUL. */
#define BASE64_LEN(len) (((len) + 2) / 3 * 4)

/* Encodes in[0..len) with the standard alphabet and padding into out (BASE64_LEN(len) + 1
 * bytes, NUL-terminated). Returns the characters written. */
size_t base64_encode(const void *in, size_t len, char *out);

/* The same with the URL-safe alphabet ('-', '_') and no padding (RFC 4648 5). */
size_t base64url_encode(const void *in, size_t len, char *out);

/*
 * Decodes URL-safe base64 without padding (in[0..len), no '=') into out, which has room for
 * len * 3 / 4 bytes. 0 with *outlen set, or -EINVAL for a character outside the alphabet or
 * a length no encoding has (len % 4 == 1).
 */
int base64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

#endif
