/* The commands that edit the store without touching credentials: rename, delete, enable, disable.
 */
#include "store/authjson.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_LEN 1024

static const struct cli_spec rename_spec = {
        .name = "rename",
        .synopsis = "<account> <new-name>",
        .about = "Gives an account a new name. Names are unique.\n\n",
        .example = "codex-switch rename work work-old",
        .min_pos = 2,
        .max_pos = 2,
};

static const struct cli_spec delete_spec = {
        .name = "delete",
        .synopsis = "<account>",
        .about = "Deletes an account from the store, without asking. $CODEX_HOME/auth.json is\n"
                 "left as it is.\n\n",
        .example = "codex-switch delete old-work",
        .min_pos = 1,
        .max_pos = 1,
};

static const struct cli_spec enable_spec = {
        .name = "enable",
        .synopsis = "<account>",
        .about = "Lets 'codex-switch run' switch to this account when another one reaches its\n"
                 "usage limit (the default).\n\n",
        .example = "codex-switch enable personal",
        .min_pos = 1,
        .max_pos = 1,
};

static const struct cli_spec disable_spec = {
        .name = "disable",
        .synopsis = "<account>",
        .about = "Keeps 'codex-switch run' from switching to this account automatically. You\n"
                 "can still use it with 'codex-switch switch'.\n\n",
        .example = "codex-switch disable personal",
        .min_pos = 1,
        .max_pos = 1,
};

struct edit_ctx {
	const struct paths *p;
	const char *selector;
	const char *new_name; /* rename */
	bool disable;         /* enable/disable */
	bool changed;
	bool was_current; /* delete */
	char label[256];  /* the account before the change */
};

/* Runs fn in a store transaction and logs what store_update() reports. */
static int run_edit(const struct paths *p, store_fn fn, struct edit_ctx *ctx)
{
	char err[ERR_LEN];

	ctx->p = p;
	if (store_update(p, fn, ctx, err, sizeof(err))) {
		if (err[0]) {
			log_error("%s", err);
		}
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Selects the account for ctx and fills ctx->label; -ENOENT after logging. */
static long edit_select(struct store *s, struct edit_ctx *ctx)
{
	long i = cli_select(s, ctx->selector);

	if (i < 0) {
		return -ENOENT;
	}
	account_label(&s->accounts[i], ctx->label, sizeof(ctx->label));
	return i;
}

static int rename_fn(struct store *s, void *vctx)
{
	struct edit_ctx *ctx = vctx;
	long i = edit_select(s, ctx);
	char *name;

	if (i < 0) {
		return (int)i;
	}
	if (strcmp(s->accounts[i].name, ctx->new_name) == 0) {
		return 0;
	}
	if (!cli_name_free(s, ctx->new_name, i)) {
		return -EEXIST;
	}
	name = strdup(ctx->new_name);
	if (!name) {
		log_error("cannot rename: out of memory");
		return -ENOMEM;
	}
	free(s->accounts[i].name);
	s->accounts[i].name = name;
	ctx->changed = true;
	return 1;
}

int cmd_rename(int argc, char **argv)
{
	struct edit_ctx ctx = {0};
	struct cli_args args;
	struct paths p;
	int st = cli_parse(&rename_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (!cli_valid_name(args.pos[1])) {
		return EXIT_USAGE;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	ctx.selector = args.pos[0];
	ctx.new_name = args.pos[1];
	st = run_edit(&p, rename_fn, &ctx);
	if (st == EXIT_OK && ctx.changed) {
		printf("renamed %s to '%s'\n", ctx.label, ctx.new_name);
	} else if (st == EXIT_OK) {
		printf("%s already has that name\n", ctx.label);
	}
	paths_release(&p);
	return st;
}

static int delete_fn(struct store *s, void *vctx)
{
	struct edit_ctx *ctx = vctx;
	long i = edit_select(s, ctx);

	if (i < 0) {
		return (int)i;
	}
	ctx->was_current = authjson_current(ctx->p, s) == i;
	store_remove(s, (size_t)i);
	return 1;
}

int cmd_delete(int argc, char **argv)
{
	struct edit_ctx ctx = {0};
	struct cli_args args;
	struct paths p;
	int st = cli_parse(&delete_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	ctx.selector = args.pos[0];
	st = run_edit(&p, delete_fn, &ctx);
	if (st == EXIT_OK) {
		printf("deleted %s\n", ctx.label);
	}
	if (st == EXIT_OK && ctx.was_current) {
		printf("'%s' still holds this account; plain 'codex' keeps using it\n",
		       p.auth_json);
	}
	paths_release(&p);
	return st;
}

static int set_disabled_fn(struct store *s, void *vctx)
{
	struct edit_ctx *ctx = vctx;
	long i = edit_select(s, ctx);

	if (i < 0) {
		return (int)i;
	}
	if (s->accounts[i].disabled == ctx->disable) {
		return 0;
	}
	s->accounts[i].disabled = ctx->disable;
	ctx->changed = true;
	return 1;
}

static void print_disabled(const struct edit_ctx *ctx)
{
	const char *state = ctx->disable ? "disabled" : "enabled";

	if (!ctx->changed) {
		printf("%s is already %s\n", ctx->label, state);
	} else if (ctx->disable) {
		printf("disabled %s: codex-switch will not switch to it automatically\n",
		       ctx->label);
	} else {
		printf("enabled %s: codex-switch may switch to it automatically\n", ctx->label);
	}
}

static int set_disabled(const struct cli_spec *spec, int argc, char **argv, bool disable)
{
	struct edit_ctx ctx = {.disable = disable};
	struct cli_args args;
	struct paths p;
	int st = cli_parse(spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	ctx.selector = args.pos[0];
	st = run_edit(&p, set_disabled_fn, &ctx);
	if (st == EXIT_OK) {
		print_disabled(&ctx);
	}
	paths_release(&p);
	return st;
}

int cmd_enable(int argc, char **argv)
{
	return set_disabled(&enable_spec, argc, argv, false);
}

int cmd_disable(int argc, char **argv)
{
	return set_disabled(&disable_spec, argc, argv, true);
}
