/*
 * The two processes of a session: the codex app-server (its stderr kept in a small tail for
 * error messages and the run log, never the TUI's terminal) and the codex TUI (on the
 * terminal). Starting them, stopping them in order (SIGTERM twice, then SIGKILL) and reaping
 * them without blocking: the supervisor calls children_reap() on SIGCHLD.
 */
#ifndef CS_SESSION_CHILDREN_H
#define CS_SESSION_CHILDREN_H

#include "base/ev.h"
#include "session/part.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CHILDREN_STDERR_TAIL   4096
#define CHILDREN_TERM_GRACE_US (1500 * 1000)

enum children_which { CHILDREN_APP, CHILDREN_TUI };

struct children {
	const struct session_env *env; /* borrowed */
	void (*exited)(void *ctx, enum children_which which,
	               int status); /* status as spawn_poll's */
	void *ctx;
	pid_t app_pid, tui_pid; /* 0 when not running */
	struct ev_io err_io;    /* the app-server's stderr, fd -1 when closed */
	char tail[CHILDREN_STDERR_TAIL];
	size_t tail_len;
	int term_sent;
	struct ev_timer app_tm, tui_tm;
};

void children_init(struct children *c, const struct session_env *env,
                   void (*exited)(void *ctx, enum children_which which, int status), void *ctx);
/* Last resort and clean-up: kills and waits for what still runs, closes the pipe. */
void children_release(struct children *c);

/* argv: borrowed for the call (execvp's). The app-server's stderr comes to the tail. */
int children_start_app(struct children *c, char *const *argv);
/* argv and env ("NAME=value" entries, NULL-terminated): borrowed for the call. The TUI gets
 * the terminal (stdin, stdout, stderr). */
int children_start_tui(struct children *c, char *const *argv, const char **env);

/* Reaps whichever exited and reports it through exited(). Never blocks. */
void children_reap(struct children *c);

/* SIGTERM after after_us (0: now; a later call with 0 does not wait any longer), another
 * after CHILDREN_TERM_GRACE_US, then SIGKILL. */
void children_stop_app(struct children *c, long after_us);
/* Sends sig to the TUI now (0: none) and SIGKILL after grace_us unless it exited. */
void children_stop_tui(struct children *c, int sig, long grace_us);

/* The last lines of the app-server's stderr (at most six). */
void children_stderr_tail(const struct children *c, char *out, size_t outsz);

#endif
