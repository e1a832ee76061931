/*
 * The usage queries of `run`'s start, in a child process. The child loads libcurl and
 * OpenSSL, runs the queries in parallel, stores what it got in the usage cache and sends it
 * back as JSON; the session process never touches libcurl for them, so its resident memory
 * stays what relaying needs (the libraries' pages and the queries' heap die with the child).
 * The session starts the app-server while the child works (runstart.h).
 */
#ifndef CS_SESSION_STARTUSAGE_H
#define CS_SESSION_STARTUSAGE_H

#include "policy/usage.h"
#include "store/paths.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Most JSON one account's usage may take on the pipe; the child's answer is n times this. */
#define STARTUSAGE_MAX_PER_ACCOUNT (64 * 1024)

struct startusage {
	pid_t pid; /* the child until it is reaped, else -1 */
	int fd;    /* the read end of its pipe, else -1 */
	int go;    /* spawned "later": startusage_go() writes here; else -1 */
	size_t n;
	bool collected;     /* collect ran: the child may still store the cache, left to end */
	pthread_mutex_t mu; /* pid: collect (worker) against cancel (loop) */
	atomic_bool cancelled;
};

/*
 * Forks the child that fetches the usage of ids[0..n) (borrowed for the call), each request
 * bounded by timeout_ms; their User-Agent names the version of codex_bin, as codex's own
 * requests do. Call it while the process has one thread. With later, the child waits for
 * startusage_go() (which brings the version) and then runs at a lower priority: for a start
 * that does not wait on the answer, whose own work should have the CPUs first. Without it,
 * the version is the one the last run recorded for that very file (codexseen.h), or asked.
 * 0 or a negative errno (no child then; the caller goes on with the cache).
 */
int startusage_spawn(struct startusage *su, const struct paths *p, const char *codex_bin,
                     const char *const *ids, size_t n, long timeout_ms, bool later);

/* A child spawned later begins its queries, naming codex_version (borrowed; NULL: it asks
 * codex itself) in their User-Agent. Loop thread. */
void startusage_go(struct startusage *su, const char *codex_version);

/*
 * Blocking (worker or before the loop): waits for the child's answer. out[0..n)
 * is initialised by the call; a failed query has its error set. 0, or a negative errno when
 * the child gave no usable answer (out is then all unknown: the cache alone decides), or
 * -ECANCELED after startusage_cancel().
 */
int startusage_collect(struct startusage *su, struct usage *out);

/* Blocking: after collect, waits until the child has stored the usage cache and reaps it. */
void startusage_settle(struct startusage *su);

/* Ends a child still at work (SIGTERM); collect then returns soon. Any thread. */
void startusage_cancel(struct startusage *su);

/* Closes what is left; a child not yet collected is ended; the child is reaped (a collected
 * one stores the usage cache after its answer: this waits for that). */
void startusage_release(struct startusage *su);

#endif
