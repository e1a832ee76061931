#define _XOPEN_SOURCE 700 /* realpath */
#include "doctor/codexproc.h"

#include "base/log.h"
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* /proc/<pid>/cmdline and environ are read up to this much; argv beyond it is not needed. */
#define PROC_READ_MAX (64 * 1024)
#define MAX_ARGS      256

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool managed(const char *const *argv, size_t argc)
{
	static const char loopback[] = "ws://127.0.0.1";

	for (size_t i = 1; i < argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--remote") == 0 && i + 1 < argc) {
			v = argv[i + 1];
		} else if (util_starts_with(argv[i], "--remote=")) {
			v = argv[i] + strlen("--remote=");
		}
		/* Ours on a unix socket: $CODEX_SWITCH_HOME/runtime/sock-<pid>-<tag>-tui. */
		if (v && (util_starts_with(v, loopback) ||
		          (util_starts_with(v, "unix://") && strstr(v, "/runtime/sock-")))) {
			return true;
		}
		/* The Rust codex-switch marks its TUIs this way. */
		if (strcmp(argv[i], "--remote-auth-token-env") == 0 && i + 1 < argc &&
		    util_contains_icase(argv[i + 1], "codex_switch_remote_token")) {
			return true;
		}
	}
	return false;
}

static bool ide(const char *argv0)
{
	static const char *const marks[] = {"/.vscode", "openai.chatgpt", "/.antigravity",
	                                    "/.cursor", "/.windsurf"};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(marks); i++) {
		if (strstr(argv0, marks[i])) {
			return true;
		}
	}
	return false;
}

enum codexproc_kind codexproc_classify(const char *const *argv, size_t argc, bool has_tty)
{
	if (argc == 0 || strcmp(base_name(argv[0]), "codex") != 0) {
		return CODEXPROC_NOT_CODEX;
	}
	for (size_t i = 1; i < argc; i++) {
		if (strcmp(argv[i], "app-server") == 0) {
			return CODEXPROC_APP_SERVER;
		}
	}
	if (ide(argv[0])) {
		return CODEXPROC_IDE;
	}
	if (managed(argv, argc)) {
		return CODEXPROC_MANAGED;
	}
	return has_tty ? CODEXPROC_PLAIN_TUI : CODEXPROC_NO_TTY;
}

/* ---- /proc ---- */

/* /proc files report size 0: read to EOF, at most PROC_READ_MAX bytes (the rest is cut),
 * and NUL-terminate. NULL when unreadable (gone, another user's). */
static char *read_proc(pid_t pid, const char *what, size_t *len)
{
	char path[64], *text = malloc(PROC_READ_MAX + 1);
	int fd;
	ssize_t got = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	fd = text ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	*len = 0;
	while (fd >= 0 && *len < PROC_READ_MAX &&
	       ((got = read(fd, text + *len, PROC_READ_MAX - *len)) > 0 ||
	        (got < 0 && errno == EINTR))) {
		*len += got > 0 ? (size_t)got : 0;
	}
	if (fd >= 0) {
		close(fd);
	}
	if (fd < 0 || got < 0) {
		free(text);
		return NULL;
	}
	text[*len] = '\0';
	return text;
}

/* Splits NUL-separated text into argv (pointers into text). */
static size_t split(char *text, size_t len, const char **argv, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < max; i += strlen(text + i) + 1) {
		argv[n++] = text + i;
	}
	return n;
}

/* tty_nr, field 7 of /proc/<pid>/stat, counted after the ")" that ends the command name. */
static bool has_tty(pid_t pid)
{
	size_t len;
	char *text = read_proc(pid, "stat", &len), *p = text ? strrchr(text, ')') : NULL;
	long tty = 0;

	if (p && sscanf(p + 1, " %*c %*d %*d %*d %ld", &tty) != 1) {
		tty = 0;
	}
	free(text);
	return tty != 0;
}

static const char *env_get(const char *const *env, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++) {
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') {
			return env[i] + len + 1;
		}
	}
	return NULL;
}

/* Another process's environment may hold its API keys: wiped before it is freed. */
static void free_wiped(char *text, size_t len)
{
	volatile char *v = text;

	for (size_t i = 0; i < len; i++) {
		v[i] = 0;
	}
	free(text);
}

/* The codex home of pid, resolved, into out; false when unknown. */
static bool proc_codex_home(pid_t pid, char *out, size_t outsz)
{
	const char *env[MAX_ARGS * 4], *home, *v;
	char *text, path[PATH_MAX + 64], real[PATH_MAX];
	size_t len, n;

	text = read_proc(pid, "environ", &len);
	if (!text) {
		return false;
	}
	n = split(text, len, env, UTIL_ARRAY_LEN(env));
	v = env_get(env, n, "CODEX_HOME");
	home = env_get(env, n, "HOME");
	if (v && v[0] == '/') {
		snprintf(path, sizeof(path), "%s", v);
	} else if (v && *v) {
		/* A relative CODEX_HOME is relative to the process's own directory. */
		snprintf(path, sizeof(path), "/proc/%ld/cwd/%s", (long)pid, v);
	} else if (home && *home) {
		snprintf(path, sizeof(path), "%s/.codex", home);
	} else {
		path[0] = '\0';
	}
	free_wiped(text, len);
	if (!path[0]) {
		return false;
	}
	snprintf(out, outsz, "%s", realpath(path, real) ? real : path);
	return true;
}

/* The printable command line of argv, cut to fit out. */
static void describe(const char *const *argv, size_t argc, char *out, size_t outsz)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < argc && used + 1 < outsz; i++) {
		int w = snprintf(out + used, outsz - used, "%s%s", i ? " " : "", argv[i]);
		used = w < 0 ? used : used + (size_t)w < outsz ? used + (size_t)w : outsz - 1;
	}
	for (size_t i = 0; out[i]; i++) {
		unsigned char c = (unsigned char)out[i];
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
}

/* True when pid is a plain codex TUI of ours under home; its command line goes into cmd. */
static bool plain_codex(pid_t pid, const char *home, char *cmd, size_t cmdsz)
{
	const char *argv[MAX_ARGS];
	char *text, other[PATH_MAX];
	size_t len, argc;
	bool yes = false;

	text = read_proc(pid, "cmdline", &len);
	if (!text) {
		return false;
	}
	argc = split(text, len, argv, MAX_ARGS);
	if (codexproc_classify(argv, argc, has_tty(pid)) == CODEXPROC_PLAIN_TUI &&
	    proc_codex_home(pid, other, sizeof(other)) && strcmp(other, home) == 0) {
		describe(argv, argc, cmd, cmdsz);
		yes = true;
	}
	free(text);
	return yes;
}

static bool all_digits(const char *s)
{
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s)) {
			return false;
		}
	}
	return true;
}

static bool mine(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return stat(path, &st) == 0 && st.st_uid == getuid();
}

int codexproc_find(const char *codex_home, struct codexproc out[CODEXPROC_MAX], size_t *n)
{
	char home[PATH_MAX], cmd[sizeof(out[0].cmd)];
	DIR *dir = opendir("/proc");
	struct dirent *e;

	*n = 0;
	if (!dir) {
		return -errno;
	}
	snprintf(home, sizeof(home), "%s", codex_home);
	if (!realpath(codex_home, home)) {
		snprintf(home, sizeof(home), "%s", codex_home);
	}
	while ((e = readdir(dir))) {
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
		if (!all_digits(e->d_name) || pid == getpid() || !mine(pid) ||
		    !plain_codex(pid, home, cmd, sizeof(cmd))) {
			continue;
		}
		if (*n < CODEXPROC_MAX) {
			out[*n].pid = pid;
			memcpy(out[*n].cmd, cmd, sizeof(cmd));
		}
		(*n)++;
	}
	closedir(dir);
	return 0;
}

int codexproc_guard(const char *codex_home, bool force, const char *command)
{
	struct codexproc found[CODEXPROC_MAX];
	size_t n;
	int r = codexproc_find(codex_home, found, &n);

	if (r) {
		log_warn("cannot look for plain codex processes in /proc: %s", strerror(-r));
		return 0;
	}
	if (n == 0) {
		return 0;
	}
	for (size_t i = 0; i < n && i < CODEXPROC_MAX; i++) {
		log_msg(force ? LOG_WARN : LOG_ERROR, "plain codex runs under '%s': pid %ld (%s)",
		        codex_home, (long)found[i].pid, found[i].cmd);
	}
	if (force) {
		log_warn("going on (--force): that codex keeps its old account until it restarts, "
		         "and may write it back into auth.json when it refreshes its tokens");
		return 0;
	}
	log_error(
	        "refusing to %s while it runs: it keeps the old account's tokens, and when it "
	        "refreshes them it writes that account back over the switch and leaves the "
	        "stored copy with a used refresh token. Quit it first (or use 'codex-switch run', "
	        "which switches without a restart), or pass --force",
	        command);
	return -EBUSY;
}
