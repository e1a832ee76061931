/*
 * Plain `codex` TUIs running beside codex-switch under the same $CODEX_HOME, found in /proc.
 * Such a TUI keeps the tokens of the account it started with in memory; when it refreshes
 * them it writes that account back into auth.json, over a `switch`, and the rotated refresh
 * token leaves the store's copy dead. So `switch` and `auto-switch` refuse while one runs
 * (README "Plain codex running beside"), unless --force.
 *
 * Not counted: app-servers (`codex app-server`, which doctor reports on its own), IDE plugins,
 * processes without a controlling terminal, other users' processes, and the TUIs that
 * codex-switch manages (they talk to its proxy: `--remote ws://127.0.0.1:...`).
 */
#ifndef CS_CODEXPROC_H
#define CS_CODEXPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* At most this many are reported; more are counted in codexproc_find's *n. */
#define CODEXPROC_MAX 8

struct codexproc {
	pid_t pid;
	char cmd[96]; /* the command line, printable, cut to fit */
};

enum codexproc_kind {
	CODEXPROC_NOT_CODEX,  /* another program */
	CODEXPROC_PLAIN_TUI,  /* a plain codex on a terminal */
	CODEXPROC_APP_SERVER, /* codex app-server */
	CODEXPROC_IDE,        /* a codex an IDE plugin runs */
	CODEXPROC_NO_TTY,     /* no controlling terminal: scripts, pipelines */
	CODEXPROC_MANAGED,    /* a TUI codex-switch runs (--remote to its loopback proxy) */
};

/* What argv[0..argc) with or without a controlling terminal is (pure). */
enum codexproc_kind codexproc_classify(const char *const *argv, size_t argc, bool has_tty);

/*
 * The plain codex TUIs whose codex home ($CODEX_HOME, else $HOME/.codex, of that process) is
 * codex_home (borrowed; compared after resolving symlinks). Fills out[0..min(*n,
 * CODEXPROC_MAX)) and sets *n to how many there are. 0, or -errno when /proc cannot be read.
 */
int codexproc_find(const char *codex_home, struct codexproc out[CODEXPROC_MAX], size_t *n);

/*
 * The guard of `switch` and `auto-switch`: when plain codex runs under codex_home, logs which
 * (pid and command) and why it matters, then returns -EBUSY, or with force only warns and
 * returns 0. 0 when none runs or /proc cannot be read (that is a warning).
 */
int codexproc_guard(const char *codex_home, bool force, const char *command);

#endif
