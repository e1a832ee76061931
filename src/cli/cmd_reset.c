/*
 * `codex-switch reset-usage`: spends one rate-limit reset credit of an account, after the
 * user said yes. A credit is scarce and cannot be given back, so without a terminal to ask
 * on, only --yes spends it.
 */
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/usage_view.h"
#include "base/log.h"
#include "base/util.h"
#include "net/credits.h"
#include "net/usage_fetch.h"
#include "store/authjson.h"
#include "store/usage_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const struct cli_spec reset_spec = {
        .name = "reset-usage",
        .synopsis = "[<account>] [--yes]",
        .about = "Spends one rate-limit reset credit of <account> (a name, id, id prefix or\n"
                 "email; default: the current account, the one in $CODEX_HOME/auth.json).\n"
                 "ChatGPT grants such credits to some accounts; one resets the usage windows\n"
                 "of the account. 'codex-switch usage' shows how many an account has and when\n"
                 "the first expires. A credit cannot be given back: the command asks first on\n"
                 "a terminal, and without one it refuses unless --yes is given. Exit status\n"
                 "0 when windows were reset (or nothing needed a reset; the credit is kept),\n"
                 "1 otherwise.\n\n",
        .example = "codex-switch reset-usage work",
        .flags = CLI_YES,
        .yes_help = "spend the credit without asking",
        .min_pos = 0,
        .max_pos = 1,
};

/* The stored account to reset, by selector or auth.json; copies its id and label. */
static int pick(const struct paths *p, const char *selector, char *id, size_t idsz, char *label,
                size_t labelsz)
{
	struct store s = {0};
	long i;

	if (cli_load_store(p, &s)) {
		return EXIT_FAIL;
	}
	i = selector ? cli_select(&s, selector) : authjson_current(p, &s);
	if (i < 0 && !selector) {
		log_error(
		        "'%s' holds no stored account; name one: codex-switch reset-usage <account>",
		        p->auth_json);
	}
	if (i >= 0 && s.accounts[i].kind != ACCOUNT_CHATGPT) {
		account_label(&s.accounts[i], label, labelsz);
		log_error("%s is an API-key account: API keys have no usage windows to reset",
		          label);
		i = -1;
	}
	if (i >= 0) {
		snprintf(id, idsz, "%s", s.accounts[i].id);
		account_label(&s.accounts[i], label, labelsz);
	}
	store_release(&s);
	return i >= 0 ? EXIT_OK : EXIT_FAIL;
}

/* The usage now, for the user to judge what a credit would give back; also cached. */
static void show_usage(const struct paths *p, const char *id, const char *label, const char *when)
{
	struct usage u;
	char err[1024], line[128];

	if (usage_fetch(p, id, &u, err, sizeof(err)) == 0) {
		usage_cache_store(p, &id, &u, 1);
		usage_view_summary(&u, line, sizeof(line));
		printf("current usage of %s: %s\n", label, line);
	} else {
		log_warn("cannot fetch the usage of %s: %s", label, err);
	}
	usage_release(&u);
}

/* The usage credits_consume fetched into the cache after a reset. */
static void show_cached(const struct paths *p, const char *id, const char *label)
{
	struct usage u;
	char line[128];

	if (usage_cache_load(p, id, &u) == 0) {
		usage_view_summary(&u, line, sizeof(line));
		printf("new usage of %s: %s\n", label, line);
	}
	usage_release(&u);
}

static int list_credits(const struct paths *p, const char *id, const char *label)
{
	struct credits_info ci;
	char err[1024], when[128] = "";
	const char *exp = "";

	if (credits_fetch(p, id, CREDITS_LIST_TIMEOUT_MS, &ci, err, sizeof(err)) < 0) {
		log_error("cannot list the reset credits of %s: %s", label, err);
		return EXIT_FAIL;
	}
	if (ci.available <= 0) {
		log_error("%s has no reset credit; nothing was spent", label);
		return EXIT_FAIL;
	}
	if (ci.earliest_expiry) {
		/* "resets 14:05 (in 2h 3m)": the time and the countdown */
		usage_view_reset(ci.earliest_expiry, util_now(), when, sizeof(when));
		exp = util_starts_with(when, "resets ") ? when + 7 : "";
	}
	printf("%s has %ld reset credit%s%s%s\n", label, ci.available, ci.available == 1 ? "" : "s",
	       exp[0] ? "; the first expires " : "", exp);
	return EXIT_OK;
}

static bool confirmed(const char *label, bool yes)
{
	char line[32];

	if (yes) {
		return true;
	}
	if (!isatty(STDIN_FILENO)) {
		log_error(
		        "refusing to spend a reset credit of %s without confirmation: run this on a "
		        "terminal, or pass --yes",
		        label);
		return false;
	}
	fprintf(stderr, "Spend one reset credit of %s now? It cannot be given back. [y/N] ", label);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin)) {
		line[0] = '\0';
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (strcasecmp(line, "y") != 0 && strcasecmp(line, "yes") != 0) {
		fprintf(stderr, "nothing was spent\n");
		return false;
	}
	return true;
}

static int consume(const struct paths *p, const char *id, const char *label)
{
	struct credits_result r;
	char err[1024], what[128];
	const char *text;

	if (credits_consume(p, id, &r, err, sizeof(err)) < 0) {
		log_error("cannot spend a reset credit of %s: %s", label, err);
		return EXIT_FAIL;
	}
	text = credits_describe(&r, what, sizeof(what));
	if (r.code == CREDITS_RESET) {
		printf("%s: %s\n", label, text);
		show_cached(p, id, label);
		return EXIT_OK;
	}
	if (r.code == CREDITS_NOTHING_TO_RESET) {
		printf("%s: %s\n", label, text);
		return EXIT_OK;
	}
	log_error("%s: %s", label, text);
	return EXIT_FAIL;
}

int cmd_reset_usage(int argc, char **argv)
{
	struct cli_args args;
	struct paths p;
	char id[128], label[256];
	int st = cli_parse(&reset_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = pick(&p, args.npos ? args.pos[0] : NULL, id, sizeof(id), label, sizeof(label));
	if (st == EXIT_OK) {
		st = list_credits(&p, id, label);
	}
	if (st == EXIT_OK) {
		show_usage(&p, id, label, "current");
		st = confirmed(label, args.yes) ? consume(&p, id, label) : EXIT_FAIL;
	}
	paths_release(&p);
	return st;
}
