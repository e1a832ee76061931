/*
 * SHA-1, for the one place the WebSocket protocol needs it (Sec-WebSocket-Accept, RFC 6455
 * 4.2.2). Not for security. OpenSSL's EVP digests would do, but their first use loads the
 * library's configuration and providers: about 2 MiB of resident memory in the relay process
 * for 20 bytes per connection.
 */
#ifndef CS_SHA1_H
#define CS_SHA1_H

#include <stddef.h>

#define SHA1_LEN 20

/* out = SHA-1 of data[0..len). */
void sha1_digest(const void *data, size_t len, unsigned char out[SHA1_LEN]);

#endif
