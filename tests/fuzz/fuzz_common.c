#include "fuzz_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

static char scratch[64];
static char pathbuf[128];

char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s) {
		abort();
	}
	if (size) {
		memcpy(s, data, size);
	}
	s[size] = '\0';
	return s;
}

static void remove_scratch(void)
{
	static const char *const names[] = {"in",          "accounts.json", "auth.json",
	                                    "config.toml", "config.json",   NULL};

	for (size_t i = 0; names[i]; i++) {
		unlink(fuzz_path(names[i]));
	}
	rmdir(scratch);
}

void fuzz_init(void)
{
	const char *tmp = getenv("TMPDIR");

	log_set_stderr_level(LOG_OFF);
	snprintf(scratch, sizeof(scratch), "%s/cs-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		abort();
	}
	atexit(remove_scratch);
}

const char *fuzz_path(const char *name)
{
	snprintf(pathbuf, sizeof(pathbuf), "%s/%s", scratch, name);
	return pathbuf;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
	const char *path = fuzz_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0) {
		abort();
	}
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0) {
			abort();
		}
		off += (size_t)n;
	}
	close(fd);
	return path;
}
