#include "net/curlso.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The soname of libcurl 7.16 and later; the build links nothing, so this names the ABI. */
#define CURL_SONAME "libcurl.so.4"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct curlso api;
static const struct curlso *loaded;
static char load_error[256];

static void *sym(void *h, const char *name, int *missing)
{
	void *f = dlsym(h, name);

	if (!f && !*missing) {
		*missing = 1;
		snprintf(load_error, sizeof(load_error), "'%s' has no '%s'", CURL_SONAME, name);
	}
	return f;
}

/* dlsym returns data pointers; POSIX guarantees they convert to function pointers. */
#define LOAD(field, name) *(void **)&api.field = sym(h, name, &missing)

static void load(void)
{
	CURLcode (*global_init)(long flags);
	void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	int missing = 0;

	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load %s: %s; install libcurl 4",
		         CURL_SONAME, dlerror());
		return;
	}
	LOAD(easy_init, "curl_easy_init");
	LOAD(easy_setopt, "curl_easy_setopt");
	LOAD(easy_perform, "curl_easy_perform");
	LOAD(easy_getinfo, "curl_easy_getinfo");
	LOAD(easy_cleanup, "curl_easy_cleanup");
	LOAD(easy_strerror, "curl_easy_strerror");
	LOAD(slist_append, "curl_slist_append");
	LOAD(slist_free_all, "curl_slist_free_all");
	LOAD(share_init, "curl_share_init");
	LOAD(share_setopt, "curl_share_setopt");
	*(void **)&global_init = sym(h, "curl_global_init", &missing);
	if (missing) {
		return;
	}
	/* pthread_once makes this the only curl call in flight in the process, whichever thread
	 * gets here first. */
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "cannot initialise %s", CURL_SONAME);
		return;
	}
	loaded = &api;
}

const struct curlso *curlso_get(char *err, size_t errsz)
{
	pthread_once(&once, load);
	if (!loaded && err && errsz) {
		snprintf(err, errsz, "%s", load_error);
	}
	return loaded;
}

int curlso_loaded(void)
{
	return loaded != NULL;
}
