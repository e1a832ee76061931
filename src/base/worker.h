/*
 * One background thread for work that blocks (token refresh behind its cross-process lock,
 * usage requests), so the proxy's event loop never waits on the network or a file lock.
 * Jobs run in order; their completions run on the loop thread, in worker_drain(), which the
 * loop calls when the notify callback woke it.
 */
#ifndef CS_WORKER_H
#define CS_WORKER_H

#include <stddef.h>

struct worker;

typedef void (*worker_fn)(void *job);

/*
 * Starts the thread. notify(notify_ctx) is called from the worker thread after each job
 * finishes (the session passes ev_wake). max_jobs bounds the queue. NULL with errno.
 */
struct worker *worker_create(size_t max_jobs, void (*notify)(void *), void *notify_ctx);

/*
 * Queues a job: run(job) on the worker thread, then done(job) on the loop thread. The job
 * memory belongs to the caller until done() runs. -EBUSY when the queue is full.
 */
int worker_submit(struct worker *w, worker_fn run, worker_fn done, void *job);

/* Runs done() of every finished job. Loop thread only. */
void worker_drain(struct worker *w);

/* Jobs queued or running (not yet drained). */
size_t worker_pending(struct worker *w);

/*
 * Waits for the running job and joins the thread. Jobs still queued are not run, but their
 * done() runs, so a job must start in a "cancelled" state that run() overwrites.
 */
void worker_destroy(struct worker *w);

#endif
