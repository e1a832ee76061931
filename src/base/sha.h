/*
 * SHA-1 and SHA-256, for the few places that need a digest: the WebSocket handshake's
 * Sec-WebSocket-Accept (SHA-1, RFC 6455 4.2.2; not for security), the OAuth login's PKCE
 * challenge (SHA-256, RFC 7636) and the name of an auth.json backup. OpenSSL's EVP digests
 * would do, but linking libcrypto costs every start of codex-switch about 0.5 ms of
 * relocations and the relay process some 1.5 MiB of resident memory, and the first EVP use
 * loads its configuration and providers (2 MiB more).
 */
#ifndef CS_SHA_H
#define CS_SHA_H

#include <stddef.h>

#define SHA1_LEN   20
#define SHA256_LEN 32

/* out = SHA-1 of data[0..len). */
void sha1_digest(const void *data, size_t len, unsigned char out[SHA1_LEN]);

/* out = SHA-256 of data[0..len). */
void sha256_digest(const void *data, size_t len, unsigned char out[SHA256_LEN]);

#endif
