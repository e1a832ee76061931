#include "session/runstart.h"

#include "store/authjson.h"
#include "cli/commands.h"
#include "base/log.h"
#include "policy/policy_inputs.h"
#include "store/store.h"
#include "store/usage_cache.h"
#include "net/usage_fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool wanted(const struct account *a)
{
	return a->kind == ACCOUNT_CHATGPT && !a->disabled && !a->relogin_reason;
}

/* The usage fetched at start; policy_inputs borrows it, so it lives as long as the view. */
struct fetched {
	const char **ids;
	struct usage *u;
	size_t n;
};

static void fetched_release(struct fetched *f)
{
	for (size_t i = 0; f->u && i < f->n; i++) {
		usage_release(&f->u[i]);
	}
	free(f->u);
	free(f->ids);
}

/* Fresh usage where it comes quickly (cached for later), the cache where it does not. */
static int build_view(const struct paths *p, const struct store *s, struct fetched *f,
                      struct policy_inputs *v)
{
	memset(f, 0, sizeof(*f));
	f->ids = calloc(s->n + 1, sizeof(*f->ids));
	f->u = calloc(s->n + 1, sizeof(*f->u));
	if (!f->ids || !f->u) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (wanted(&s->accounts[i])) {
			f->ids[f->n++] = s->accounts[i].id;
		}
	}
	if (f->n && usage_fetch_all_timeout(p, f->ids, f->n, RUNSTART_USAGE_TIMEOUT_MS, f->u, NULL,
	                                    NULL) == 0) {
		usage_cache_store(p, f->ids, f->u, f->n);
	} else {
		f->n = 0; /* nothing fetched: the cache alone */
	}
	return policy_inputs_init(v, p, s, f->ids, f->u, f->n);
}

static int check_current(const struct store *s, long cur)
{
	if (s->n == 0) {
		log_error("no account is stored; run 'codex-switch import <name>' or "
		          "'codex-switch login <name>' first");
		return EXIT_FAIL;
	}
	if (cur >= 0 && s->accounts[cur].kind == ACCOUNT_API_KEY) {
		log_error("the current account '%s' is an API key; runtime switching needs ChatGPT "
		          "accounts: run 'codex-switch switch <chatgpt account>' first",
		          s->accounts[cur].name);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* No usable account at all: start on the current one anyway, the user sees the limit. */
static long fallback(const struct store *s, long cur)
{
	for (size_t i = 0; cur < 0 && i < s->n; i++) {
		if (wanted(&s->accounts[i]) && s->accounts[i].chatgpt_account_id) {
			cur = (long)i;
		}
	}
	return cur;
}

int runstart_choose(const struct paths *p, const struct policy_config *c, char *id, size_t idsz)
{
	struct policy_decision d;
	struct policy_inputs v = {0};
	struct fetched f = {0};
	struct store s = {0};
	char err[512];
	long cur, pick;
	int st;

	if (store_load(p, &s, err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_FAIL;
	}
	cur = authjson_current(p, &s);
	st = check_current(&s, cur);
	if (st == EXIT_OK && build_view(p, &s, &f, &v)) {
		log_error("out of memory");
		st = EXIT_FAIL;
	}
	if (st != EXIT_OK) {
		fetched_release(&f);
		store_release(&s);
		return st;
	}
	policy_decide(c, v.accounts, v.n, cur, POLICY_INITIAL, (int64_t)time(NULL), 0, &d);
	pick = d.action == POLICY_NONE_USABLE ? fallback(&s, cur) : d.index;
	if (pick < 0) {
		log_error("no stored ChatGPT account can be used; run 'codex-switch login <name>'");
	} else if (d.action == POLICY_NONE_USABLE) {
		log_warn("every account is at its usage limit (%s); starting on %s", d.reason,
		         v.e[pick].label);
	} else if (pick != cur) {
		log_info("starting on %s: %s", v.e[pick].label, d.reason);
	}
	if (pick >= 0) {
		snprintf(id, idsz, "%s", s.accounts[pick].id);
	}
	policy_inputs_release(&v);
	fetched_release(&f);
	store_release(&s);
	return pick >= 0 ? EXIT_OK : EXIT_FAIL;
}
