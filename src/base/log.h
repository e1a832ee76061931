/*
 * The one logging module. Two sinks: stderr (what a person running a command sees) and an
 * optional run-log file (timestamped). Every line passes through redaction: registered secrets
 * (raw and URL-encoded) and anything shaped like a JWT become "<redacted>", and control
 * characters are escaped, so nothing a server or a file sends can forge log lines.
 */
#ifndef CS_LOG_H
#define CS_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_OFF = 0,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

/* Most lines a stderr message is prefixed with; "codex-switch: " by default. */
void log_set_stderr_level(enum log_level level);
enum log_level log_stderr_level(void);
void log_set_file_level(enum log_level level);

/* Parses "off|error|warn|info|debug|trace" (case-insensitive). */
int log_level_parse(const char *s, enum log_level *out);

/*
 * Opens path as the run log (created 0600 with O_EXCL|O_NOFOLLOW). Returns 0 or -errno.
 * Until log_close_file() every message at or below the file level is also written there, up to
 * the file's size limit: a last line then says the limit was reached, and later lines go to
 * stderr only (at its level).
 */
int log_open_file(const char *path);
/* The file's size limit: LOG_FILE_MAX unless set (for tests). */
#define LOG_FILE_MAX (32u * 1024 * 1024)
void log_set_file_max(size_t max);
void log_close_file(void);

/* Most secrets remembered for redaction (each also counts its URL-encoded form), and how
 * many of them may be pinned. */
#define LOG_MAX_SECRETS 512
#define LOG_MAX_PINNED  128

/*
 * Registers a secret to redact from every line from now on (copied), with its URL-encoded
 * form. Short values (< 8) are ignored: they would redact ordinary words. When the table is
 * full the least recently registered secret that is not pinned goes; registering a known
 * secret again makes it the most recent (reading the store re-registers the tokens in use).
 */
void log_add_secret(const char *secret);

/*
 * Registers a secret that is never evicted (the capability token, the tokens an account uses
 * now) until log_unpin_secret() or log_forget_secrets(). -ENOSPC when LOG_MAX_PINNED are
 * already pinned (it is then registered unpinned), -ENOMEM.
 */
int log_pin_secret(const char *secret);

/* Makes a pinned secret evictable again (it is still redacted until evicted). */
void log_unpin_secret(const char *secret);
void log_forget_secrets(void);

/*
 * Redacts secrets and escapes control characters of in into out (always NUL-terminated).
 * Returns the length written. Thread-safe.
 */
size_t log_redact(const char *in, char *out, size_t outsz);

/* Same, into a new string the caller frees; NULL on allocation failure. */
char *log_redact_dup(const char *in);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
