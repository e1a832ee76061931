/* `codex-switch list`: the stored accounts, grouped by email, as a table or as JSON. */
#include "store/authjson.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "base/log.h"
#include "base/termsafe.h"
#include "policy/policy_inputs.h"
#include "cli/term.h"
#include "store/usage_cache.h"
#include "cli/usage_view.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_SCHEMA_VERSION 1
#define LIST_NAME_WIDTH_MAX 24
#define LIST_FIELD          128

static const struct cli_spec list_spec = {
        .name = "list",
        .synopsis = "[--json]",
        .about = "Lists the stored accounts, grouped by email. '*' marks the account Codex uses\n"
                 "now (the one in $CODEX_HOME/auth.json); 'next' marks the account automatic\n"
                 "switching would choose if the current one stopped now (judged from the\n"
                 "cached usage: run 'codex-switch usage --all' to refresh it). '+N resets'\n"
                 "counts the rate-limit reset credits of an account ('codex-switch\n"
                 "reset-usage' spends one).\n\n",
        .example = "codex-switch list --json",
        .flags = CLI_JSON,
        .min_pos = 0,
        .max_pos = 0,
};

static void format_ago(int64_t us, char *out, size_t outsz)
{
	long d;

	if (!us) {
		snprintf(out, outsz, "never");
		return;
	}
	d = (long)(util_now() - us / 1000000);
	if (d < 60) {
		snprintf(out, outsz, "just now");
	} else if (d < 3600) {
		snprintf(out, outsz, "%ldm ago", d / 60);
	} else if (d < 86400) {
		snprintf(out, outsz, "%ldh ago", d / 3600);
	} else {
		snprintf(out, outsz, "%ldd ago", d / 86400);
	}
}

static int name_width(const struct store *s)
{
	size_t w = 4;

	for (size_t i = 0; i < s->n; i++) {
		size_t len = strlen(s->accounts[i].name);
		w = len > w ? len : w;
	}
	return (int)(w > LIST_NAME_WIDTH_MAX ? LIST_NAME_WIDTH_MAX : w);
}

/* The usage cache, read once (with its history it is tens of KB): the last usage `usage`
 * fetched for each account. No network in `list`. */
struct cached {
	struct usage *all;
	bool *have;
	size_t n;
};

static const struct usage *cached_get(const struct cached *c, size_t i)
{
	return i < c->n && c->have[i] ? &c->all[i] : NULL;
}

static void cached_usage(const struct usage *u, char *out, size_t outsz)
{
	snprintf(out, outsz, "-");
	if (!u) {
		return;
	}
	usage_view_summary(u, out, outsz);
	if (u->reset_credits_available > 0) {
		size_t len = strlen(out);
		snprintf(out + len, outsz - len, " +%ld reset%s", u->reset_credits_available,
		         u->reset_credits_available == 1 ? "" : "s");
	}
}

/* The cached reset credits ("reset_credits" in list --json): count and first expiry, or null
 * when nothing is cached. */
static bool add_cached_credits(const struct usage *u, cJSON *o)
{
	cJSON *c;

	if (!u || u->reset_credits_available < 0) {
		return cJSON_AddNullToObject(o, "reset_credits") != NULL;
	}
	c = cJSON_AddObjectToObject(o, "reset_credits");
	return c && cJSON_AddNumberToObject(c, "available", (double)u->reset_credits_available) &&
	       cJSON_AddItemToObject(
	               c, "first_expires_at",
	               u->reset_credits_expire_at > 0
	                       ? cJSON_CreateNumber((double)u->reset_credits_expire_at)
	                       : cJSON_CreateNull());
}

static void print_row(const struct usage *u, const struct account *a, bool current, bool next,
                      int width)
{
	char name[LIST_FIELD], id8[9], plan[LIST_FIELD], ws[9], ago[32], usage[64], line[1024];
	bool api = a->kind == ACCOUNT_API_KEY;

	termsafe_copy(name, sizeof(name), a->name, LIST_NAME_WIDTH_MAX);
	termsafe_copy(id8, sizeof(id8), a->id, 8);
	termsafe_copy(plan, sizeof(plan), a->plan_type ? a->plan_type : "-", 12);
	termsafe_copy(ws, sizeof(ws), a->chatgpt_account_id ? a->chatgpt_account_id : "-", 8);
	format_ago(a->last_used_at, ago, sizeof(ago));
	cached_usage(u, usage, sizeof(usage));
	/* One line, clipped to the terminal width: a table that wraps is no table. */
	snprintf(line, sizeof(line), "  %s%c%s %-*s  %-8s  %-12s  %-7s  %-9s  %-9s  %s%s%s%s%s%s",
	         term_sgr(stdout, TERM_GREEN), current ? '*' : ' ', term_sgr(stdout, TERM_RESET),
	         width, name, id8, plan, api ? "api key" : "chatgpt", api ? "-" : ws, ago, usage,
	         next ? "  next" : "", term_sgr(stdout, a->relogin_reason ? TERM_RED : TERM_DIM),
	         a->disabled ? "  disabled" : "", a->relogin_reason ? "  needs login" : "",
	         term_sgr(stdout, TERM_RESET));
	term_put_line(stdout, line);
}

static bool same_email(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

/* True when an account before index i has the same email (its group is printed already). */
static bool seen_email(const struct store *s, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (same_email(s->accounts[j].email, s->accounts[i].email)) {
			return true;
		}
	}
	return false;
}

static void print_table(const struct cached *u, const struct store *s, long current, long next)
{
	char email[LIST_FIELD], head[512];
	int width = name_width(s);

	snprintf(head, sizeof(head), "%s    %-*s  %-8s  %-12s  %-7s  %-9s  %-9s  %s%s",
	         term_sgr(stdout, TERM_BOLD), width, "NAME", "ID", "PLAN", "AUTH", "WORKSPACE",
	         "LAST USED", "USAGE (cached)", term_sgr(stdout, TERM_RESET));
	term_put_line(stdout, head);
	for (size_t i = 0; i < s->n; i++) {
		if (seen_email(s, i)) {
			continue;
		}
		termsafe_copy(email, sizeof(email), s->accounts[i].email, sizeof(email) - 1);
		term_put_line(stdout, s->accounts[i].email ? email : "(no email)");
		for (size_t j = i; j < s->n; j++) {
			if (same_email(s->accounts[j].email, s->accounts[i].email)) {
				print_row(cached_get(u, j), &s->accounts[j], (long)j == current,
				          (long)j == next, width);
			}
		}
	}
}

static cJSON *json_string_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *json_seconds_or_null(int64_t us)
{
	return us ? cJSON_CreateNumber((double)(us / 1000000)) : cJSON_CreateNull();
}

/* One account without any secret: only the fields listed here ever reach the output. */
static cJSON *account_json(const struct account *a, bool current, bool next)
{
	cJSON *o = cJSON_CreateObject();
	char id8[9];
	bool ok;

	termsafe_copy(id8, sizeof(id8), a->id, 8);
	ok = o && cJSON_AddStringToObject(o, "id", a->id) &&
	     cJSON_AddStringToObject(o, "short_id", id8) &&
	     cJSON_AddStringToObject(o, "name", a->name) &&
	     cJSON_AddItemToObject(o, "email", json_string_or_null(a->email)) &&
	     cJSON_AddItemToObject(o, "plan_type", json_string_or_null(a->plan_type)) &&
	     cJSON_AddStringToObject(o, "auth_mode",
	                             a->kind == ACCOUNT_API_KEY ? "api_key" : "chatgpt") &&
	     cJSON_AddItemToObject(o, "chatgpt_account_id",
	                           json_string_or_null(a->chatgpt_account_id)) &&
	     cJSON_AddBoolToObject(o, "auto_switch_disabled", a->disabled) &&
	     cJSON_AddBoolToObject(o, "needs_relogin", a->relogin_reason != NULL) &&
	     cJSON_AddBoolToObject(o, "current", current) &&
	     cJSON_AddBoolToObject(o, "next", next) &&
	     cJSON_AddBoolToObject(o, "chatgpt_account_is_fedramp", a->fedramp) &&
	     cJSON_AddItemToObject(o, "created_at", json_seconds_or_null(a->created_at)) &&
	     cJSON_AddItemToObject(o, "last_used_at", json_seconds_or_null(a->last_used_at)) &&
	     cJSON_AddItemToObject(o, "token_last_refresh_at",
	                           json_seconds_or_null(a->token_last_refresh_at)) &&
	     cJSON_AddItemToObject(o, "subscription_expires_at",
	                           json_seconds_or_null(a->subscription_expires_at));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int print_json(const struct cached *u, const struct store *s, long current, long next)
{
	cJSON *top = cJSON_CreateObject(), *list;
	int r;
	bool ok = top && cJSON_AddNumberToObject(top, "schema_version", LIST_SCHEMA_VERSION) &&
	          cJSON_AddStringToObject(top, "command", "list");

	list = ok ? cJSON_AddArrayToObject(top, "accounts") : NULL;
	for (size_t i = 0; list && i < s->n; i++) {
		cJSON *one = account_json(&s->accounts[i], (long)i == current, (long)i == next);
		if (!one || !add_cached_credits(cached_get(u, i), one) ||
		    !cJSON_AddItemToArray(list, one)) {
			cJSON_Delete(one);
			list = NULL;
		}
	}
	r = cli_print_json(list ? top : NULL); /* no list: out of memory building it */
	cJSON_Delete(top);
	return r;
}

int cmd_list(int argc, char **argv)
{
	struct cli_args args;
	struct store s;
	struct paths p;
	struct cached u = {0};
	long current = -1, next = -1;
	int st = cli_parse(&list_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = cli_load_store(&p, &s);
	if (st == EXIT_OK) {
		current = authjson_current(&p, &s);
		next = policy_inputs_next(&p, &s, current, NULL, NULL, 0);
		u.n = usage_cache_load_store(&p, &s, &u.all, &u.have) == 0 ? s.n : 0;
	}
	if (st == EXIT_OK && args.json) {
		st = print_json(&u, &s, current, next);
	} else if (st == EXIT_OK && s.n == 0) {
		printf("no accounts yet: run 'codex-switch import <name>' to store the account Codex "
		       "is logged in with, or 'codex-switch login <name>' to log in to a new one\n");
	} else if (st == EXIT_OK) {
		print_table(&u, &s, current, next);
	}
	usage_cache_free_all(u.all, u.have, u.n);
	store_release(&s);
	paths_release(&p);
	return st;
}
