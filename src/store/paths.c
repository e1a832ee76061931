#include "store/paths.h"

#include "base/fileio.h"
#include "base/util.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h) {
		return h;
	}
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

/* $var when set and not blank, else ~/dflt. */
static char *dir_from_env(const char *var, const char *dflt)
{
	const char *v = getenv(var), *home;

	if (v && v[strspn(v, " \t\n")] != '\0') {
		return strdup(v);
	}
	home = home_dir();
	if (!home) {
		errno = ENOENT;
		return NULL;
	}
	return util_printf("%s/%s", home, dflt);
}

int paths_init(struct paths *p)
{
	memset(p, 0, sizeof(*p));
	p->store_dir = dir_from_env("CODEX_SWITCH_HOME", ".codex-switch");
	p->codex_home = dir_from_env("CODEX_HOME", ".codex");
	if (!p->store_dir || !p->codex_home) {
		int r = errno == ENOENT ? -ENOENT : -ENOMEM;
		paths_release(p);
		return r;
	}
	p->accounts = util_printf("%s/accounts.json", p->store_dir);
	p->accounts_lock = util_printf("%s/accounts.lock", p->store_dir);
	p->runtime_dir = util_printf("%s/runtime", p->store_dir);
	p->codex_seen = util_printf("%s/runtime/codex-version", p->store_dir);
	p->logs_dir = util_printf("%s/logs", p->store_dir);
	p->usage_cache = util_printf("%s/usage-cache.json", p->store_dir);
	p->config = util_printf("%s/config.json", p->store_dir);
	p->auth_json = util_printf("%s/auth.json", p->codex_home);
	p->codex_config = util_printf("%s/config.toml", p->codex_home);
	if (!p->accounts || !p->accounts_lock || !p->runtime_dir || !p->codex_seen ||
	    !p->logs_dir || !p->usage_cache || !p->config || !p->auth_json || !p->codex_config) {
		paths_release(p);
		return -ENOMEM;
	}
	return 0;
}

void paths_release(struct paths *p)
{
	char **all[] = {&p->store_dir,  &p->accounts,  &p->accounts_lock, &p->runtime_dir,
	                &p->codex_seen, &p->logs_dir,  &p->usage_cache,   &p->config,
	                &p->codex_home, &p->auth_json, &p->codex_config};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
}

int paths_ensure_store(const struct paths *p)
{
	int r = fileio_ensure_dir(p->store_dir, 0700);

	if (!r) {
		r = fileio_ensure_dir(p->runtime_dir, 0700);
	}
	return r;
}
