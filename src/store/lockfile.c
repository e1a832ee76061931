#define _GNU_SOURCE /* flock */
#include "store/lockfile.h"
#include "base/util.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCKFILE_POLL_MS  25
#define LOCKFILE_MAX_READ 512

struct lock_info {
	char lock_id[UTIL_UUID_LEN + 1];
	long pid;
	bool parsed; /* both lock_id and pid were read */
	time_t mtime;
};

static int write_content(int fd, const char *lock_id)
{
	char now[40], *text;
	int r;

	util_format_rfc3339(util_now_ms() * 1000, now, sizeof(now));
	text = util_printf("lock_id=%s\npid=%ld\ncreated_at=%s\n", lock_id, (long)getpid(), now);
	if (!text) {
		return -ENOMEM;
	}
	r = util_write_all(fd, text, strlen(text));
	free(text);
	if (!r && fsync(fd) < 0) {
		r = -errno;
	}
	return r;
}

/* Creates the lock file; -EEXIST when one is there. */
static int create_lock(struct lockfile *l, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), r;

	if (fd < 0) {
		return -errno;
	}
	util_uuid(l->lock_id);
	r = write_content(fd, l->lock_id);
	if (close(fd) < 0 && !r) {
		r = -errno;
	}
	if (!r) {
		l->path = strdup(path);
		r = l->path ? 0 : -ENOMEM;
	}
	if (r) {
		unlink(path);
	}
	return r;
}

static void parse_line(const char *line, size_t len, struct lock_info *info)
{
	long pid;
	char num[24];

	if (len == 8 + UTIL_UUID_LEN && strncmp(line, "lock_id=", 8) == 0) {
		memcpy(info->lock_id, line + 8, UTIL_UUID_LEN);
		info->lock_id[UTIL_UUID_LEN] = '\0';
	} else if (len > 4 && len - 4 < sizeof(num) && strncmp(line, "pid=", 4) == 0) {
		memcpy(num, line + 4, len - 4);
		num[len - 4] = '\0';
		if (util_parse_long(num, 1, INT32_MAX, &pid) == 0) {
			info->pid = pid;
		}
	}
}

static void parse_lock(const char *text, struct lock_info *info)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		parse_line(p, len, info);
		p += len + (nl ? 1 : 0);
	}
	info->parsed = info->lock_id[0] && info->pid > 0;
}

/* Reads the lock file at path; -ENOENT when it is gone. */
static int read_lock(const char *path, struct lock_info *info)
{
	char text[LOCKFILE_MAX_READ + 1];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	memset(info, 0, sizeof(*info));
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		n = -1;
	} else {
		n = read(fd, text, LOCKFILE_MAX_READ);
	}
	close(fd);
	if (n < 0) {
		return -EIO;
	}
	text[n] = '\0';
	info->mtime = st.st_mtime;
	parse_lock(text, info);
	return 0;
}

static bool is_stale(const struct lock_info *info)
{
	if (info->parsed) {
		return kill((pid_t)info->pid, 0) == -1 && errno == ESRCH;
	}
	return util_now() - info->mtime > LOCKFILE_UNREADABLE_STALE_S;
}

/* Serialises reclaimers: each re-reads the lock under this flock before deleting it. */
static int open_reclaim_guard(const char *path)
{
	char *guard = util_printf("%s.reclaim", path);
	int fd, r;

	if (!guard) {
		return -ENOMEM;
	}
	fd = open(guard, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	r = fd < 0 ? -errno : 0;
	free(guard);
	while (!r && flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
		}
	}
	if (r && fd >= 0) {
		close(fd);
	}
	return r ? r : fd;
}

/* Deletes the lock at path if its owner is dead. 1: gone (try again), 0: held, < 0: error. */
static int reclaim_if_stale(const char *path)
{
	struct lock_info info;
	int guard = open_reclaim_guard(path), r;

	if (guard < 0) {
		return guard;
	}
	r = read_lock(path, &info);
	if (r == -ENOENT) {
		r = 1;
	} else if (r == 0 && is_stale(&info)) {
		r = unlink(path) == 0 || errno == ENOENT ? 1 : -errno;
		if (r == 1 && info.parsed) {
			log_info("removed the lock '%s' left by process %ld, which has exited",
			         path, info.pid);
		} else if (r == 1) {
			log_info("removed the abandoned, unreadable lock '%s'", path);
		}
	}
	close(guard);
	return r;
}

int lockfile_try(struct lockfile *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	for (int attempt = 0; attempt < 2; attempt++) {
		int r = create_lock(l, path);
		if (r != -EEXIST) {
			return r;
		}
		r = reclaim_if_stale(path);
		if (r <= 0) {
			return r < 0 ? r : -EAGAIN;
		}
	}
	return -EAGAIN;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

int lockfile_acquire(struct lockfile *l, const char *path, int timeout_ms)
{
	int64_t deadline = util_now_ms() + timeout_ms;

	for (;;) {
		int r = lockfile_try(l, path);
		int64_t left = deadline - util_now_ms();
		if (r != -EAGAIN) {
			return r;
		}
		if (left <= 0) {
			return -ETIMEDOUT;
		}
		sleep_ms(left < LOCKFILE_POLL_MS ? (long)left : LOCKFILE_POLL_MS);
	}
}

void lockfile_release(struct lockfile *l)
{
	struct lock_info info;

	if (!l->path) {
		return;
	}
	/* Only a reclaimer that saw us dead could have replaced our file; never delete theirs. */
	if (read_lock(l->path, &info) == 0 && strcmp(info.lock_id, l->lock_id) == 0) {
		unlink(l->path);
	}
	free(l->path);
	memset(l, 0, sizeof(*l));
}
