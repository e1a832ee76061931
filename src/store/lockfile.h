/*
 * Cross-process lock files, compatible with the Rust codex-switch's accounts.lock:
 * a file holding "lock_id=<uuid>\npid=<pid>\ncreated_at=<rfc3339>\n", to which we add
 * "host=<hostname>\nboot_id=<kernel boot id>\npid_ns=<pid namespace>\n" (the Rust version
 * ignores lines it does not know). The content is written to a temp file that is then
 * link()ed into place, so the lock never exists empty or half written.
 *
 * A lock is reclaimed only when its owner is surely dead: its host, boot id (and pid
 * namespace, when recorded) are ours and kill(pid, 0) says the pid is gone. A lock from
 * another host, boot or namespace is never reclaimed. A lock without a place (an older version,
 * the Rust one) is reclaimed when its pid is dead here and it is older than
 * LOCKFILE_LEGACY_STALE_S; an unreadable one when older than LOCKFILE_UNREADABLE_STALE_S.
 * Reclaiming is serialised with flock() on "<path>.reclaim", so two reclaimers never delete
 * each other's fresh lock.
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
/* Seconds after which a lock without host and boot id, whose pid is dead here, is abandoned:
 * longer than any real hold, so a pid from another namespace is not trusted alone. */
#define LOCKFILE_LEGACY_STALE_S 120

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
