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

#define VERSION_MAX    64
#define TOML_MAX       (1024 * 1024)
#define OS_RELEASE     "/etc/os-release"
#define OS_RELEASE_MAX (64 * 1024)

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

/* os-release IDs and the names codex's OS detection (the os_info crate) gives them. */
static const struct {
	const char *id, *name;
} os_names[] = {
        {"almalinux", "AlmaLinux"},
        {"alpine", "Alpine Linux"},
        {"amzn", "Amazon Linux AMI"},
        {"arch", "Arch Linux"},
        {"archarm", "Arch Linux"},
        {"centos", "CentOS"},
        {"debian", "Debian"},
        {"fedora", "Fedora"},
        {"kali", "Kali Linux"},
        {"linuxmint", "Linux Mint"},
        {"nixos", "NixOS"},
        {"ol", "Oracle Linux"},
        {"opensuse", "openSUSE"},
        {"opensuse-leap", "openSUSE"},
        {"opensuse-tumbleweed", "openSUSE"},
        {"rhel", "Red Hat Enterprise Linux"},
        {"rocky", "Rocky Linux"},
        {"sles", "SUSE Linux Enterprise Server"},
        {"ubuntu", "Ubuntu"},
};

/* The value of KEY= in os-release text (quotes removed) into out; false when absent. */
static bool os_release_value(const char *text, const char *key, char *out, size_t outsz)
{
	size_t klen = strlen(key), n;
	const char *l = text;

	while (l && (strncmp(l, key, klen) != 0 || l[klen] != '=')) {
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	if (!l) {
		return false;
	}
	l += klen + 1;
	n = strcspn(l, "\n");
	if (n >= 2 && (*l == '"' || *l == '\'') && l[n - 1] == *l) {
		l++;
		n -= 2;
	}
	snprintf(out, outsz, "%.*s", (int)n, l);
	return true;
}

/* VERSION_ID as os_info shows it: up to three numbers as x.y.z ("22.04" -> "22.4.0"). */
static void os_version(const char *v, char *out, size_t outsz)
{
	unsigned long part[3] = {0, 0, 0};
	const char *p = v;
	char *end;
	int i;

	for (i = 0; i < 3 && isdigit((unsigned char)*p); i++) {
		part[i] = strtoul(p, &end, 10);
		p = end + (*end == '.');
		if (*end != '.' && *end != '\0') {
			break;
		}
	}
	if (*v && !*p && i > 0) {
		snprintf(out, outsz, "%lu.%lu.%lu", part[0], part[1], part[2]);
	} else {
		snprintf(out, outsz, "%s", *v ? v : "Unknown");
	}
}

int endpoints_os_token(const char *os_release, char *out, size_t outsz)
{
	char *text = NULL, id[64], ver[64], shown[64];
	size_t len;
	int r = fileio_read(os_release, OS_RELEASE_MAX, &text, &len);

	if (r < 0) {
		return r;
	}
	r = -ENOENT;
	if (os_release_value(text, "ID", id, sizeof(id))) {
		for (size_t i = 0; i < UTIL_ARRAY_LEN(os_names) && r; i++) {
			if (strcmp(id, os_names[i].id) == 0) {
				if (!os_release_value(text, "VERSION_ID", ver, sizeof(ver))) {
					ver[0] = '\0';
				}
				os_version(ver, shown, sizeof(shown));
				snprintf(out, outsz, "%s %s", os_names[i].name, shown);
				r = 0;
			}
		}
	}
	free(text);
	return r;
}

char *endpoints_user_agent(void)
{
	char version[VERSION_MAX], term[128], os[256];
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
	if (endpoints_os_token(OS_RELEASE, os, sizeof(os)) != 0) {
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	}
	terminal_token(term, sizeof(term));
	ua = util_printf("%s/%s (%s; %s) %s", orig ? orig : ENDPOINTS_DEFAULT_ORIGINATOR, version,
	                 os, u.machine, term);
	free(orig);
	return ua;
}
