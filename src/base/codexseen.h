/*
 * What an earlier `run` learned about a codex binary: that this very file (its path, device,
 * inode, size and modification time) said it was a version codex-switch supports. With that,
 * `run` starts the TUI at once instead of after `codex --version` (some 70 ms for the npm
 * codex); the version is still asked, and it still decides. One record, the last binary seen.
 */
#ifndef CS_CODEXSEEN_H
#define CS_CODEXSEEN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether the record at path says that bin (a path, or a name looked up on PATH as exec
 * does) is the same file as one seen at a version not older than oldest. False when the
 * record is missing, unreadable, or anything about the file differs.
 */
bool codexseen_supported(const char *path, const char *bin, const char *oldest);

/*
 * The version the record at path gives bin, when bin is the same file as the one recorded:
 * 0 with the version in out, else -ENOENT (no record, or anything about the file differs).
 */
int codexseen_version(const char *path, const char *bin, char *out, size_t outsz);

/*
 * Records that bin is at version, replacing the record at path (0600, written whole and
 * renamed); nothing is written when the record already says so. 0 or -errno.
 */
int codexseen_remember(const char *path, const char *bin, const char *version);

#endif
