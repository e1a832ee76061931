#include "session/runstart.h"

#include "store/adopt.h"
#include "store/authjson.h"
#include "cli/commands.h"
#include "base/fileio.h"
#include "base/codexver.h"
#include "base/log.h"
#include "base/util.h"
#include "policy/policy_inputs.h"
#include "store/store.h"
#include "net/token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool wanted(const struct account *a)
{
	return a->kind == ACCOUNT_CHATGPT && !a->disabled && !a->relogin_reason;
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

/* The usage the child fetched (all unknown when it gave nothing): the cache fills in. */
static int fetched_usage(struct runstart *rs, struct usage **out, size_t *n)
{
	int r = 0;

	*n = 0;
	*out = calloc(rs->nids + 1, sizeof(**out));
	if (!*out) {
		return -ENOMEM;
	}
	if (rs->child) {
		r = startusage_collect(&rs->usage, *out);
	}
	*n = rs->child && r == 0 ? rs->nids : 0;
	return r == -ECANCELED ? r : 0;
}

static void usages_free(struct usage *u, size_t n)
{
	for (size_t i = 0; u && i < n; i++) {
		usage_release(&u[i]);
	}
	free(u);
}

int runstart_finish(const struct paths *p, const struct policy_config *c, struct runstart *rs)
{
	const struct store *s = &rs->store;
	struct policy_inputs v = {0};
	struct usage *u = NULL;
	size_t nu = 0;
	char blocked[384];
	long pick = rs->cur;
	int st = EXIT_OK, r;

	if (!rs->pending) {
		return EXIT_OK;
	}
	rs->pending = false;
	r = fetched_usage(rs, &u, &nu);
	if (r == -ECANCELED) {
		usages_free(u, rs->nids);
		return EXIT_FAIL; /* the session is stopping */
	}
	if (r || policy_inputs_init(&v, p, s, rs->ids, u, nu)) {
		log_error("out of memory");
		st = EXIT_FAIL;
	}
	if (st == EXIT_OK && current_blocked(c, s, &v, rs->cur, blocked, sizeof(blocked))) {
		pick = choose_other(c, s, &v, rs->cur, blocked, rs);
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
	usages_free(u, rs->nids);
	return st;
}

/* rs->provisional: see runstart.h. */
static bool provisional(const struct paths *p, const struct policy_config *c, struct runstart *rs)
{
	const struct account *a = rs->cur >= 0 ? &rs->store.accounts[rs->cur] : NULL;
	struct policy_inputs v = {0};
	char why[384];
	bool recent, ok;

	rs->provisional[0] = '\0';
	if (!a || !wanted(a) || !a->chatgpt_account_id ||
	    policy_inputs_init(&v, p, &rs->store, NULL, NULL, 0)) {
		return false;
	}
	/* No evidence (a first run, or a cache older than any window) is no reason to wait:
	 * the account the user logged in is the likely choice, and the gate holds the turns. */
	recent = v.e[rs->cur].from_cache &&
	         util_now() - v.e[rs->cur].cached.fetched_at <= RUNSTART_PROVISIONAL_MAX_AGE_S;
	ok = !recent || !current_blocked(c, &rs->store, &v, rs->cur, why, sizeof(why));
	policy_inputs_release(&v);
	if (ok) {
		snprintf(rs->provisional, sizeof(rs->provisional), "%s", a->id);
	}
	return ok;
}

/* Starts the usage queries of every ChatGPT account that does not need a new login. */
static void start_queries(const struct paths *p, struct runstart *rs)
{
	const struct store *s = &rs->store;
	int r;

	rs->ids = calloc(s->n + 1, sizeof(*rs->ids));
	for (size_t i = 0; rs->ids && i < s->n; i++) {
		if (s->accounts[i].kind == ACCOUNT_CHATGPT && !s->accounts[i].relogin_reason) {
			rs->ids[rs->nids++] = s->accounts[i].id;
		}
	}
	if (!rs->nids) {
		return; /* the cache alone */
	}
	r = startusage_spawn(&rs->usage, p, rs->codex_bin, rs->ids, rs->nids,
	                     RUNSTART_USAGE_TIMEOUT_MS, rs->provisional[0] != '\0');
	if (r) {
		log_warn("cannot start the usage queries: %s; choosing from the usage cache",
		         strerror(-r));
		startusage_release(&rs->usage);
		return;
	}
	rs->child = true;
}

int runstart_begin(const struct paths *p, const struct policy_config *c, struct runstart *rs)
{
	struct adopt_result res;
	char err[512];
	int st;

	rs->id[0] = rs->why[0] = rs->adopted[0] = rs->provisional[0] = '\0';
	rs->cur = -1;
	if (adopt_authjson(p, &res)) {
		return EXIT_FAIL;
	}
	snprintf(rs->adopted, sizeof(rs->adopted), "%s", res.message);
	if (store_load(p, &rs->store, err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_FAIL;
	}
	if (rs->pin) {
		return pinned(&rs->store, rs->pin, rs);
	}
	rs->cur = authjson_current(p, &rs->store);
	st = check_current(p, &rs->store, rs->cur);
	if (st == EXIT_OK) {
		rs->pending = true;
		provisional(p, c, rs);
		start_queries(p, rs);
	}
	return st;
}

/* auth.json holds a already, byte for byte and private: writing it again would only cost
 * its fsyncs. */
static bool authjson_holds(const char *path, const struct account *a)
{
	char *want = authjson_to_string(a), *have = NULL;
	struct stat st;
	size_t len = 0;
	bool same = want && stat(path, &st) == 0 && (st.st_mode & 077) == 0 &&
	            fileio_read(path, FILEIO_MAX_JSON, &have, &len) == 0 && len == strlen(want) &&
	            memcmp(have, want, len) == 0;

	util_free_secret(want);
	util_free_secret(have);
	return same;
}

static int tokens(const struct paths *p, const char *id, bool write, struct account *out)
{
	struct account a = {0};
	char err[512];
	int r = token_ensure_fresh(p, id, false, &a, err, sizeof(err));

	if (r) {
		log_error("%s", err);
		return EXIT_FAIL;
	}
	if (!a.chatgpt_account_id) {
		log_error("account '%s' has no ChatGPT account id; run 'codex-switch login %s "
		          "--replace'",
		          a.name, a.name);
		account_release(&a);
		return EXIT_FAIL;
	}
	r = !write || authjson_holds(p->auth_json, &a) ? 0 : authjson_write(p->auth_json, &a);
	if (r) {
		log_error("cannot write '%s': %s; the file was left as it was; check that its "
		          "directory is yours and writable",
		          p->auth_json, strerror(-r));
	}
	if (r == 0 && out) {
		*out = a;
	} else {
		account_release(&a);
	}
	return r ? EXIT_FAIL : EXIT_OK;
}

int runstart_tokens(const struct paths *p, const char *id, struct account *out)
{
	return tokens(p, id, true, out);
}

int runstart_fresh(const struct paths *p, const char *id, struct account *out)
{
	return tokens(p, id, false, out);
}

void runstart_current_tokens(const struct paths *p, const struct runstart *rs)
{
	const struct account *a = rs->cur >= 0 ? &rs->store.accounts[rs->cur] : NULL;

	if (rs->pending && a && wanted(a) && a->chatgpt_account_id &&
	    token_needs_refresh(a, util_now())) {
		runstart_tokens(p, a->id, NULL); /* logged; the chosen account's turn comes next */
	}
}

void runstart_go(struct runstart *rs)
{
	if (rs->child) {
		/* Asked already (the session waited for it before its control connection). */
		startusage_go(&rs->usage, codexver_for_agent());
	}
}

void runstart_settle(struct runstart *rs)
{
	if (rs->child) {
		startusage_settle(&rs->usage);
	}
}

void runstart_cancel(struct runstart *rs)
{
	if (rs->child) {
		startusage_cancel(&rs->usage);
	}
}

void runstart_release(struct runstart *rs)
{
	if (rs->child) {
		startusage_release(&rs->usage);
		rs->child = false;
	}
	free(rs->ids);
	rs->ids = NULL;
	rs->nids = 0;
	store_release(&rs->store);
}
