/*
 * File I/O with the project's guarantees: reads are bounded, and writes of files that may hold
 * secrets are atomic and private (temp file 0600 in the same directory, write, fsync, rename,
 * fsync the directory), so a crash at any point leaves the old file or the new one, never a
 * partial one, and never a file readable by others.
 */
#ifndef CS_FILEIO_H
#define CS_FILEIO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Largest JSON file we read (accounts.json, auth.json, config.json, usage cache). */
#define FILEIO_MAX_JSON (16u * 1024 * 1024)

/* Returned (negated) for a path that is a FIFO, socket or device instead of a file. */
#define FILEIO_ENOTREG EMEDIUMTYPE

/*
 * Opens path for reading (flags adds e.g. O_NOFOLLOW) without ever blocking in open(): the
 * descriptor (caller closes) is returned only for a regular file; -EISDIR for a directory,
 * -FILEIO_ENOTREG for a FIFO, socket or device, other -errno.
 */
int fileio_open_regular(const char *path, int flags);

/*
 * Reads the whole file into a new NUL-terminated buffer (*out, caller frees).
 * -ENOENT when missing, -EFBIG when larger than max, -EISDIR / -FILEIO_ENOTREG when not a
 * regular file (never waits on a FIFO), other -errno.
 */
int fileio_read(const char *path, size_t max, char **out, size_t *len);

/* strerror() of a negative errno from this module, FILEIO_ENOTREG named plainly. */
const char *fileio_strerror(int r);

/* Replaces path atomically with data, mode 0600. The directory must exist. On error the file
 * at path is unchanged (callers may say so); once the new file is in place, a failure to sync
 * the directory is only logged, because the write itself happened. Temp files of earlier
 * writers of path that died (".<name>.<uuid>.tmp") are removed first. */
int fileio_write_atomic(const char *path, const void *data, size_t len);

/* Creates path with data (0600) only if nothing is there: -EEXIST otherwise. Atomic too,
 * and it removes dead writers' temp files the same way. */
int fileio_write_new(const char *path, const void *data, size_t len);

/* fileio_write_new() without syncing the file or its directory (two fsyncs, some ms on a
 * disk), for a file that means nothing after a crash: a lock, whose owner is gone then. */
int fileio_create_unsynced(const char *path, const void *data, size_t len);

/* A temp file younger than this is never taken for a dead writer's (see fileio_dead_temps). */
#define FILEIO_TEMP_GRACE_S 10

/*
 * Counts the temp files next to path (".<name>.<uuid>.tmp", which hold a copy of what was
 * written, secrets included) whose writer died before renaming them: a live writer holds
 * flock() on its temp file, so an unlocked one older than FILEIO_TEMP_GRACE_S is dead. With
 * remove, they are deleted. example (may be NULL) receives the path of the first one.
 * Returns the count or -errno when the directory cannot be read.
 */
int fileio_dead_temps(const char *path, bool remove, char *example, size_t examplesz);

/*
 * Creates dir and its parents when missing. A directory we create gets mode; an existing one
 * that is ours and more open than mode is tightened. -ENOTDIR when it is not a directory.
 */
int fileio_ensure_dir(const char *dir, mode_t mode);

/* fsync of a directory, so a rename or unlink in it survives a crash. */
int fileio_sync_dir(const char *dir);

/* The directory part of path as a new string (caller frees); "." when there is none. */
char *fileio_dirname(const char *path);

#endif
