#define _GNU_SOURCE /* flock */
#include "store/lockfile.h"

#include "base/fileio.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCKFILE_POLL_MS  25
#define LOCKFILE_MAX_READ 1024
#define HOST_MAX          256
#define ID_MAX            64

/* Where a process runs: a pid means something only on this host, boot and pid namespace. */
struct lock_place {
	char host[HOST_MAX + 1];
	char boot_id[ID_MAX + 1];
	char pid_ns[ID_MAX + 1];
};

struct lock_info {
	char lock_id[UTIL_UUID_LEN + 1];
	long pid;
	bool parsed;             /* both lock_id and pid were read */
	struct lock_place place; /* empty fields: written by an older version or the Rust one */
	time_t mtime;
};

/* Keeps s to one line of printable bytes, so it can never forge another key. */
static void one_line(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x21 || *s == 0x7f) {
			*s = '_';
		}
	}
}

static void read_boot_id(char *out)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, out, ID_MAX);

	if (fd >= 0) {
		close(fd);
	}
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static struct lock_place ours;
static pthread_once_t ours_once = PTHREAD_ONCE_INIT;

static void read_place(void)
{
	ssize_t n;

	if (gethostname(ours.host, HOST_MAX) < 0) {
		ours.host[0] = '\0';
	}
	ours.host[HOST_MAX] = '\0';
	read_boot_id(ours.boot_id);
	n = readlink("/proc/self/ns/pid", ours.pid_ns, ID_MAX);
	ours.pid_ns[n > 0 ? n : 0] = '\0';
	one_line(ours.host);
	one_line(ours.boot_id);
	one_line(ours.pid_ns);
}

/* Ours, read once (locks are taken from several threads): none of it changes while we run. */
static const struct lock_place *our_place(void)
{
	pthread_once(&ours_once, read_place);
	return &ours;
}

static char *lock_text(const char *lock_id)
{
	const struct lock_place *me = our_place();
	char now[40];

	util_format_rfc3339(util_now_ms() * 1000, now, sizeof(now));
	/* The Rust codex-switch reads lock_id and ignores the lines it does not know. */
	return util_printf("lock_id=%s\npid=%ld\ncreated_at=%s\nhost=%s\nboot_id=%s\npid_ns=%s\n",
	                   lock_id, (long)getpid(), now, me->host, me->boot_id, me->pid_ns);
}

/* Creates the lock file, content and all at once; -EEXIST when one is there. */
static int create_lock(struct lockfile *l, const char *path)
{
	struct stat st;
	char *text;
	int r;

	/* A held lock is the common case while waiting: skip writing and syncing a temp file. */
	if (lstat(path, &st) == 0) {
		return -EEXIST;
	}
	util_uuid(l->lock_id);
	text = lock_text(l->lock_id);
	if (!text) {
		return -ENOMEM;
	}
	/* A temp file linked into place: a kill at any moment never leaves an empty lock. Not
	 * synced: its owner does not outlive a crash, and after one the lock is gone, unreadable
	 * (reclaimed) or whole, as a synced one would be. */
	r = fileio_create_unsynced(path, text, strlen(text));
	free(text);
	if (r) {
		return r;
	}
	l->path = strdup(path);
	if (!l->path) {
		unlink(path);
		return -ENOMEM;
	}
	return 0;
}

static void copy_value(char *dst, size_t dstsz, const char *v, size_t len)
{
	if (len < dstsz) {
		memcpy(dst, v, len);
		dst[len] = '\0';
	}
}

static void parse_line(const char *line, size_t len, struct lock_info *info)
{
	static const struct {
		const char *key;
		size_t off, size;
	} places[] = {
	        {"host=", offsetof(struct lock_place, host), HOST_MAX + 1},
	        {"boot_id=", offsetof(struct lock_place, boot_id), ID_MAX + 1},
	        {"pid_ns=", offsetof(struct lock_place, pid_ns), ID_MAX + 1},
	};
	long pid;
	char num[24];

	if (len == 8 + UTIL_UUID_LEN && strncmp(line, "lock_id=", 8) == 0) {
		copy_value(info->lock_id, sizeof(info->lock_id), line + 8, UTIL_UUID_LEN);
	} else if (len > 4 && len - 4 < sizeof(num) && strncmp(line, "pid=", 4) == 0) {
		copy_value(num, sizeof(num), line + 4, len - 4);
		if (util_parse_long(num, 1, INT32_MAX, &pid) == 0) {
			info->pid = pid;
		}
	}
	for (size_t i = 0; i < UTIL_ARRAY_LEN(places); i++) {
		size_t k = strlen(places[i].key);
		if (len > k && strncmp(line, places[i].key, k) == 0) {
			copy_value((char *)&info->place + places[i].off, places[i].size, line + k,
			           len - k);
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
	int fd = fileio_open_regular(path, O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	memset(info, 0, sizeof(*info));
	if (fd == -ENOENT) {
		return fd;
	}
	if (fd < 0) {
		return -EIO; /* not a file we could have written: treat it as unreadable */
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

static bool pid_dead(long pid)
{
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/*
 * kill(pid, 0) only means something for a pid of our host, boot and pid namespace: another
 * machine sharing the home directory, or a container, has its own pids. A lock from elsewhere
 * is never reclaimed; one without a place (older versions, the Rust codex-switch) only when
 * its pid is dead here and it is older than any real hold.
 */
static bool is_stale(const struct lock_info *info)
{
	const struct lock_place *me = our_place(), *it = &info->place;

	if (!info->parsed) {
		return util_now() - info->mtime > LOCKFILE_UNREADABLE_STALE_S;
	}
	if (!it->host[0] && !it->boot_id[0]) {
		return pid_dead(info->pid) && util_now() - info->mtime > LOCKFILE_LEGACY_STALE_S;
	}
	if (!me->boot_id[0] || strcmp(it->host, me->host) != 0 ||
	    strcmp(it->boot_id, me->boot_id) != 0) {
		return false;
	}
	if (it->pid_ns[0] && me->pid_ns[0] && strcmp(it->pid_ns, me->pid_ns) != 0) {
		return false;
	}
	return pid_dead(info->pid);
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
