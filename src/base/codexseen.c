#include "base/codexseen.h"

#include "base/codexver.h"
#include "base/fileio.h"
#include "base/spawn.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RECORD_MAX (PATH_MAX + 256)

/* "<version>\n<path>\n<device> <inode> <size> <mtime>\n": what the record holds for bin. */
static int describe(const char *bin, const char *version, char *out, size_t outsz)
{
	char file[PATH_MAX];
	struct stat st;
	int n;

	if (!spawn_find(bin, file, sizeof(file))) {
		return -ENOENT;
	}
	if (stat(file, &st) < 0) {
		return -errno;
	}
	n = snprintf(out, outsz, "%s\n%s\n%ju %ju %jd %jd.%09ld\n", version, file,
	             (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (intmax_t)st.st_size,
	             (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	return n > 0 && (size_t)n < outsz ? 0 : -ENAMETOOLONG;
}

int codexseen_version(const char *path, const char *bin, char *out, size_t outsz)
{
	char want[RECORD_MAX], *text = NULL;
	size_t len = 0, vlen;
	int r = -ENOENT;

	if (fileio_read(path, RECORD_MAX, &text, &len) < 0) {
		return -ENOENT;
	}
	vlen = strcspn(text, "\n");
	if (vlen < outsz && text[vlen] == '\n') {
		memcpy(out, text, vlen);
		out[vlen] = '\0';
		if (describe(bin, out, want, sizeof(want)) == 0 && strcmp(text, want) == 0) {
			r = 0;
		}
	}
	free(text);
	return r;
}

bool codexseen_supported(const char *path, const char *bin, const char *oldest)
{
	char version[CODEXVER_MAX];

	return codexseen_version(path, bin, version, sizeof(version)) == 0 &&
	       codexver_cmp(version, oldest) >= 0;
}

int codexseen_remember(const char *path, const char *bin, const char *version)
{
	char want[RECORD_MAX], *text = NULL;
	size_t len = 0;
	int r = describe(bin, version, want, sizeof(want));

	if (r) {
		return r;
	}
	if (fileio_read(path, RECORD_MAX, &text, &len) == 0 && strcmp(text, want) == 0) {
		free(text);
		return 0;
	}
	free(text);
	return fileio_write_atomic(path, want, strlen(want));
}
