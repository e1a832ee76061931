/*
 * The one way codex-switch starts a child process. The child gets default signal dispositions
 * and an empty signal mask (the runtime ignores SIGPIPE and blocks signals for signalfd;
 * both would survive exec), dies with us (PR_SET_PDEATHSIG), and inherits only stdin, stdout
 * and stderr. An exec failure is reported to the parent through a close-on-exec pipe, so
 * spawn_start() returns the child's errno instead of a pid that exits 127; so is a failure to
 * set up stdin, stdout or stderr (a bad descriptor, no /dev/null), as git's run-command.c does.
 */
#ifndef CS_SPAWN_H
#define CS_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn_opts {
	char *const *argv; /* argv[0] is looked up in PATH when it has no '/' */
	const char *const
	        *env;   /* NULL-terminated "NAME=value" to add to our environment, or NULL */
	int stdin_fd;   /* -1: /dev/null; otherwise dup2'ed (borrowed, not closed) */
	int stdout_fd;  /* -1: /dev/null; -2: inherit ours */
	int stderr_fd;  /* -1: /dev/null; -2: inherit ours */
	int new_pgroup; /* 1: the child leads its own process group */
};

/* Returns 0 and the pid, or -errno when fork fails or the child could not exec. */
int spawn_start(const struct spawn_opts *o, pid_t *pid);

/* The file execvp() would run for name (a path, or a name looked up on $PATH; an empty
 * element is the current directory) into out. False when there is none executable. */
bool spawn_find(const char *name, char *out, size_t outsz);

/*
 * waitpid(pid, WNOHANG): 1 and the decoded status (exit code, or 128 + signal) when it has
 * exited, 0 when it still runs, -errno on error.
 */
int spawn_poll(pid_t pid, int *status);

/* Blocking wait, for code that runs off the event loop (tests, shutdown). */
int spawn_wait(pid_t pid, int *status);

/*
 * Runs argv to its end with its stdout captured, for code off the event loop (doctor, the
 * codex version). *out is what it printed, at most max bytes and NUL-terminated (caller frees,
 * also on error); *status its exit status, or -1 when it was killed because it was still
 * running after timeout_ms. Returns 0, or -errno when it could not start.
 */
int spawn_capture(char *const *argv, size_t max, int timeout_ms, char **out, int *status);

/*
 * spawn_capture() with in[0..inlen) written to the child's stdin (through a socket, so a
 * child that exits without reading it costs no SIGPIPE; in NULL: /dev/null) while its stdout
 * is read. *outlen is how much it printed; *out is NUL-terminated after it (caller frees, also
 * on error). For a child that reads all its input before it answers.
 */
int spawn_exchange(char *const *argv, const void *in, size_t inlen, size_t max, int timeout_ms,
                   char **out, size_t *outlen, int *status);

#endif
