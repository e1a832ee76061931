/*
 * Cross-process lock files, compatible with the Rust codex-switch's accounts.lock:
 * a file created with O_CREAT|O_EXCL holding "lock_id=<uuid>\npid=<pid>\ncreated_at=<rfc3339>\n".
 *
 * A lock whose owner process is dead is reclaimed, and so is an unreadable lock file older than
 * a few seconds (its writer died between creating and writing it). Reclaiming is serialised with
 * flock() on "<path>.reclaim", so two reclaimers never delete each other's fresh lock.
 *
 * lockfile_acquire() sleeps between attempts: use it from commands, never on an event loop
 * (there, call lockfile_try() from a timer).
 */
#ifndef CS_LOCKFILE_H
#define CS_LOCKFILE_H

#include "base/util.h"

#include <stdbool.h>

/* Seconds after which a lock file without a readable pid counts as abandoned. */
#define LOCKFILE_UNREADABLE_STALE_S 5

struct lockfile {
	char *path; /* owned; NULL when not held */
	char lock_id[UTIL_UUID_LEN + 1];
};

/*
 * Takes the lock at path without waiting. 0 on success (l then holds it until
 * lockfile_release()), -EAGAIN when a live process holds it, other -errno on failure.
 * l is overwritten, not released.
 */
int lockfile_try(struct lockfile *l, const char *path);

/* Like lockfile_try(), retrying every few tens of ms for up to timeout_ms: -ETIMEDOUT. */
int lockfile_acquire(struct lockfile *l, const char *path, int timeout_ms);

/* Deletes the lock file if it is still ours; a zeroed or released lockfile is a no-op. */
void lockfile_release(struct lockfile *l);

#endif
