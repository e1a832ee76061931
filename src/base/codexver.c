#include "base/codexver.h"

#include "base/spawn.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_MAX_OUTPUT 4096
#define QUERY_TIMEOUT_MS 15000

/* The kept answer: NONE until a query starts, ASKING while one runs (others wait), DONE. */
enum state { NONE, ASKING, DONE };

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cond = PTHREAD_COND_INITIALIZER;
static enum state cache_state;
static char cache[CODEXVER_MAX];
static char prefetch_bin[4096];

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

/* Called with cache_lock held and cache_state ASKING; returns with it held and DONE. */
static void ask(const char *bin)
{
	char v[CODEXVER_MAX];
	int r;

	pthread_mutex_unlock(&cache_lock);
	r = codexver_query(bin, v, sizeof(v));
	pthread_mutex_lock(&cache_lock);
	snprintf(cache, sizeof(cache), "%s", r == 0 ? v : "");
	cache_state = DONE;
	pthread_cond_broadcast(&cache_cond);
}

static const char *default_bin(const char *bin)
{
	const char *env = getenv("CODEX_SWITCH_CODEX_BIN");

	if (bin && *bin) {
		return bin;
	}
	return env && *env ? env : "codex";
}

const char *codexver_installed(const char *bin)
{
	pthread_mutex_lock(&cache_lock);
	if (cache_state == NONE) {
		cache_state = ASKING;
		ask(default_bin(bin));
	}
	while (cache_state != DONE) {
		pthread_cond_wait(&cache_cond, &cache_lock);
	}
	pthread_mutex_unlock(&cache_lock);
	return cache[0] ? cache : NULL;
}

static void *prefetch_run(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cache_lock);
	ask(prefetch_bin);
	pthread_mutex_unlock(&cache_lock);
	return NULL;
}

int codexver_prefetch(const char *bin)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	pthread_mutex_lock(&cache_lock);
	if (cache_state != NONE) {
		pthread_mutex_unlock(&cache_lock);
		return 0;
	}
	snprintf(prefetch_bin, sizeof(prefetch_bin), "%s", default_bin(bin));
	cache_state = ASKING;
	pthread_mutex_unlock(&cache_lock);
	/* Every signal blocked in the thread: they are the event loop's (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_attr_init(&attr);
	if (r == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		r = pthread_create(&t, &attr, prefetch_run, NULL);
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_mutex_lock(&cache_lock);
		cache_state = NONE; /* the first codexver_installed() asks */
		pthread_mutex_unlock(&cache_lock);
		return -r;
	}
	return 0;
}

const char *codexver_for_agent(void)
{
	const char *v = codexver_installed(NULL);

	return v ? v : CODEXVER_PINNED;
}
