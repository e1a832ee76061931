#include "session/runstart.h"

#include "store/adopt.h"
#include "store/authjson.h"
#include "cli/commands.h"
#include "base/log.h"
#include "base/util.h"
#include "policy/policy_inputs.h"
#include "store/store.h"
#include "store/usage_cache.h"
#include "net/usage_fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		if (s->accounts[i].kind == ACCOUNT_CHATGPT && !s->accounts[i].relogin_reason) {
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

static int check_current(const struct paths *p, const struct store *s, long cur)
{
	if (s->n == 0) {
		log_error("no account is stored and '%s' holds no ChatGPT login; log in with "
		          "'codex login' (or 'codex-switch login <name>') and run this again",
		          p->auth_json);
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

/* `run --account`: the user's pick for this session, whatever its usage. */
static int pinned(const struct store *s, const char *sel, struct runstart *rs)
{
	char err[2048];
	long i = store_select(s, sel, err, sizeof(err));
	const struct account *a;

	if (i < 0) {
		log_error("--account: %s", err);
		return EXIT_USAGE;
	}
	a = &s->accounts[i];
	if (a->kind != ACCOUNT_CHATGPT) {
		log_error("--account: '%s' is an API key; a session needs a ChatGPT account",
		          a->name);
		return EXIT_FAIL;
	}
	if (a->relogin_reason) {
		log_error("--account: '%s' needs a new login (%s); run 'codex-switch login "
		          "--replace %s'",
		          a->name, a->relogin_reason, a->name);
		return EXIT_FAIL;
	}
	snprintf(rs->id, sizeof(rs->id), "%s", a->id);
	return EXIT_OK;
}

/* Why the account auth.json holds is not started on; "" when it can be. */
static bool current_blocked(const struct policy_config *c, const struct store *s,
                            const struct policy_inputs *v, long cur, char *why, size_t whysz)
{
	const struct account *a;

	if (cur < 0) {
		snprintf(why, whysz, "no stored account is logged in for plain codex");
		return true;
	}
	a = &s->accounts[cur];
	if (a->relogin_reason) {
		snprintf(why, whysz, "%s needs a new login ('codex-switch login --replace %s')",
		         v->e[cur].label, a->name);
		return true;
	}
	if (a->disabled) {
		snprintf(why, whysz,
		         "%s is excluded from automatic switching ('codex-switch enable %s' "
		         "includes it again)",
		         v->e[cur].label, a->name);
		return true;
	}
	return !policy_explain(c, v->accounts, v->n, (size_t)cur, util_now(), why, whysz);
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

/* The policy's start account when the current one cannot be used; rs->why says why. */
static long choose_other(const struct policy_config *c, const struct store *s,
                         const struct policy_inputs *v, long cur, const char *blocked,
                         struct runstart *rs)
{
	struct policy_decision d;
	int64_t now = util_now();
	char desc[384];
	long pick;

	policy_decide(c, v->accounts, v->n, cur, POLICY_HARD, now, 0, &d);
	if (d.action == POLICY_SWITCH) {
		policy_explain(c, v->accounts, v->n, (size_t)d.index, now, desc, sizeof(desc));
		snprintf(rs->why, sizeof(rs->why), "starting on %.200s: %.260s; %.260s",
		         v->e[d.index].label, blocked, desc);
		return d.index;
	}
	pick = fallback(s, cur);
	if (pick >= 0) {
		snprintf(rs->why, sizeof(rs->why),
		         "starting on %.200s although no account can be used now: %.500s",
		         v->e[pick].label, d.reason);
	}
	return pick;
}

static int choose(const struct paths *p, const struct policy_config *c, const struct store *s,
                  struct runstart *rs)
{
	struct policy_inputs v = {0};
	struct fetched f = {0};
	char blocked[384];
	long cur = authjson_current(p, s), pick = cur;
	int st = check_current(p, s, cur);

	if (st == EXIT_OK && build_view(p, s, &f, &v)) {
		log_error("out of memory");
		st = EXIT_FAIL;
	}
	if (st == EXIT_OK && current_blocked(c, s, &v, cur, blocked, sizeof(blocked))) {
		pick = choose_other(c, s, &v, cur, blocked, rs);
	}
	if (st == EXIT_OK && pick < 0) {
		log_error("no stored ChatGPT account can be used; run 'codex-switch login <name>'");
		st = EXIT_FAIL;
	} else if (st == EXIT_OK) {
		snprintf(rs->id, sizeof(rs->id), "%s", s->accounts[pick].id);
		if (rs->why[0]) {
			log_info("%s", rs->why);
		}
	}
	policy_inputs_release(&v);
	fetched_release(&f);
	return st;
}

int runstart_choose(const struct paths *p, const struct policy_config *c, struct runstart *rs)
{
	struct adopt_result res;
	struct store s = {0};
	char err[512];
	int st;

	rs->id[0] = rs->why[0] = rs->adopted[0] = '\0';
	if (adopt_authjson(p, &res)) {
		return EXIT_FAIL;
	}
	snprintf(rs->adopted, sizeof(rs->adopted), "%s", res.message);
	if (store_load(p, &s, err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_FAIL;
	}
	st = rs->pin ? pinned(&s, rs->pin, rs) : choose(p, c, &s, rs);
	store_release(&s);
	return st;
}
