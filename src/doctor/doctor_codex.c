/* doctor: the codex binary and its options, and app-servers that run outside codex-switch. */
#include "doctor/doctor.h"

#include "base/codexver.h"
#include "base/spawn.h"
#include "doctor/codexproc.h"
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define PROBE_MAX_OUTPUT (256u * 1024)
#define PROBE_TIMEOUT_MS 15000
#define CMDLINE_MAX      (64u * 1024)
#define ANCESTOR_DEPTH   64
#define RANGE            CODEXVER_OLDEST " to " CODEXVER_NEWEST

struct probe {
	char *out;  /* what the child printed on stdout, NUL-terminated */
	int status; /* exit status, 128 + signal, or -1 when it had to be killed */
};

/* Runs argv with stdout captured. 0 or -errno (the child could not start). */
static int probe_run(char *const *argv, struct probe *pr)
{
	return spawn_capture(argv, PROBE_MAX_OUTPUT, PROBE_TIMEOUT_MS, &pr->out, &pr->status);
}

static void first_line(const char *s, char *out, size_t outsz)
{
	size_t n = strcspn(s, "\r\n");

	snprintf(out, outsz, "%.*s", (int)(n < outsz ? n : outsz - 1), s);
}

/* Checks that the help text of `codex [sub] --help` names every option in want. */
static void check_help(struct doctor *d, char *bin, const char *sub, const char *name,
                       const char *const *want, const char *what)
{
	char help[] = "--help", app[] = "app-server";
	char *argv[] = {bin, sub ? app : help, sub ? help : NULL, NULL};
	char missing[256] = "";
	struct doctor_check *c;
	struct probe pr;

	if (probe_run(argv, &pr) != 0 || pr.status != 0) {
		c = doctor_add(d, DOCTOR_FAIL, name, "'%s %s--help' failed", bin,
		               sub ? "app-server " : "");
		doctor_hint(c, "reinstall codex (verified: %s)", RANGE);
		free(pr.out);
		return;
	}
	for (size_t i = 0; want[i]; i++) {
		if (!strstr(pr.out, want[i])) {
			size_t l = strlen(missing);
			/* "--remote " is matched with its space (not --remote-auth-...), shown
			 * without. */
			snprintf(missing + l, sizeof(missing) - l, "%s%.*s", l ? ", " : "",
			         (int)strcspn(want[i], " "), want[i]);
		}
	}
	free(pr.out);
	if (missing[0]) {
		c = doctor_add(d, DOCTOR_FAIL, name, "this codex has no %s (%s)", missing, what);
		doctor_hint(c, "update codex to %s or later, or point --codex-bin at a newer one",
		            CODEXVER_OLDEST);
		return;
	}
	doctor_add(d, DOCTOR_PASS, name, "codex supports %s", what);
}

/* The version line against the supported range. */
static void check_version(struct doctor *d, const char *path, const char *line)
{
	char v[CODEXVER_MAX];
	struct doctor_check *c;

	if (codexver_parse(line, v, sizeof(v)) != 0) {
		c = doctor_add(d, DOCTOR_WARN, "codex", "%s at %s: no version in it",
		               line[0] ? line : "codex", path);
		doctor_hint(c, "codex-switch works with codex %s", RANGE);
		return;
	}
	if (codexver_cmp(v, CODEXVER_OLDEST) < 0) {
		c = doctor_add(
		        d, DOCTOR_FAIL, "codex",
		        "codex %s is older than %s, the oldest version codex-switch supports", v,
		        CODEXVER_OLDEST);
		doctor_hint(
		        c, "update codex to %s (verified: %s), or point --codex-bin at a newer one",
		        CODEXVER_PINNED, RANGE);
		return;
	}
	if (codexver_cmp(v, CODEXVER_NEWEST) > 0) {
		c = doctor_add(d, DOCTOR_WARN, "codex",
		               "%s at %s is newer than %s, the newest version verified with "
		               "codex-switch",
		               line, path, CODEXVER_NEWEST);
		doctor_hint(c, "if 'run' misbehaves, use codex %s (verified: %s)", CODEXVER_PINNED,
		            RANGE);
		return;
	}
	doctor_add(d, DOCTOR_PASS, "codex", "%s at %s (verified: %s)", line, path, RANGE);
}

void doctor_check_codex(struct doctor *d)
{
	static const char *const tui[] = {"--remote ", "--remote-auth-token-env", NULL};
	static const char *const server[] = {"--listen", "--ws-auth", "capability-token",
	                                     "--ws-token-file", NULL};
	char path[PATH_MAX], version[128];
	char version_flag[] = "--version";
	char *argv[] = {path, version_flag, NULL};
	struct doctor_check *c;
	struct probe pr;

	if (!spawn_find(d->codex_bin, path, sizeof(path))) {
		c = doctor_add(d, DOCTOR_FAIL, "codex", "codex not found ('%s')", d->codex_bin);
		doctor_hint(c,
		            "install codex %s (any of %s works), or pass --codex-bin PATH (or set "
		            "CODEX_SWITCH_CODEX_BIN)",
		            CODEXVER_PINNED, RANGE);
		return;
	}
	if (probe_run(argv, &pr) != 0 || pr.status != 0) {
		c = doctor_add(d, DOCTOR_FAIL, "codex", "'%s --version' failed", path);
		doctor_hint(c, "reinstall codex (verified: %s)", RANGE);
		free(pr.out);
		return;
	}
	first_line(pr.out, version, sizeof(version));
	free(pr.out);
	check_version(d, path, version);
	check_help(d, path, NULL, "codex-remote", tui, "--remote and --remote-auth-token-env");
	check_help(d, path, "app-server", "codex-app-server", server,
	           "app-server --ws-auth capability-token");
}

/* The NUL-separated command line of pid into buf; the number of bytes, 0 when unreadable. */
static size_t read_cmdline(const char *pid, char *buf, size_t bufsz)
{
	char path[320];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return 0;
	}
	n = read(fd, buf, bufsz - 1);
	close(fd);
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	return (size_t)n;
}

static bool is_codex_word(const char *arg)
{
	const char *base = strrchr(arg, '/');

	base = base ? base + 1 : arg;
	return strcmp(base, "codex") == 0 || strcmp(base, "codex.js") == 0;
}

/* `codex app-server ...`, directly or through an interpreter (node codex.js, sh codex). */
static bool is_app_server(const char *buf, size_t len)
{
	bool codex = false;
	int i = 0;

	for (const char *a = buf; a < buf + len; a += strlen(a) + 1, i++) {
		if (i < 2 && is_codex_word(a)) {
			codex = true;
		} else if (codex && strcmp(a, "app-server") == 0) {
			return true;
		}
	}
	return false;
}

/* The parent pid of pid from /proc/<pid>/stat, or 0. */
static long parent_of(long pid)
{
	char path[64], buf[1024];
	const char *p;
	long ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f) {
		return 0;
	}
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
	    sscanf(p, ") %*c %ld", &ppid) != 1) {
		ppid = 0;
	}
	fclose(f);
	return ppid;
}

/* The pid of a codex-switch process among pid's ancestors, or 0. */
static long managing_switch(long pid)
{
	char path[64], comm[64];

	for (int depth = 0; depth < ANCESTOR_DEPTH && pid > 1; depth++) {
		FILE *f;
		pid = parent_of(pid);
		snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		f = fopen(path, "re");
		if (!f) {
			return 0;
		}
		if (!fgets(comm, sizeof(comm), f)) {
			comm[0] = '\0';
		}
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, "codex-switch") == 0) {
			return pid;
		}
	}
	return 0;
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

/* Plain codex TUIs under our CODEX_HOME: `switch` refuses while they run. */
static void check_plain_codex(struct doctor *d)
{
	struct codexproc found[CODEXPROC_MAX];
	size_t n;

	if (codexproc_find(d->paths->codex_home, found, &n) < 0) {
		return;
	}
	for (size_t i = 0; i < n && i < CODEXPROC_MAX; i++) {
		struct doctor_check *c = doctor_add(
		        d, DOCTOR_WARN, "plain-codex",
		        "a plain codex (pid %ld: %s) runs under '%s': it keeps its account's tokens "
		        "and writes them back into auth.json when it refreshes them",
		        (long)found[i].pid, found[i].cmd, d->paths->codex_home);
		doctor_hint(c, "quit it before 'codex-switch switch', or run Codex through "
		               "'codex-switch run'");
	}
	if (n == 0) {
		doctor_add(d, DOCTOR_PASS, "plain-codex", "no plain codex runs under '%s'",
		           d->paths->codex_home);
	}
}

void doctor_check_processes(struct doctor *d)
{
	char *buf = malloc(CMDLINE_MAX);
	DIR *dir = opendir("/proc");
	struct dirent *e;
	int managed = 0, other = 0;

	while (buf && dir && (e = readdir(dir))) {
		size_t n = all_digits(e->d_name) ? read_cmdline(e->d_name, buf, CMDLINE_MAX) : 0;
		long pid = strtol(e->d_name, NULL, 10);
		if (!n || !is_app_server(buf, n) || pid == (long)getpid()) {
			continue;
		}
		if (managing_switch(pid)) {
			managed++;
			continue;
		}
		other++;
		struct doctor_check *c = doctor_add(
		        d, DOCTOR_WARN, "app-server",
		        "a codex app-server (pid %ld) runs outside codex-switch: it keeps the account "
		        "it signed in with in memory, whatever auth.json says",
		        pid);
		doctor_hint(c,
		            "stop it ('codex app-server daemon stop', or kill %ld) so that it "
		            "picks up the account of 'codex-switch switch'",
		            pid);
	}
	if (dir) {
		closedir(dir);
	}
	free(buf);
	if (!other) {
		doctor_add(d, DOCTOR_PASS, "app-server",
		           "no codex app-server runs outside codex-switch (%d started by it)",
		           managed);
	}
	check_plain_codex(d);
}
