/*
 * `codex-switch auto-switch`: the policy's choice (README "Policy") for plain `codex`. Usage
 * is fetched for every enabled ChatGPT account, the policy runs in its INITIAL mode for the
 * account in auth.json, and a switch is committed exactly as `switch` commits one.
 */
#include "store/activate.h"
#include "store/adopt.h"
#include "store/authjson.h"
#include "doctor/codexproc.h"
#include "net/credits.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "base/log.h"
#include "policy/policy_inputs.h"
#include "store/usage_cache.h"
#include "net/usage_fetch.h"
#include "cli/usage_view.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AUTOSWITCH_SCHEMA_VERSION 1

static const struct cli_spec autoswitch_spec = {
        .name = "auto-switch",
        .synopsis = "[--dry-run] [--json]",
        .about = "Fetches the usage of every enabled ChatGPT account and makes the account the\n"
                 "policy chooses current for plain 'codex' (see README \"Policy\"). The current\n"
                 "account stays unless it cannot go on or another one is clearly better. When a\n"
                 "fetch fails, the cached usage of that account is used. A switch is committed\n"
                 "like 'codex-switch switch'. Exit status 0 when the account was kept or\n"
                 "switched; 1 when no account is usable (the earliest reset is shown) or on an\n"
                 "error. Thresholds: $CODEX_SWITCH_HOME/config.json. Like 'switch', it\n"
                 "refuses to switch while a plain 'codex' runs under the same $CODEX_HOME.\n\n",
        .example = "codex-switch auto-switch --dry-run",
        .flags = CLI_JSON | CLI_DRY_RUN | CLI_FORCE,
        .force_help = "switch even while a plain codex runs under $CODEX_HOME",
        .min_pos = 0,
        .max_pos = 0,
};

struct autoswitch {
	struct paths p;
	struct store s;
	struct cli_args args;
	struct policy_config c;
	const char **ids; /* borrowed from s */
	struct usage *u;  /* owned, one per ids[] */
	size_t n;
	long current;
	struct policy_inputs v;
	struct policy_decision d;
	int64_t now;
};

/* Accounts the policy may choose, and the current one, which it judges. */
static bool wanted(const struct account *a, bool current)
{
	return a->kind == ACCOUNT_CHATGPT && !a->relogin_reason && (!a->disabled || current);
}

static int fetch(struct autoswitch *x)
{
	x->ids = calloc(x->s.n, sizeof(*x->ids));
	x->u = calloc(x->s.n, sizeof(*x->u));
	if (!x->ids || !x->u) {
		log_error("cannot fetch usage: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < x->s.n; i++) {
		if (wanted(&x->s.accounts[i], (long)i == x->current)) {
			x->ids[x->n++] = x->s.accounts[i].id;
		}
	}
	if (usage_fetch_all(&x->p, x->ids, x->n, x->u,
	                    !x->args.json && isatty(STDERR_FILENO) ? usage_view_progress : NULL,
	                    NULL)) {
		log_error("cannot fetch usage: the worker threads could not start");
		return -EAGAIN;
	}
	if (!x->args.dry_run) {
		usage_cache_store(&x->p, x->ids, x->u, x->n);
	}
	return 0;
}

/* Says which accounts are judged on the cache, or on nothing, because their fetch failed. */
static void report_fallbacks(const struct autoswitch *x)
{
	char ago[32];

	for (size_t i = 0; i < x->v.n; i++) {
		const struct policy_inputs_entry *e = &x->v.e[i];
		if (!e->fetch_error) {
			continue;
		}
		if (e->from_cache) {
			util_format_countdown(x->now - e->cached.fetched_at, ago, sizeof(ago));
			log_warn(
			        "cannot fetch the usage of %s (%s); using its cached usage from %s ago",
			        e->label, e->fetch_error, ago);
		} else {
			log_warn(
			        "cannot fetch the usage of %s (%s) and none is cached; it counts as "
			        "unknown",
			        e->label, e->fetch_error);
		}
	}
}

static cJSON *account_ref(const struct autoswitch *x, long i)
{
	cJSON *o;
	char short_id[9];

	if (i < 0 || (size_t)i >= x->s.n) {
		return cJSON_CreateNull();
	}
	o = cJSON_CreateObject();
	snprintf(short_id, sizeof(short_id), "%s", x->s.accounts[i].id);
	cJSON_AddStringToObject(o, "id", x->s.accounts[i].id);
	cJSON_AddStringToObject(o, "short_id", short_id);
	cJSON_AddStringToObject(o, "name", x->s.accounts[i].name);
	return o;
}

static const char *decision_name(enum policy_action a)
{
	return a == POLICY_KEEP ? "keep" : a == POLICY_SWITCH ? "switch" : "none_usable";
}

static void print_json(const struct autoswitch *x, bool switched)
{
	const struct policy_decision *d = &x->d;
	cJSON *o = cJSON_CreateObject();
	char *text;

	cJSON_AddNumberToObject(o, "schema_version", AUTOSWITCH_SCHEMA_VERSION);
	cJSON_AddStringToObject(o, "command", "auto-switch");
	cJSON_AddBoolToObject(o, "dry_run", x->args.dry_run);
	cJSON_AddStringToObject(o, "decision", decision_name(d->action));
	cJSON_AddBoolToObject(o, "switched", switched);
	cJSON_AddItemToObject(o, "from", account_ref(x, x->current));
	cJSON_AddItemToObject(o, "to",
	                      account_ref(x, d->action == POLICY_NONE_USABLE ? -1 : d->index));
	cJSON_AddStringToObject(o, "reason", d->reason);
	cJSON_AddItemToObject(o, "retry_at",
	                      d->retry_at ? cJSON_CreateNumber((double)d->retry_at)
	                                  : cJSON_CreateNull());
	text = cJSON_Print(o);
	if (text) {
		printf("%s\n", text);
	}
	free(text);
	cJSON_Delete(o);
}

static const char *label_at(const struct autoswitch *x, long i)
{
	return i >= 0 && (size_t)i < x->v.n ? x->v.e[i].label : "no account";
}

/* Carries out the decision; returns the exit status. */
static int act(struct autoswitch *x)
{
	const struct policy_decision *d = &x->d;
	bool switched = false;
	int st = EXIT_OK;

	if (d->action == POLICY_SWITCH && !x->args.dry_run &&
	    codexproc_guard(x->p.codex_home, x->args.force, "switch") < 0) {
		return EXIT_FAIL;
	}
	if (d->action == POLICY_SWITCH && !x->args.dry_run) {
		st = activate_account(&x->p, x->s.accounts[d->index].id, NULL, 0) ? EXIT_FAIL
		                                                                  : EXIT_OK;
		switched = st == EXIT_OK;
	}
	if (d->action == POLICY_NONE_USABLE) {
		char hint[512];

		credits_hint(&x->p, &x->s, hint, sizeof(hint)); /* a way out before the reset */
		/* The reason already says when the first account is free again. */
		log_error("no usable account: %s%s%s%s", d->reason,
		          d->retry_at ? "" : "; check 'codex-switch usage --all'",
		          hint[0] ? ". " : "", hint);
		st = EXIT_FAIL;
	}
	if (x->args.json) {
		print_json(x, switched);
	} else if (d->action == POLICY_KEEP) {
		printf("kept %s: %s\n", label_at(x, d->index), d->reason);
	} else if (d->action == POLICY_SWITCH && x->args.dry_run) {
		printf("would switch from %s to %s: %s\n", label_at(x, x->current),
		       label_at(x, d->index), d->reason);
	} else if (switched) {
		printf("switched from %s to %s: %s; wrote '%s'\n", label_at(x, x->current),
		       label_at(x, d->index), d->reason, x->p.auth_json);
	}
	return st;
}

static int run(struct autoswitch *x)
{
	struct adopt_result res;

	/* A login made with 'codex login' is the user's current choice: store it, then judge it. */
	if (!x->args.dry_run && adopt_authjson(&x->p, &res)) {
		return EXIT_FAIL;
	}
	if (policy_inputs_config(&x->p, &x->c) || cli_load_store(&x->p, &x->s)) {
		return EXIT_FAIL;
	}
	if (x->s.n == 0) {
		log_error("no accounts stored; add one with 'codex-switch login <name>' or "
		          "'codex-switch import <name>'");
		return EXIT_FAIL;
	}
	x->current = authjson_current(&x->p, &x->s);
	if (fetch(x)) {
		return EXIT_FAIL;
	}
	if (policy_inputs_init(&x->v, &x->p, &x->s, x->ids, x->u, x->n)) {
		log_error("cannot decide: out of memory");
		return EXIT_FAIL;
	}
	x->now = util_now();
	report_fallbacks(x);
	policy_decide(&x->c, x->v.accounts, x->v.n, x->current, POLICY_INITIAL, x->now, 0, &x->d);
	return act(x);
}

int cmd_auto_switch(int argc, char **argv)
{
	struct autoswitch x = {.current = -1};
	int st = cli_parse(&autoswitch_spec, argc, argv, &x.args);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&x.p)) {
		return EXIT_FAIL;
	}
	st = run(&x);
	policy_inputs_release(&x.v);
	for (size_t i = 0; x.u && i < x.n; i++) {
		usage_release(&x.u[i]);
	}
	free(x.u);
	free(x.ids);
	store_release(&x.s);
	paths_release(&x.p);
	return st;
}
