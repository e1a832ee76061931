#include "net/endpoints.h"

#include "base/codexver.h"
#include "base/fileio.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#define VERSION_MAX 64
#define TOML_MAX    (1024 * 1024)

static pthread_mutex_t version_lock = PTHREAD_MUTEX_INITIALIZER;
static char codex_version[VERSION_MAX];

/* A copy of s without surrounding whitespace and trailing slashes; NULL when that is empty. */
static char *trimmed(const char *s, bool strip_slash)
{
	size_t n;

	if (!s) {
		return NULL;
	}
	while (isspace((unsigned char)*s)) {
		s++;
	}
	n = strlen(s);
	while (n > 0 && (isspace((unsigned char)s[n - 1]) || (strip_slash && s[n - 1] == '/'))) {
		n--;
	}
	return n ? strndup(s, n) : NULL;
}

static char *env_or(const char *name, const char *fallback, bool strip_slash)
{
	char *v = trimmed(getenv(name), strip_slash);

	return v ? v : strdup(fallback);
}

char *endpoints_refresh_url(void)
{
	return env_or("CODEX_REFRESH_TOKEN_URL_OVERRIDE", ENDPOINTS_DEFAULT_REFRESH, false);
}

char *endpoints_issuer(void)
{
	return env_or("CODEX_SWITCH_AUTH_BASE_URL", ENDPOINTS_DEFAULT_ISSUER, true);
}

char *endpoints_chatgpt_base(const struct paths *p)
{
	char *v = trimmed(getenv("CODEX_SWITCH_CHATGPT_BASE_URL"), true), *cfg = NULL;

	if (v) {
		return v;
	}
	if (p && p->codex_config &&
	    endpoints_toml_string(p->codex_config, "chatgpt_base_url", &cfg) == 0) {
		v = trimmed(cfg, true);
		free(cfg);
		if (v) {
			return v;
		}
	}
	return strdup(ENDPOINTS_DEFAULT_CHATGPT);
}

/* Decodes a TOML basic string body starting after the quote; simple escapes only. */
static int toml_basic(const char *s, char **out)
{
	char *o = malloc(strlen(s) + 1), *w = o;

	if (!o) {
		return -ENOMEM;
	}
	for (; *s && *s != '"'; s++) {
		if (*s == '\\') {
			s++;
			switch (*s) {
			case '"':
			case '\\':
				*w++ = *s;
				break;
			case 'n':
				*w++ = '\n';
				break;
			case 't':
				*w++ = '\t';
				break;
			default:
				free(o);
				return -EINVAL;
			}
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	if (*s != '"') {
		free(o);
		return -EINVAL;
	}
	*out = o;
	return 0;
}

static int toml_value(const char *v, char **out)
{
	const char *end;

	if (*v == '"' && strncmp(v, "\"\"\"", 3) != 0) {
		return toml_basic(v + 1, out);
	}
	if (*v == '\'' && strncmp(v, "'''", 3) != 0) {
		end = strchr(v + 1, '\'');
		if (!end) {
			return -EINVAL;
		}
		*out = strndup(v + 1, (size_t)(end - v - 1));
		return *out ? 0 : -ENOMEM;
	}
	return -EINVAL;
}

/* If line is `key = value`, decodes value into *out (0); 1 when the line is something else. */
static int toml_line(const char *line, const char *key, char **out)
{
	size_t klen = strlen(key);
	const char *p = line + strspn(line, " \t");

	if (*p == '"' && strncmp(p + 1, key, klen) == 0 && p[klen + 1] == '"') {
		p += klen + 2;
	} else if (strncmp(p, key, klen) == 0) {
		p += klen;
	} else {
		return 1;
	}
	p += strspn(p, " \t");
	if (*p != '=') {
		return 1;
	}
	p++;
	return toml_value(p + strspn(p, " \t"), out);
}

int endpoints_toml_string(const char *path, const char *key, char **out)
{
	char *text = NULL, *line, *next;
	size_t len;
	int rc = -ENOENT, r;

	*out = NULL;
	r = fileio_read(path, TOML_MAX, &text, &len);
	if (r < 0) {
		return r;
	}
	for (line = text; line && rc == -ENOENT; line = next) {
		next = strchr(line, '\n');
		if (next) {
			*next++ = '\0';
		}
		if (line[strspn(line, " \t")] == '[') {
			break; /* top-level keys end at the first table header */
		}
		r = toml_line(line, key, out);
		if (r <= 0) {
			rc = r;
		}
	}
	free(text);
	return rc;
}

char *endpoints_originator(void)
{
	return env_or("CODEX_INTERNAL_ORIGINATOR_OVERRIDE", ENDPOINTS_DEFAULT_ORIGINATOR, false);
}

void endpoints_set_codex_version(const char *version)
{
	pthread_mutex_lock(&version_lock);
	snprintf(codex_version, sizeof(codex_version), "%s", version ? version : "");
	pthread_mutex_unlock(&version_lock);
}

/* Keeps header-safe characters only, as codex does for the terminal token. */
static void sanitize(char *s)
{
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_./", *s)) {
			*s = '_';
		}
	}
}

static void terminal_token(char *out, size_t outsz)
{
	const char *prog = getenv("TERM_PROGRAM"), *ver = getenv("TERM_PROGRAM_VERSION");
	const char *term = getenv("TERM");

	if (prog && *prog) {
		snprintf(out, outsz, "%s%s%s", prog, ver && *ver ? "/" : "",
		         ver && *ver ? ver : "");
	} else if (term && *term) {
		snprintf(out, outsz, "%s", term);
	} else {
		snprintf(out, outsz, "unknown");
	}
	sanitize(out);
}

char *endpoints_user_agent(void)
{
	char version[VERSION_MAX], term[128];
	char *orig = endpoints_originator(), *ua;
	struct utsname u;

	pthread_mutex_lock(&version_lock);
	snprintf(version, sizeof(version), "%s", codex_version);
	pthread_mutex_unlock(&version_lock);
	if (!version[0]) {
		/* Outside the lock: the first call asks codex for its version. */
		snprintf(version, sizeof(version), "%s", codexver_for_agent());
	}
	if (uname(&u) != 0) {
		snprintf(u.sysname, sizeof(u.sysname), "unknown");
		snprintf(u.release, sizeof(u.release), "unknown");
		snprintf(u.machine, sizeof(u.machine), "unknown");
	}
	terminal_token(term, sizeof(term));
	ua = util_printf("%s/%s (%s %s; %s) %s", orig ? orig : ENDPOINTS_DEFAULT_ORIGINATOR,
	                 version, u.sysname, u.release, u.machine, term);
	free(orig);
	return ua;
}
