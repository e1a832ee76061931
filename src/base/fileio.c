#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC */
#include "base/fileio.h"

#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Writes data to a fresh private temp file next to path; *tmp names it (caller frees). */
static int write_temp(const char *path, const void *data, size_t len, char **tmp)
{
	char *dir = fileio_dirname(path), id[UTIL_UUID_LEN + 1];
	const char *base = strrchr(path, '/');
	int fd, r;

	if (!dir) {
		return -ENOMEM;
	}
	util_uuid(id);
	*tmp = util_printf("%s/.%s.%s.tmp", dir, base ? base + 1 : path, id);
	free(dir);
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
	r = util_write_all(fd, data, len);
	if (!r && fchmod(fd, 0600) < 0) {
		r = -errno;
	}
	if (!r && fsync(fd) < 0) {
		r = -errno;
	}
	if (close(fd) < 0 && !r) {
		r = -errno;
	}
	if (r) {
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
	}
	return r;
}

static int finish(const char *path, char *tmp, int r)
{
	char *dir;

	if (r) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	dir = fileio_dirname(path);
	if (!dir) {
		return -ENOMEM;
	}
	r = fileio_sync_dir(dir);
	free(dir);
	return r;
}

int fileio_write_atomic(const char *path, const void *data, size_t len)
{
	char *tmp;
	int r = write_temp(path, data, len, &tmp);

	if (r) {
		return r;
	}
	/* rename() replaces a symlink at path itself; it never writes through it. */
	r = rename(tmp, path) < 0 ? -errno : 0;
	if (r) {
		return finish(path, tmp, r);
	}
	free(tmp);
	tmp = fileio_dirname(path);
	r = tmp ? fileio_sync_dir(tmp) : -ENOMEM;
	if (r) {
		log_warn("'%s' was written, but syncing its directory failed (%s): a crash now may "
		         "lose the change",
		         path, strerror(-r));
	}
	free(tmp);
	return 0;
}

int fileio_write_new(const char *path, const void *data, size_t len)
{
	char *tmp;
	int r = write_temp(path, data, len, &tmp);

	if (r) {
		return r;
	}
	/* link() fails with EEXIST instead of replacing, even against a racing writer. */
	r = link(tmp, path) < 0 ? -errno : 0;
	unlink(tmp);
	if (r) {
		free(tmp);
		return r;
	}
	return finish(path, tmp, 0);
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
