#include "runstart.h"

#include "authjson.h"
#include "commands.h"
#include "log.h"
#include "store.h"
#include "usage_cache.h"
#include "usage_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pool {
	struct store s;
	struct policy_account *pa;
	struct usage *u;
	char (*labels)[256];
};

static void pool_release(struct pool *pl)
{
	for (size_t i = 0; pl->u && i < pl->s.n; i++) {
		usage_release(&pl->u[i]);
	}
	free(pl->u);
	free(pl->pa);
	free(pl->labels);
	store_release(&pl->s);
}

static bool wanted(const struct account *a)
{
	return a->kind == ACCOUNT_CHATGPT && !a->disabled && !a->relogin_reason;
}

/* Fresh usage where it comes quickly, the cache where it does not. */
static void load_usage(const struct paths *p, struct pool *pl)
{
	const char **ids = calloc(pl->s.n + 1, sizeof(*ids));
	struct usage *fresh = calloc(pl->s.n + 1, sizeof(*fresh));
	size_t n = 0, k = 0;

	for (size_t i = 0; ids && i < pl->s.n; i++) {
		if (wanted(&pl->s.accounts[i])) {
			ids[n++] = pl->s.accounts[i].id;
		}
	}
	if (ids && fresh && n &&
	    usage_fetch_all_timeout(p, ids, n, RUNSTART_USAGE_TIMEOUT_MS, fresh, NULL, NULL) == 0) {
		usage_cache_store(p, ids, fresh, n);
	}
	for (size_t i = 0; i < pl->s.n; i++) {
		const struct account *a = &pl->s.accounts[i];
		if (fresh && k < n && ids[k] == a->id && !fresh[k].error) {
			usage_copy(&pl->u[i], &fresh[k]);
			pl->pa[i].usage = &pl->u[i];
		} else if (a->kind == ACCOUNT_CHATGPT &&
		           usage_cache_load(p, a->id, &pl->u[i]) == 0) {
			pl->pa[i].usage = &pl->u[i];
		}
		k += fresh && k < n && ids[k] == a->id;
	}
	for (size_t i = 0; fresh && i < n; i++) {
		usage_release(&fresh[i]);
	}
	free(fresh);
	free(ids);
}

static int pool_load(const struct paths *p, struct pool *pl)
{
	char err[512];

	memset(pl, 0, sizeof(*pl));
	if (store_load(p, &pl->s, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	pl->pa = calloc(pl->s.n + 1, sizeof(*pl->pa));
	pl->u = calloc(pl->s.n + 1, sizeof(*pl->u));
	pl->labels = calloc(pl->s.n + 1, sizeof(*pl->labels));
	if (!pl->pa || !pl->u || !pl->labels) {
		log_error("out of memory");
		pool_release(pl);
		return -1;
	}
	for (size_t i = 0; i < pl->s.n; i++) {
		const struct account *a = &pl->s.accounts[i];
		usage_init(&pl->u[i]);
		account_label(a, pl->labels[i], sizeof(pl->labels[i]));
		pl->pa[i] = (struct policy_account){
		        .id = a->id,
		        .label = pl->labels[i],
		        .workspace = a->chatgpt_account_id,
		        .chatgpt = a->kind == ACCOUNT_CHATGPT && a->chatgpt_account_id,
		        .disabled = a->disabled,
		        .needs_relogin = a->relogin_reason != NULL,
		        .last_used_at = a->last_used_at / 1000000,
		};
	}
	return 0;
}

static int check_current(const struct pool *pl, long cur)
{
	if (pl->s.n == 0) {
		log_error("no account is stored; run 'codex-switch import <name>' or "
		          "'codex-switch login <name>' first");
		return EXIT_FAIL;
	}
	if (cur >= 0 && pl->s.accounts[cur].kind == ACCOUNT_API_KEY) {
		log_error("the current account '%s' is an API key; runtime switching needs ChatGPT "
		          "accounts: run 'codex-switch switch <chatgpt account>' first",
		          pl->s.accounts[cur].name);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* No usable account at all: start on the current one anyway, the user sees the limit. */
static long fallback(const struct pool *pl, long cur)
{
	for (size_t i = 0; cur < 0 && i < pl->s.n; i++) {
		if (wanted(&pl->s.accounts[i]) && pl->s.accounts[i].chatgpt_account_id) {
			cur = (long)i;
		}
	}
	return cur;
}

int runstart_choose(const struct paths *p, const struct policy_config *c, char *id, size_t idsz)
{
	struct policy_decision d;
	struct pool pl;
	long cur, pick;
	int st;

	if (pool_load(p, &pl)) {
		return EXIT_FAIL;
	}
	cur = authjson_current(p, &pl.s);
	st = check_current(&pl, cur);
	if (st != EXIT_OK) {
		pool_release(&pl);
		return st;
	}
	load_usage(p, &pl);
	policy_decide(c, pl.pa, pl.s.n, cur, POLICY_INITIAL, (int64_t)time(NULL), 0, &d);
	pick = d.action == POLICY_NONE_USABLE ? fallback(&pl, cur) : d.index;
	if (pick < 0) {
		log_error("no stored ChatGPT account can be used; run 'codex-switch login <name>'");
		pool_release(&pl);
		return EXIT_FAIL;
	}
	if (d.action == POLICY_NONE_USABLE) {
		log_warn("every account is at its usage limit (%s); starting on %s", d.reason,
		         pl.labels[pick]);
	} else if (pick != cur) {
		log_info("starting on %s: %s", pl.labels[pick], d.reason);
	}
	snprintf(id, idsz, "%s", pl.s.accounts[pick].id);
	pool_release(&pl);
	return EXIT_OK;
}
