#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC, explicit_bzero */
#include "session/captoken.h"

#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "ws-token-"

/*
 * Not synced: the token means nothing after a crash (the app-server that read it is gone with
 * it, and the next run removes the file), and the app-server is spawned only after the write,
 * so it never reads a part. An fsync here cost about 1 ms on every start of `run`.
 */
static int write_token(const char *path, const char *token)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), r = 0;
	size_t len = strlen(token);

	if (fd < 0) {
		return -errno;
	}
	if (write(fd, token, len) != (ssize_t)len) {
		r = errno ? -errno : -EIO;
	}
	close(fd);
	if (r) {
		unlink(path);
	}
	return r;
}

int captoken_create(struct captoken *t, const char *runtime_dir)
{
	unsigned char raw[UTIL_TOKEN_HEX_LEN / 2];
	char id[UTIL_UUID_LEN + 1];
	int r;

	memset(t, 0, sizeof(*t));
	r = util_random_bytes(raw, sizeof(raw));
	if (r) {
		return r;
	}
	util_hex(raw, sizeof(raw), t->token);
	explicit_bzero(raw, sizeof(raw));
	log_pin_secret(t->token); /* never evicted, however many tokens follow */
	util_uuid(id);
	t->path = util_printf("%s/" PREFIX "%ld-%s", runtime_dir, (long)getpid(), id);
	if (!t->path) {
		captoken_destroy(t);
		return -ENOMEM;
	}
	r = write_token(t->path, t->token);
	if (r) {
		free(t->path);
		t->path = NULL;
		captoken_destroy(t);
	}
	return r;
}

void captoken_destroy(struct captoken *t)
{
	if (t->path) {
		unlink(t->path);
		free(t->path);
		t->path = NULL;
	}
	explicit_bzero(t->token, sizeof(t->token));
}

/* name is <prefix><pid>-...: whether that process is gone. */
static bool owner_dead(const char *name, size_t prefix_len)
{
	char *end;
	long pid = strtol(name + prefix_len, &end, 10);

	if (end == name + prefix_len || *end != '-' || pid <= 0) {
		return false;
	}
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

void captoken_clean_stale(const char *runtime_dir)
{
	static const char *const prefixes[] = {PREFIX, "sock-"};
	DIR *d = opendir(runtime_dir);
	struct dirent *e;

	if (!d) {
		return;
	}
	while ((e = readdir(d))) {
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t n = strlen(prefixes[i]);

			if (strncmp(e->d_name, prefixes[i], n) == 0 && owner_dead(e->d_name, n) &&
			    unlinkat(dirfd(d), e->d_name, 0) == 0) {
				log_info(
				        "removed '%s', left by a run that ended without cleaning up",
				        e->d_name);
			}
		}
	}
	closedir(d);
}
