#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC, flock */
#include "base/fileio.h"

#include "base/log.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int fileio_open_regular(const char *path, int flags)
{
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. */
	int fd = open(path, flags | O_RDONLY | O_NONBLOCK | O_CLOEXEC), r;
	struct stat st;

	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -FILEIO_ENOTREG;
	} else {
		r = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ? -errno : 0;
	}
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

const char *fileio_strerror(int r)
{
	if (r == -FILEIO_ENOTREG) {
		return "not a regular file (a FIFO, socket or device); replace it with a file";
	}
	return strerror(r < 0 ? -r : r);
}

int fileio_read(const char *path, size_t max, char **out, size_t *len)
{
	int fd = fileio_open_regular(path, 0), r = 0;
	struct stat st;
	char *data = NULL;
	size_t n = 0;

	if (fd < 0) {
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	/* The size is a hint: the file may change under us, so read to EOF within max. */
	for (;;) {
		ssize_t got = read(fd, data + n, (size_t)st.st_size + 1 - n);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0) {
			break;
		}
		n += (size_t)got;
		if (n == (size_t)st.st_size + 1) {
			r = -EAGAIN; /* grew while reading */
			goto out;
		}
	}
	data[n] = '\0';
	*out = data;
	data = NULL;
	if (len) {
		*len = n;
	}
out:
	free(data);
	close(fd);
	return r;
}

char *fileio_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		return strdup(".");
	}
	if (slash == path) {
		return strdup("/");
	}
	return strndup(path, (size_t)(slash - path));
}

int fileio_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		return -errno;
	}
	if (fsync(fd) < 0) {
		r = -errno;
	}
	close(fd);
	return r;
}

/* The prefix ".<name>." of path's temp files and the directory they live in (caller frees). */
static int temp_parts(const char *path, char **dir, char **prefix)
{
	const char *base = strrchr(path, '/');

	*dir = fileio_dirname(path);
	*prefix = util_printf(".%s.", base ? base + 1 : path);
	if (!*dir || !*prefix) {
		free(*dir);
		free(*prefix);
		return -ENOMEM;
	}
	return 0;
}

/* ".<name>.<uuid>.tmp" for the prefix ".<name>." */
static bool is_temp_name(const char *name, const char *prefix)
{
	size_t plen = strlen(prefix), len = strlen(name);

	return len == plen + UTIL_UUID_LEN + 4 && strncmp(name, prefix, plen) == 0 &&
	       strcmp(name + len - 4, ".tmp") == 0;
}

/*
 * True when the temp file at path belongs to a writer that is gone: a writer holds flock()
 * on its temp file from just after creating it until after the rename, so an unlocked one
 * older than the few microseconds in between is dead. With remove, it is unlinked under
 * the lock. flock() works across pid namespaces and, on Linux NFS, across hosts too.
 */
static bool dead_temp(const char *path, bool remove)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	bool dead;

	if (fd < 0) {
		return false;
	}
	dead = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	       util_now() - st.st_mtime >= FILEIO_TEMP_GRACE_S && flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (dead && remove && unlink(path) < 0) {
		dead = false;
	}
	close(fd);
	return dead;
}

int fileio_dead_temps(const char *path, bool remove, char *example, size_t examplesz)
{
	char *dir, *prefix, *full;
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (example && examplesz) {
		example[0] = '\0';
	}
	if (temp_parts(path, &dir, &prefix)) {
		return -ENOMEM;
	}
	d = opendir(dir);
	for (e = d ? readdir(d) : NULL; e; e = readdir(d)) {
		if (!is_temp_name(e->d_name, prefix)) {
			continue;
		}
		full = util_printf("%s/%s", dir, e->d_name);
		if (full && dead_temp(full, remove)) {
			if (n++ == 0 && example && examplesz) {
				snprintf(example, examplesz, "%s", full);
			}
		}
		free(full);
	}
	n = d ? n : -errno;
	if (d) {
		closedir(d);
	}
	free(dir);
	free(prefix);
	return n;
}

/* Removes the temp files of writers of path that died, so no copy of a secret lingers. */
static void remove_dead_temps(const char *path)
{
	char example[512];
	int n = fileio_dead_temps(path, true, example, sizeof(example));

	if (n > 0) {
		log_info("removed %d temp file%s of interrupted writes (such as '%s')", n,
		         n == 1 ? "" : "s", example);
	}
}

/*
 * Writes data to a fresh private temp file next to path; *tmp names it (caller frees). The
 * returned descriptor holds flock() on it, marking its writer alive: keep it open until the
 * temp file is renamed or unlinked, then close it.
 */
static int write_temp(const char *path, const void *data, size_t len, bool sync, char **tmp)
{
	char *dir, *prefix, id[UTIL_UUID_LEN + 1];
	int fd, r;

	if (temp_parts(path, &dir, &prefix)) {
		return -ENOMEM;
	}
	util_uuid(id);
	*tmp = util_printf("%s/%s%s.tmp", dir, prefix, id);
	free(dir);
	free(prefix);
	if (!*tmp) {
		return -ENOMEM;
	}
	fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		free(*tmp);
		*tmp = NULL;
		return r;
	}
	r = flock(fd, LOCK_EX) < 0 ? -errno : 0;
	r = r ? r : util_write_all(fd, data, len);
	if (!r && fchmod(fd, 0600) < 0) {
		r = -errno;
	}
	if (!r && sync && fsync(fd) < 0) {
		r = -errno;
	}
	if (r) {
		unlink(*tmp);
		close(fd);
		free(*tmp);
		*tmp = NULL;
		return r;
	}
	return fd;
}

/* Closes the temp file (its data is synced: close cannot lose it) and syncs the directory. */
static int finish(const char *path, char *tmp, int fd)
{
	char *dir = fileio_dirname(path);
	int r;

	close(fd);
	free(tmp);
	r = dir ? fileio_sync_dir(dir) : -ENOMEM;
	free(dir);
	return r;
}

/* How place_temp() puts a file in place. */
enum place {
	PLACE_REPLACE,      /* rename(): replaces what is there */
	PLACE_NEW,          /* link(): EEXIST when something is there */
	PLACE_NEW_UNSYNCED, /* link(), neither the file nor its directory synced */
};

/*
 * Writes data to a private temp file next to path and puts it in place: rename() for
 * PLACE_REPLACE (it replaces a symlink at path itself, never writing through it), else link(),
 * which fails with EEXIST instead of replacing, even against a racing writer. Returns 0 or
 * -errno when path was not written; once it was, *sync_err gets the result of syncing its
 * directory.
 */
static int place_temp(const char *path, const void *data, size_t len, enum place how, int *sync_err)
{
	char *tmp;
	int fd, r;

	remove_dead_temps(path);
	fd = write_temp(path, data, len, how != PLACE_NEW_UNSYNCED, &tmp);
	if (fd < 0) {
		return fd;
	}
	r = (how == PLACE_REPLACE ? rename(tmp, path) : link(tmp, path)) < 0 ? -errno : 0;
	if (r || how != PLACE_REPLACE) {
		unlink(tmp);
	}
	if (r || how == PLACE_NEW_UNSYNCED) {
		close(fd);
		free(tmp);
		return r;
	}
	*sync_err = finish(path, tmp, fd);
	return 0;
}

int fileio_write_atomic(const char *path, const void *data, size_t len)
{
	int sync_err = 0;
	int r = place_temp(path, data, len, PLACE_REPLACE, &sync_err);

	if (!r && sync_err) {
		log_warn("'%s' was written, but syncing its directory failed (%s): a crash now may "
		         "lose the change",
		         path, strerror(-sync_err));
	}
	return r;
}

int fileio_write_new(const char *path, const void *data, size_t len)
{
	int sync_err = 0;
	int r = place_temp(path, data, len, PLACE_NEW, &sync_err);

	return r ? r : sync_err;
}

int fileio_create_unsynced(const char *path, const void *data, size_t len)
{
	int unused = 0;

	return place_temp(path, data, len, PLACE_NEW_UNSYNCED, &unused);
}

static int ensure_one(const char *dir, mode_t mode)
{
	struct stat st;

	if (mkdir(dir, mode) == 0) {
		return 0;
	}
	if (errno != EEXIST) {
		return -errno;
	}
	if (lstat(dir, &st) < 0) {
		return -errno;
	}
	if (S_ISLNK(st.st_mode) && stat(dir, &st) < 0) {
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	if (st.st_uid == geteuid() && (st.st_mode & 07777 & ~mode) && chmod(dir, mode) < 0) {
		return -errno;
	}
	return 0;
}

int fileio_ensure_dir(const char *dir, mode_t mode)
{
	char *copy = strdup(dir);
	int r = 0;

	if (!copy) {
		return -ENOMEM;
	}
	/* Parents are created with mode too but never tightened: they may be the user's. */
	for (char *p = copy + 1; *p && !r; p++) {
		if (*p != '/') {
			continue;
		}
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			r = -errno;
		}
		*p = '/';
	}
	if (!r) {
		r = ensure_one(copy, mode);
	}
	free(copy);
	return r;
}
