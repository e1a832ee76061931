/*
 * Where codex-switch keeps its files and where Codex keeps its own.
 *   store:      $CODEX_SWITCH_HOME, else ~/.codex-switch (0700)
 *   codex home: $CODEX_HOME, else ~/.codex
 */
#ifndef CS_PATHS_H
#define CS_PATHS_H

struct paths {
	char *store_dir;
	char *accounts;      /* store_dir/accounts.json */
	char *accounts_lock; /* store_dir/accounts.lock */
	char *runtime_dir;   /* store_dir/runtime: capability tokens, refresh locks */
	char *codex_seen;    /* runtime_dir/codex-version: codexseen's record */
	char *logs_dir;      /* store_dir/logs */
	char *usage_cache;   /* store_dir/usage-cache.json */
	char *config;        /* store_dir/config.json */
	char *codex_home;
	char *auth_json;    /* codex_home/auth.json */
	char *codex_config; /* codex_home/config.toml */
};

/* Fills p from the environment. -ENOENT when no home directory can be found. */
int paths_init(struct paths *p);

/* Frees every member; a zeroed struct is fine. */
void paths_release(struct paths *p);

/* Creates the store directory (0700) and its runtime/ subdirectory when missing. */
int paths_ensure_store(const struct paths *p);

#endif
