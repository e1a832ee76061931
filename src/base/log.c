#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC */
#include "base/log.h"

#include "base/termsafe.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE       8192
#define MIN_SECRET_LEN 8
#define REDACTED       "<redacted>"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level stderr_level = LOG_WARN;
static enum log_level file_level = LOG_INFO;
static int file_fd = -1;
static size_t file_max = LOG_FILE_MAX, file_written;
static bool file_full;
/* Oldest registration first; a re-registration moves a secret to the end. */
static struct secret {
	char *text;
	bool pinned;
} secrets[LOG_MAX_SECRETS];
static size_t nsecrets, npinned;

void log_set_stderr_level(enum log_level level)
{
	stderr_level = level;
}

enum log_level log_stderr_level(void)
{
	return stderr_level;
}

void log_set_file_level(enum log_level level)
{
	file_level = level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = {"off", "error", "warn", "info", "debug", "trace"};

	for (size_t i = 0; s && i < UTIL_ARRAY_LEN(names); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);

	if (fd < 0) {
		return -errno;
	}
	pthread_mutex_lock(&lock);
	if (file_fd >= 0) {
		close(file_fd);
	}
	file_fd = fd;
	file_written = 0;
	file_full = false;
	pthread_mutex_unlock(&lock);
	return 0;
}

void log_set_file_max(size_t max)
{
	pthread_mutex_lock(&lock);
	file_max = max;
	pthread_mutex_unlock(&lock);
}

void log_close_file(void)
{
	pthread_mutex_lock(&lock);
	if (file_fd >= 0) {
		close(file_fd);
	}
	file_fd = -1;
	pthread_mutex_unlock(&lock);
}

/* Drops the oldest secret that is not pinned; false when every one is pinned. */
static bool evict_one(void)
{
	for (size_t i = 0; i < nsecrets; i++) {
		if (!secrets[i].pinned) {
			util_free_secret(secrets[i].text);
			memmove(secrets + i, secrets + i + 1,
			        (nsecrets - i - 1) * sizeof(*secrets));
			nsecrets--;
			return true;
		}
	}
	return false;
}

static long find(const char *s)
{
	for (size_t i = 0; i < nsecrets; i++) {
		if (strcmp(secrets[i].text, s) == 0) {
			return (long)i;
		}
	}
	return -1;
}

/* Moves entry i to the newest end, so secrets still in use are the last to go. */
static void touch(size_t i)
{
	struct secret e = secrets[i];

	memmove(secrets + i, secrets + i + 1, (nsecrets - i - 1) * sizeof(*secrets));
	secrets[nsecrets - 1] = e;
}

/* pin: 1 pin, 0 leave as it is, -1 unpin. -ENOSPC when a pin does not fit (kept unpinned). */
static int set_one(const char *text, int pin)
{
	long i = find(text);
	char *copy;

	if (i < 0 && pin < 0) {
		return 0;
	}
	if (i < 0) {
		copy = strdup(text);
		if (!copy || (nsecrets == LOG_MAX_SECRETS && !evict_one())) {
			free(copy);
			return -ENOMEM;
		}
		secrets[nsecrets++] = (struct secret){copy, false};
		i = (long)nsecrets - 1;
	}
	touch((size_t)i);
	i = (long)nsecrets - 1;
	if (pin > 0 && !secrets[i].pinned) {
		if (npinned == LOG_MAX_PINNED) {
			return -ENOSPC;
		}
		secrets[i].pinned = true;
		npinned++;
	} else if (pin < 0 && secrets[i].pinned) {
		secrets[i].pinned = false;
		npinned--;
	}
	return 0;
}

/* The secret and its URL-encoded form (how it appears in form bodies and query strings). */
static int set_secret(const char *secret, int pin)
{
	char *enc;
	int r;

	if (!secret || strlen(secret) < MIN_SECRET_LEN) {
		return 0;
	}
	enc = util_urlencode(secret);
	pthread_mutex_lock(&lock);
	r = set_one(secret, pin);
	if (enc && strcmp(enc, secret) != 0) {
		int r2 = set_one(enc, pin);
		r = r ? r : r2;
	}
	pthread_mutex_unlock(&lock);
	util_free_secret(enc);
	return r;
}

void log_add_secret(const char *secret)
{
	(void)set_secret(secret, 0);
}

int log_pin_secret(const char *secret)
{
	return set_secret(secret, 1);
}

void log_unpin_secret(const char *secret)
{
	(void)set_secret(secret, -1);
}

void log_forget_secrets(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nsecrets; i++) {
		util_free_secret(secrets[i].text);
	}
	nsecrets = 0;
	npinned = 0;
	pthread_mutex_unlock(&lock);
}

static bool b64url_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '=';
}

/* A JWT: "eyJ" + base64url, a dot, base64url, optionally a dot and a signature. */
static size_t jwt_len(const char *p)
{
	size_t n = 0, dots = 0;

	if (strncmp(p, "eyJ", 3) != 0) {
		return 0;
	}
	while (b64url_char(p[n]) || (p[n] == '.' && dots < 2)) {
		dots += p[n] == '.';
		n++;
	}
	return dots >= 1 && n >= 16 ? n : 0;
}

static size_t secret_len_at(const char *p)
{
	size_t n = jwt_len(p);

	for (size_t i = 0; i < nsecrets; i++) {
		size_t len = strlen(secrets[i].text);
		if (len > n && strncmp(p, secrets[i].text, len) == 0) {
			n = len;
		}
	}
	return n;
}

static size_t put(char *out, size_t outsz, size_t o, const char *s, size_t n)
{
	if (o + n >= outsz) {
		n = outsz - 1 - o;
	}
	memcpy(out + o, s, n);
	return o + n;
}

static size_t redact_locked(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz == 0) {
		return 0;
	}
	for (const char *p = in; *p && o + 1 < outsz;) {
		size_t n = secret_len_at(p);
		unsigned char c = (unsigned char)*p;
		char esc[8];

		if (n > 0) {
			o = put(out, outsz, o, REDACTED, strlen(REDACTED));
			p += n;
		} else if (termsafe_is_control(c)) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			o = put(out, outsz, o, esc, 4);
			p++;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return o;
}

size_t log_redact(const char *in, char *out, size_t outsz)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = redact_locked(in ? in : "", out, outsz);
	pthread_mutex_unlock(&lock);
	return n;
}

char *log_redact_dup(const char *in)
{
	/* Escapes at most quadruple a byte. */
	size_t sz = 4 * strlen(in ? in : "") + 1;
	char *out = malloc(sz);

	if (out) {
		log_redact(in, out, sz);
	}
	return out;
}

static const char *level_name(enum log_level level)
{
	static const char *const names[] = {"off", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

	return names[level];
}

/* Appends one line of n bytes unless the file would pass its limit: then one last line says
 * so, and the file takes nothing more until the next log_open_file(). */
static void file_append(const char *line, size_t n)
{
	char last[160];
	int ln;

	if (file_full) {
		return;
	}
	if (file_written + n + sizeof(last) <= file_max) {
		(void)util_write_all(file_fd, line, n);
		file_written += n;
		return;
	}
	file_full = true;
	ln = snprintf(last, sizeof(last),
	              "the run log reached its limit of %zu bytes: later lines are dropped\n",
	              file_max);
	if (ln > 0 && file_written + (size_t)ln <= file_max) {
		(void)util_write_all(file_fd, last, (size_t)ln);
		file_written += (size_t)ln;
	}
}

static void emit_file(enum log_level level, const char *msg)
{
	char line[MAX_LINE + 128], ts[48];
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s\n", ts, (long)(tv.tv_usec / 1000),
	             level_name(level), msg);
	if (n > 0) {
		file_append(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
}

static void emit_stderr(enum log_level level, const char *msg)
{
	char line[MAX_LINE + 64];
	const char *tag = level == LOG_ERROR ? "error: " : level == LOG_WARN ? "warning: " : "";
	int n = snprintf(line, sizeof(line), "codex-switch: %s%s\n", tag, msg);

	if (n > 0) {
		(void)util_write_all(STDERR_FILENO, line,
		                     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char raw[MAX_LINE], clean[MAX_LINE];
	int saved = errno;
	bool to_err = level != LOG_OFF && level <= stderr_level;
	bool to_file;

	pthread_mutex_lock(&lock);
	to_file = level != LOG_OFF && file_fd >= 0 && level <= file_level;
	if (to_err || to_file) {
		vsnprintf(raw, sizeof(raw), fmt, ap);
		redact_locked(raw, clean, sizeof(clean));
		if (to_file) {
			emit_file(level, clean);
		}
		if (to_err) {
			emit_stderr(level, clean);
		}
	}
	pthread_mutex_unlock(&lock);
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
