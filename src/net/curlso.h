/*
 * libcurl, loaded at its first use instead of at start. Linking it pulls in some 35 shared
 * libraries (OpenSSL, GnuTLS with its constructor, Kerberos, LDAP, ...) whose relocation and
 * set-up alone cost about 6 MiB of resident memory in every process: `run` keeps its relay
 * process free of them and does the start-up usage queries in a child (startusage.h).
 */
#ifndef CS_CURLSO_H
#define CS_CURLSO_H

#include <curl/curl.h>
#include <stddef.h>

/* The functions http.c uses; the library's own names without the curl_ prefix. */
struct curlso {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *sh, CURLSHoption opt, ...);
};

/*
 * The loaded library (loaded and globally initialised on the first call, from any thread;
 * never unloaded), or NULL with err saying why (the same error every later call).
 */
const struct curlso *curlso_get(char *err, size_t errsz);

/* True once curlso_get() loaded the library in this process (for tests and diagnostics). */
int curlso_loaded(void);

#endif
