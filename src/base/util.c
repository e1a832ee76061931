#define _GNU_SOURCE /* getrandom, timegm */
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>
#include <uuid/uuid.h>

bool util_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = alen != blen;
	size_t n = alen < blen ? alen : blen;

	/* Walk the shorter length so the time depends on lengths only, never on content. */
	for (size_t i = 0; i < n; i++) {
		diff |= x[i] ^ y[i];
	}
	return diff == 0;
}

int util_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void util_hex(const void *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

void util_uuid(char out[UTIL_UUID_LEN + 1])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

int util_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s || isspace((unsigned char)*s)) {
		return -EINVAL;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0') {
		return -EINVAL;
	}
	if (errno == ERANGE || v < min || v > max) {
		return -ERANGE;
	}
	*out = v;
	return 0;
}

char *util_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s) {
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

char *util_strdup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

bool util_starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool util_contains_icase(const char *haystack, const char *needle)
{
	size_t n;

	if (!haystack || !needle) {
		return false;
	}
	n = strlen(needle);
	for (const char *p = haystack; *p; p++) {
		if (strncasecmp(p, needle, n) == 0) {
			return true;
		}
	}
	return n == 0;
}

char *util_urlencode(const char *s)
{
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	if (!out) {
		return NULL;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~", c)) {
			*o++ = (char)c;
		} else {
			o += snprintf(o, 4, "%%%02X", c);
		}
	}
	*o = '\0';
	return out;
}

int util_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

void util_free_secret(char *s)
{
	if (!s) {
		return;
	}
	explicit_bzero(s, strlen(s));
	free(s);
}

time_t util_now(void)
{
	return time(NULL);
}

int64_t util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_format_rfc3339(int64_t unix_us, char *out, size_t outsz)
{
	time_t secs = (time_t)(unix_us / 1000000);
	long frac = (long)(unix_us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	gmtime_r(&secs, &tm);
	snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i])) {
			return -EINVAL;
		}
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect_char(const char **p, const char *allowed)
{
	if (!**p || !strchr(allowed, **p)) {
		return -EINVAL;
	}
	(*p)++;
	return 0;
}

static int parse_fraction(const char **p, long *us)
{
	long scale = 100000;

	*us = 0;
	if (**p != '.') {
		return 0;
	}
	(*p)++;
	if (!isdigit((unsigned char)**p)) {
		return -EINVAL;
	}
	/* Keep microseconds; chrono may write up to nanoseconds. */
	for (; isdigit((unsigned char)**p); (*p)++) {
		*us += (**p - '0') * scale;
		scale /= 10;
	}
	return 0;
}

static int parse_offset(const char **p, long *offset_s)
{
	int sign, hh, mm;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*offset_s = 0;
		return 0;
	}
	if (**p != '+' && **p != '-') {
		return -EINVAL;
	}
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (parse_digits(p, 2, &hh) || expect_char(p, ":") || parse_digits(p, 2, &mm)) {
		return -EINVAL;
	}
	*offset_s = sign * (hh * 3600L + mm * 60L);
	return 0;
}

int util_parse_rfc3339(const char *s, int64_t *unix_us)
{
	struct tm tm = {0};
	const char *p = s;
	long frac, offset;
	time_t t;

	if (!s) {
		return -EINVAL;
	}
	if (parse_digits(&p, 4, &tm.tm_year) || expect_char(&p, "-") ||
	    parse_digits(&p, 2, &tm.tm_mon) || expect_char(&p, "-") ||
	    parse_digits(&p, 2, &tm.tm_mday) || expect_char(&p, "Tt ") ||
	    parse_digits(&p, 2, &tm.tm_hour) || expect_char(&p, ":") ||
	    parse_digits(&p, 2, &tm.tm_min) || expect_char(&p, ":") ||
	    parse_digits(&p, 2, &tm.tm_sec) || parse_fraction(&p, &frac) ||
	    parse_offset(&p, &offset) || *p) {
		return -EINVAL;
	}
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
		return -EINVAL;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	*unix_us = ((int64_t)t - offset) * 1000000 + frac;
	return 0;
}

void util_format_countdown(int64_t secs, char *out, size_t outsz)
{
	int64_t m = (secs + 59) / 60, h = m / 60, d = h / 24;

	if (secs <= 0) {
		snprintf(out, outsz, "now");
	} else if (d > 0) {
		snprintf(out, outsz, "%lldd %lldh", (long long)d, (long long)(h % 24));
	} else if (h > 0) {
		snprintf(out, outsz, "%lldh %lldm", (long long)h, (long long)(m % 60));
	} else {
		snprintf(out, outsz, "%lldm", (long long)m);
	}
}
