#include "base/codexver.h"

#include "base/spawn.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_MAX_OUTPUT 4096
#define QUERY_TIMEOUT_MS 15000

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static bool cache_done;
static char cache[CODEXVER_MAX];

int codexver_parse(const char *text, char *out, size_t outsz)
{
	const char *p = text;
	size_t n;

	while (p && *p) {
		p += strspn(p, " \t");
		if (isdigit((unsigned char)*p)) {
			n = strcspn(p, " \t\r\n");
			if (n >= outsz) {
				return -EINVAL;
			}
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		if (*p == '\n' || *p == '\r') {
			break; /* the version is on the first line */
		}
		p += strcspn(p, " \t\r\n");
	}
	return -EINVAL;
}

/* The next numeric part of *s, stepping over it and one following dot. */
static unsigned long next_part(const char **s)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)**s)) {
		return 0;
	}
	v = strtoul(*s, &end, 10);
	*s = end + (*end == '.');
	return v;
}

int codexver_cmp(const char *a, const char *b)
{
	int r;

	while (isdigit((unsigned char)*a) || isdigit((unsigned char)*b)) {
		unsigned long x = next_part(&a), y = next_part(&b);
		if (x != y) {
			return x < y ? -1 : 1;
		}
	}
	/* What is left is a pre-release suffix or nothing: a release sorts after its previews. */
	if (!*a || !*b) {
		return !*a - !*b;
	}
	r = strcmp(a, b);
	return (r > 0) - (r < 0);
}

int codexver_query(const char *bin, char *out, size_t outsz)
{
	char flag[] = "--version";
	char *argv[] = {(char *)bin, flag, NULL};
	char *text = NULL;
	int status, r;

	r = spawn_capture(argv, QUERY_MAX_OUTPUT, QUERY_TIMEOUT_MS, &text, &status);
	if (r == 0 && status != 0) {
		r = -EINVAL;
	}
	if (r == 0) {
		r = codexver_parse(text, out, outsz);
	} else if (r != -ENOMEM && r != -EINVAL) {
		r = -ENOENT;
	}
	free(text);
	return r;
}

const char *codexver_installed(const char *bin)
{
	const char *env = getenv("CODEX_SWITCH_CODEX_BIN");

	pthread_mutex_lock(&cache_lock);
	if (!cache_done) {
		if (!bin || !*bin) {
			bin = env && *env ? env : "codex";
		}
		if (codexver_query(bin, cache, sizeof(cache)) != 0) {
			cache[0] = '\0';
		}
		cache_done = true;
	}
	pthread_mutex_unlock(&cache_lock);
	return cache[0] ? cache : NULL;
}

const char *codexver_for_agent(void)
{
	const char *v = codexver_installed(NULL);

	return v ? v : CODEXVER_PINNED;
}
