/*
 * The accounts as a running session knows them: accounts.json and usage-cache.json held in
 * memory, so a decision on the loop thread reads no file and takes no lock. Loading and every
 * write (auth.json and last use after a switch, the limits the session saw) are worker jobs;
 * their results come back on the loop thread. The supervisor asks for a reload when inotify
 * reports that one of the files changed.
 */
#ifndef CS_SESSION_POOL_H
#define CS_SESSION_POOL_H

#include "policy/usage.h"
#include "session/part.h"
#include "store/account.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

struct pool_snapshot {
	struct store store;   /* owned */
	struct usage *cached; /* owned array of store.n: the cache entry of each account */
	bool *in_cache;       /* owned array of store.n: cached[i] is a real entry */
	long auth_current;    /* the stored account auth.json holds, or -1 (none, unknown, key) */
	bool auth_present;    /* auth.json exists */
	/* What this load took in from auth.json first (store/adopt.h): a login made with plain
	 * `codex login` is stored before anything could overwrite it. */
	int adopt_kind;          /* enum adopt_kind */
	char adopt_id[64];       /* ADOPT_ADDED: the new account's id */
	char adopt_message[768]; /* for the user; "" when nothing to say */
	char credit_hint[512];   /* an account with a reset credit and how to spend it; "" none */
	char credit_pick[64];    /* that account's id; "" none */
};

struct pool {
	const struct session_env *env; /* borrowed */
	struct pool_snapshot cur;
	bool loaded;         /* cur holds a snapshot */
	bool loading, again; /* a reload job is out; another was asked for meanwhile */
	/* After each reload job: err 0 (cur replaced) or -errno with msg (cur kept). */
	void (*on_loaded)(void *ctx, int err, const char *msg);
	/* After a pool_commit(): err 0 or -errno (the failure is logged already). */
	void (*on_committed)(void *ctx, int err);
	void *ctx;
	int writes; /* commit and limit jobs out */
};

/* Zeroes p; the callbacks may be NULL. env is borrowed for p's lifetime. */
void pool_init(struct pool *p, const struct session_env *env);
void pool_release(struct pool *p);

/* Loads the snapshot now, blocking: for start-up, before the loop runs. 0 or -EINVAL with err. */
int pool_load_now(struct pool *p, char *err, size_t errsz);
/* Reloads on the worker; several calls while one runs lead to one more reload. */
void pool_reload(struct pool *p);

/* The stored account with this id, or NULL; borrowed until the next reload. */
const struct account *pool_account(const struct pool *p, const char *id);
/* Its index in cur.store, or -1. */
long pool_index(const struct pool *p, const char *id);

/*
 * Makes account a the one plain codex uses (auth.json) and records its use (last_used_at), on
 * the worker; on_committed follows. a is copied.
 */
int pool_commit(struct pool *p, const struct account *a);

/*
 * What the session saw of account id's limits: it replaces the cached usage in memory at once
 * (so the next decision uses it) and is written to usage-cache.json on the worker, so `list`
 * and `usage` show it too. u is copied.
 */
void pool_note_limits(struct pool *p, const char *id, const struct usage *u);

#endif
