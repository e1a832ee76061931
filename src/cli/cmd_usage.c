/* `codex-switch usage`: the usage limits of one or all accounts, from the ChatGPT backend. */
#include "store/account.h"
#include "store/authjson.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "base/log.h"
#include "policy/policy_inputs.h"
#include "store/store.h"
#include "policy/usage.h"
#include "store/usage_cache.h"
#include "net/usage_fetch.h"
#include "cli/usage_view.h"
#include "base/util.h"
#include "cli/forecast_view.h"
#include "net/credits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct usage_opts {
	bool all;
	bool json;
	const char *selector;
};

enum { USAGE_ALL };

static const struct cli_option usage_options[] = {
        [USAGE_ALL] = {"all", 0, NULL, "every account (fetched concurrently)"},
        {0},
};

static const struct cli_spec usage_spec = {
        .name = "usage",
        .synopsis = "[<account>] [--all] [--json]",
        .about = "Shows the 5-hour and weekly usage limits, credits and additional limits of the\n"
                 "current account (the one in $CODEX_HOME/auth.json), of <account> (a name, id,\n"
                 "id prefix or email), or of every ChatGPT account with --all. Tokens that expire\n"
                 "soon are refreshed first. 'next' marks the account automatic switching would\n"
                 "choose if the current one stopped now. Rate-limit reset credits are shown with\n"
                 "the first expiry (spend one with 'codex-switch reset-usage'). --all ends with a\n"
                 "pool forecast: at the pace of the last 2 hours, when the enabled accounts run\n"
                 "dry and when capacity comes back (it needs usage fetched twice, at least 10\n"
                 "minutes apart).\n\n",
        .example = "codex-switch usage --all",
        .flags = CLI_JSON,
        .options = usage_options,
        .min_pos = 0,
        .max_pos = 1,
};

static int parse_opts(int argc, char **argv, struct usage_opts *o)
{
	struct cli_args args;
	int st = cli_parse(&usage_spec, argc, argv, &args);

	memset(o, 0, sizeof(*o));
	if (st >= 0) {
		return st;
	}
	o->all = args.opt[USAGE_ALL] != NULL;
	o->json = args.json;
	o->selector = args.npos ? args.pos[0] : NULL;
	if (o->all && o->selector) {
		return cli_usage_error(&usage_spec, "give one account or --all");
	}
	return -1;
}

/* Picks the accounts to show: all, the named one, or the current one. */
static int pick(const struct paths *p, const struct store *s, const struct usage_opts *o,
                const char ***ids, size_t *n)
{
	long i = -1;

	*n = 0;
	*ids = calloc(s->n ? s->n : 1, sizeof(**ids));
	if (!*ids) {
		return -ENOMEM;
	}
	if (o->all) {
		for (size_t k = 0; k < s->n; k++) {
			(*ids)[(*n)++] = s->accounts[k].id;
		}
		return 0;
	}
	i = o->selector ? cli_select(s, o->selector) : authjson_current(p, s);
	if (i < 0 && !o->selector) {
		log_error("'%s' holds no stored account; name one: codex-switch usage <account>",
		          p->auth_json);
	}
	if (i < 0) {
		return -ENOENT;
	}
	(*ids)[(*n)++] = s->accounts[i].id;
	return 0;
}

/* /wham/usage counts reset credits; their list says when the first expires (best effort). */
static void add_credit_expiry(const struct paths *p, const char **ids, size_t n, struct usage *out)
{
	struct credits_info ci;
	char err[1024];

	for (size_t i = 0; i < n; i++) {
		if (out[i].error || out[i].reset_credits_available <= 0) {
			continue;
		}
		if (credits_fetch(p, ids[i], CREDITS_LIST_TIMEOUT_MS, &ci, err, sizeof(err)) == 0) {
			out[i].reset_credits_expire_at = ci.earliest_expiry;
		} else {
			log_debug("cannot list reset credits: %s", err);
		}
	}
}

static int fetch(const struct paths *p, const struct usage_opts *o, const char **ids, size_t n,
                 struct usage *out)
{
	char err[2048];
	int rc = 0;

	/* Failures are in out[i].error, shown once with the account they belong to. */
	if (n == 1) {
		usage_fetch(p, ids[0], &out[0], err, sizeof(err));
	} else {
		rc = usage_fetch_all(p, ids, n, out,
		                     !o->json && isatty(STDERR_FILENO) ? usage_view_progress : NULL,
		                     NULL);
	}
	if (rc == 0) {
		add_credit_expiry(p, ids, n, out);
	}
	return rc;
}

/* The pool forecast of --all (after the fetch went into the cache history). */
static cJSON *forecast(const struct paths *p, const struct store *s, const struct usage_opts *o,
                       const char **ids, const struct usage *u, size_t n)
{
	struct forecast fc;
	int64_t now = util_now();

	if (!o->all || n == 0 || forecast_view_compute(p, s, ids, u, n, now, &fc) < 0) {
		return NULL;
	}
	if (!o->json) {
		forecast_view_print(stdout, &fc, now);
		return NULL;
	}
	return forecast_view_json(&fc, now);
}

static int show(const struct paths *p, const struct usage_opts *o, const char **ids, size_t n,
                const struct usage *u)
{
	struct store s = {0};
	const char *next_id = NULL;
	int failed = 0;
	long next;

	/* Reload: a refresh on the way may have changed the email or plan. */
	if (cli_load_store(p, &s)) {
		return EXIT_FAIL;
	}
	next = policy_inputs_next(p, &s, authjson_current(p, &s), ids, u, n);
	next_id = next >= 0 ? s.accounts[next].id : NULL;
	for (size_t i = 0; i < n; i++) {
		if (u[i].error && strcmp(u[i].error, USAGE_UNSUPPORTED) != 0) {
			log_error("%s", u[i].error);
			failed = 1;
		}
	}
	if (o->json) {
		usage_view_print_json(stdout, &s, ids, u, n, next_id,
		                      forecast(p, &s, o, ids, u, n));
	} else {
		for (size_t i = 0; i < n; i++) {
			long k = store_find_id(&s, ids[i]);
			usage_view_print(stdout, k >= 0 ? &s.accounts[k] : NULL, &u[i], util_now(),
			                 next_id && strcmp(ids[i], next_id) == 0);
		}
		forecast(p, &s, o, ids, u, n);
	}
	store_release(&s);
	return failed ? EXIT_FAIL : EXIT_OK;
}

int cmd_usage(int argc, char **argv)
{
	struct usage_opts o;
	struct paths p;
	struct store s = {0};
	struct usage *u = NULL;
	const char **ids = NULL;
	size_t n = 0;
	int st = parse_opts(argc, argv, &o);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = EXIT_FAIL;
	if (cli_load_store(&p, &s) == 0 && pick(&p, &s, &o, &ids, &n) == 0) {
		u = calloc(n ? n : 1, sizeof(*u));
		if (u && fetch(&p, &o, ids, n, u) == 0) {
			usage_cache_store(&p, ids, u, n);
			st = show(&p, &o, ids, n, u);
		}
	}
	for (size_t i = 0; u && i < n; i++) {
		usage_release(&u[i]);
	}
	if (o.all && n == 0 && st == EXIT_OK && !o.json) {
		printf("no accounts stored; add one with 'codex-switch login <name>'\n");
	}
	free(u);
	free(ids);
	store_release(&s);
	paths_release(&p);
	return st;
}
