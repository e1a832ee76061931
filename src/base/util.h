/*
 * Small helpers shared by every module.
 *
 * Ownership rule for the whole code base: pointer arguments are borrowed, and a returned
 * pointer belongs to the caller, who frees it with free() unless the function says otherwise.
 * Fallible functions return 0 or a negative errno.
 */
#ifndef CS_UTIL_H
#define CS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Length of the text form of a v4 uuid, without the NUL. */
#define UTIL_UUID_LEN 36
/* Length of a capability token: 32 random bytes as hex. */
#define UTIL_TOKEN_HEX_LEN 64

/* Compares two byte strings in time that depends only on the lengths, never on the contents. */
bool util_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Fills buf with len bytes from the kernel's CSPRNG (getrandom). */
int util_random_bytes(void *buf, size_t len);

/* Writes 2*len lowercase hex digits and a NUL to out. */
void util_hex(const void *in, size_t len, char *out);

/* A fresh random (v4) uuid in text form; out must hold UTIL_UUID_LEN + 1 bytes. */
void util_uuid(char out[UTIL_UUID_LEN + 1]);

/* Strict decimal parse of a whole string into [min, max]; -EINVAL or -ERANGE otherwise. */
int util_parse_long(const char *s, long min, long max, long *out);

/* printf into a new string; NULL with errno set on failure. Caller frees. */
char *util_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* strdup that accepts NULL (and then returns NULL). Caller frees. */
char *util_strdup0(const char *s);

/* True when s starts with prefix. */
bool util_starts_with(const char *s, const char *prefix);

/* Case-insensitive substring search over ASCII; NULL-safe (returns false). */
bool util_contains_icase(const char *haystack, const char *needle);

/* Percent-encodes everything but RFC 3986 unreserved characters. NULL on -ENOMEM. */
char *util_urlencode(const char *s);

/* write() until all of data is written (retrying EINTR). 0 or -errno. */
int util_write_all(int fd, const void *data, size_t len);

/* Overwrites and frees a string that held a secret. NULL is a no-op. */
void util_free_secret(char *s);

/* Current wall-clock time in seconds and in milliseconds. */
time_t util_now(void);
int64_t util_now_ms(void);

/*
 * RFC 3339 in UTC with microseconds, as chrono writes it ("2026-05-01T12:00:00.123456Z").
 * out must hold at least 40 bytes.
 */
void util_format_rfc3339(int64_t unix_us, char *out, size_t outsz);

/*
 * Parses RFC 3339 (fractional seconds optional, "Z" or "+hh:mm") into Unix microseconds.
 * Returns -EINVAL on anything else.
 */
int util_parse_rfc3339(const char *s, int64_t *unix_us);

/*
 * A duration of secs seconds, rounded up to the minute, as people read it: "2h 13m", "4d 2h",
 * "5m"; "now" for secs <= 0. Used for resets, cooldowns and ages alike.
 */
void util_format_countdown(int64_t secs, char *out, size_t outsz);

#endif
