#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY */
#include "store/runlog.h"

#include "base/fileio.h"
#include "base/log.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOST_MAX      64
#define NAME_ATTEMPTS 16

/* $HOSTNAME, else /etc/hostname, else gethostname(), kept to [A-Za-z0-9._-]. */
static void host_name(char out[HOST_MAX + 1])
{
	char raw[256] = "";
	const char *env = getenv("HOSTNAME");
	FILE *f;
	size_t o = 0;

	if (env && *env) {
		snprintf(raw, sizeof(raw), "%s", env);
	} else if ((f = fopen("/etc/hostname", "re"))) {
		if (!fgets(raw, sizeof(raw), f)) {
			raw[0] = '\0';
		}
		fclose(f);
	}
	if (!raw[0] && gethostname(raw, sizeof(raw) - 1) != 0) {
		raw[0] = '\0';
	}
	for (const char *c = raw; *c && o < HOST_MAX; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-') {
			out[o++] = *c;
		}
	}
	if (o == 0) {
		out[o++] = 'h';
	}
	out[o] = '\0';
}

static void make_name(char *out, size_t outsz)
{
	char host[HOST_MAX + 1], uuid[UTIL_UUID_LEN + 1], simple[UTIL_UUID_LEN + 1], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t o = 0;

	host_name(host);
	util_uuid(uuid);
	for (const char *c = uuid; *c; c++) {
		if (*c != '-') {
			simple[o++] = *c;
		}
	}
	simple[o] = '\0';
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
	snprintf(out, outsz, RUNLOG_PREFIX "%s-%s-%ld-%s" RUNLOG_SUFFIX, ts, host, (long)getpid(),
	         simple);
}

int runlog_open(const struct paths *p, char *path, size_t pathsz)
{
	char name[256];
	int r = fileio_ensure_dir(p->logs_dir, 0700);

	for (int i = 0; r == 0 && i < NAME_ATTEMPTS; i++) {
		make_name(name, sizeof(name));
		if ((size_t)snprintf(path, pathsz, "%s/%s", p->logs_dir, name) >= pathsz) {
			return -ENAMETOOLONG;
		}
		r = log_open_file(path);
		if (r == 0) {
			runlog_prune(p->logs_dir, RUNLOG_KEEP_DAYS, false, name, NULL, NULL);
			return 0;
		}
		r = r == -EEXIST ? 0 : r;
	}
	return r ? r : -EEXIST;
}

void runlog_close(void)
{
	log_close_file();
}

bool runlog_is_name(const char *name)
{
	size_t n = strlen(name), ns = strlen(RUNLOG_SUFFIX);

	return util_starts_with(name, RUNLOG_PREFIX) && n > strlen(RUNLOG_PREFIX) + ns &&
	       strcmp(name + n - ns, RUNLOG_SUFFIX) == 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void runlog_free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++) {
		free(names[i]);
	}
	free(names);
}

int runlog_list(const char *dir, char ***names, size_t *n)
{
	char **v = calloc(RUNLOG_MAX_FILES + 1, sizeof(*v));
	struct dirent *e;
	DIR *d;

	*names = NULL;
	*n = 0;
	if (!v) {
		return -ENOMEM;
	}
	d = opendir(dir);
	if (!d) {
		int r = errno == ENOENT ? 0 : -errno;
		*names = v;
		return r;
	}
	while (*n < RUNLOG_MAX_FILES && (e = readdir(d))) {
		if (!runlog_is_name(e->d_name)) {
			continue;
		}
		v[*n] = strdup(e->d_name);
		if (!v[*n]) {
			break;
		}
		(*n)++;
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), compare_names);
	*names = v;
	return 0;
}

/* True when the regular file dir/name was last modified before cutoff. */
static bool older_than(int dfd, const char *name, time_t cutoff)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       st.st_mtime < cutoff;
}

long runlog_prune(const char *dir, int days, bool dry_run, const char *keep, runlog_prune_cb cb,
                  void *ctx)
{
	time_t cutoff = time(NULL) - (time_t)days * 86400;
	char **names;
	size_t n;
	long count = 0;
	int dfd, r = runlog_list(dir, &names, &n);

	if (r) {
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; dfd >= 0 && i < n; i++) {
		if ((keep && strcmp(names[i], keep) == 0) || !older_than(dfd, names[i], cutoff)) {
			continue;
		}
		if (!dry_run && unlinkat(dfd, names[i], 0) != 0) {
			log_warn("cannot delete the old log '%s/%s': %s", dir, names[i],
			         strerror(errno));
			continue;
		}
		count++;
		if (cb) {
			cb(names[i], ctx);
		}
	}
	if (dfd >= 0) {
		close(dfd);
	}
	runlog_free_names(names);
	return count;
}
