/* The commands that move credentials in and out of the store: import, export, switch. */
#include "authjson.h"
#include "cli.h"
#include "commands.h"
#include "fileio.h"
#include "jwt.h"
#include "log.h"
#include "token.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ERR_LEN 1024

static const struct cli_spec import_spec = {
        .name = "import",
        .synopsis = "<name> [--file PATH]",
        .about = "Stores the account Codex is logged in with under <name>. It is read from\n"
                 "$CODEX_HOME/auth.json (~/.codex/auth.json without CODEX_HOME), or from PATH.\n\n",
        .example = "codex login && codex-switch import work",
        .flags = CLI_FILE,
        .file_help = "read PATH instead of $CODEX_HOME/auth.json",
        .min_pos = 1,
        .max_pos = 1,
};

static const struct cli_spec export_spec = {
        .name = "export",
        .synopsis = "<account> [--file PATH [--force]]",
        .about = "Prints the account as a Codex auth.json, or writes it to PATH (mode 0600).\n"
                 "An existing PATH is only replaced with --force. The output holds secrets.\n\n",
        .example = "codex-switch export work --file /tmp/auth.json",
        .flags = CLI_FILE | CLI_FORCE,
        .file_help = "write a new file PATH (0600) instead of printing",
        .min_pos = 1,
        .max_pos = 1,
};

static const struct cli_spec switch_spec = {
        .name = "switch",
        .synopsis = "<account>",
        .about = "Writes the account into $CODEX_HOME/auth.json, so plain 'codex' uses it too.\n"
                 "<account> is a name, an id, a unique id prefix or a unique email.\n\n",
        .example = "codex-switch switch work",
        .flags = 0,
        .min_pos = 1,
        .max_pos = 1,
};

struct import_ctx {
	const struct account *a;
};

static int import_fn(struct store *s, void *vctx)
{
	struct import_ctx *ctx = vctx;
	long i = store_find_identity(s, ctx->a);
	char label[256];

	if (i >= 0) {
		account_label(&s->accounts[i], label, sizeof(label));
		log_error("this account is already stored as %s; nothing was imported", label);
		return -EEXIST;
	}
	if (!cli_name_free(s, ctx->a->name, -1)) {
		return -EEXIST;
	}
	if (store_add(s, ctx->a)) {
		log_error("cannot import: out of memory");
		return -ENOMEM;
	}
	return 1;
}

static int read_auth(const char *path, bool is_default, struct account *a)
{
	char err[ERR_LEN];
	int r = authjson_read(path, a, err, sizeof(err));

	if (r == -ENOENT && is_default) {
		log_error(
		        "cannot read '%s': no such file; log in with 'codex login' first, or pass "
		        "--file PATH",
		        path);
	} else if (r) {
		log_error("%s", err);
	}
	return r;
}

static int name_new_account(struct account *a, const char *name)
{
	char id[UTIL_UUID_LEN + 1];

	util_uuid(id);
	a->id = strdup(id);
	a->name = strdup(name);
	a->created_at = util_now_ms() * 1000;
	return a->id && a->name ? 0 : -ENOMEM;
}

static void print_imported(const struct account *a)
{
	char label[256];

	account_label(a, label, sizeof(label));
	if (a->kind == ACCOUNT_API_KEY) {
		printf("imported %s (API key)\n", label);
	} else {
		printf("imported %s (%s, %s)\n", label, a->email ? a->email : "no email",
		       a->plan_type ? a->plan_type : "unknown plan");
	}
}

int cmd_import(int argc, char **argv)
{
	struct account a = {0};
	struct import_ctx ctx = {.a = &a};
	struct cli_args args;
	struct paths p;
	char err[ERR_LEN];
	int st = cli_parse(&import_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (!cli_valid_name(args.pos[0])) {
		return EXIT_USAGE;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = EXIT_FAIL;
	if (read_auth(args.file ? args.file : p.auth_json, !args.file, &a)) {
		goto out;
	}
	if (name_new_account(&a, args.pos[0])) {
		log_error("cannot import: out of memory");
		goto out;
	}
	if (store_update(&p, import_fn, &ctx, err, sizeof(err))) {
		if (err[0]) {
			log_error("%s", err);
		}
		goto out;
	}
	print_imported(&a);
	st = EXIT_OK;
out:
	account_release(&a);
	paths_release(&p);
	return st;
}

/* The Rust tool refuses to export a ChatGPT account whose id_token it cannot read; so do we. */
static bool exportable(const struct account *a)
{
	char label[256];
	cJSON *payload;

	if (a->kind == ACCOUNT_API_KEY) {
		return true;
	}
	if (jwt_payload(a->id_token, &payload) == 0) {
		cJSON_Delete(payload);
		return true;
	}
	account_label(a, label, sizeof(label));
	log_error("the stored id_token of %s is not a valid JWT; log in again with "
	          "'codex-switch login --replace %s'",
	          label, a->name);
	return false;
}

static int write_export(const struct cli_args *args, const struct account *a, const char *text)
{
	char label[256];
	int r;

	if (!args->file) {
		if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
			log_error("cannot write the export to standard output");
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	r = args->force ? fileio_write_atomic(args->file, text, strlen(text))
	                : fileio_write_new(args->file, text, strlen(text));
	if (r == -EEXIST) {
		log_error("refusing to overwrite '%s'; pass --force to replace it", args->file);
		return EXIT_FAIL;
	}
	if (r) {
		log_error("cannot write '%s': %s", args->file, strerror(-r));
		return EXIT_FAIL;
	}
	account_label(a, label, sizeof(label));
	printf("exported %s to '%s'\n", label, args->file);
	return EXIT_OK;
}

int cmd_export(int argc, char **argv)
{
	struct cli_args args;
	struct store s = {0};
	struct paths p;
	char *text = NULL;
	long i;
	int st = cli_parse(&export_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (args.force && !args.file) {
		return cli_usage_error(&export_spec, "--force needs --file");
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = EXIT_FAIL;
	if (cli_load_store(&p, &s)) {
		goto out;
	}
	i = cli_select(&s, args.pos[0]);
	if (i < 0 || !exportable(&s.accounts[i])) {
		goto out;
	}
	text = authjson_to_string(&s.accounts[i]);
	if (!text) {
		log_error("cannot export: out of memory");
		goto out;
	}
	st = write_export(&args, &s.accounts[i], text);
out:
	util_free_secret(text);
	store_release(&s);
	paths_release(&p);
	return st;
}

struct switch_ctx {
	const struct paths *p;
	const char *selector;
	char label[256];
};

/* Replaces the tokens of stored with the newer ones of cur (same identity). */
static int adopt_tokens(struct account *stored, const struct account *cur)
{
	struct account fresh;

	if (account_copy(&fresh, stored)) {
		return -ENOMEM;
	}
	util_free_secret(fresh.id_token);
	util_free_secret(fresh.access_token);
	util_free_secret(fresh.refresh_token);
	fresh.id_token = util_strdup0(cur->id_token);
	fresh.access_token = util_strdup0(cur->access_token);
	fresh.refresh_token = util_strdup0(cur->refresh_token);
	free(fresh.relogin_reason);
	fresh.relogin_reason = NULL;
	fresh.token_last_refresh_at = cur->token_last_refresh_at;
	if (!fresh.id_token || !fresh.access_token || !fresh.refresh_token ||
	    account_apply_id_token(&fresh)) {
		account_release(&fresh);
		return -EINVAL;
	}
	account_release(stored);
	*stored = fresh;
	return 0;
}

/*
 * Codex refreshes the tokens in auth.json by itself, and refresh tokens rotate: the copy in
 * the store may already be dead. Before auth.json is overwritten, newer tokens of a stored
 * account are saved back to the store; an account that is not stored at all is reported.
 */
static void save_current_tokens(const struct paths *p, struct store *s)
{
	struct account cur;
	char err[ERR_LEN];
	long i;

	if (authjson_read(p->auth_json, &cur, err, sizeof(err))) {
		return;
	}
	i = store_find_identity(s, &cur);
	if (i < 0) {
		log_warn("'%s' held an account that is not stored; it is replaced now (next time, "
		         "keep it with 'codex-switch import <name>' first)",
		         p->auth_json);
	} else if (cur.kind == ACCOUNT_CHATGPT &&
	           cur.token_last_refresh_at > s->accounts[i].token_last_refresh_at &&
	           strcmp(cur.refresh_token, s->accounts[i].refresh_token) != 0) {
		adopt_tokens(&s->accounts[i], &cur);
	}
	account_release(&cur);
}

static int ensure_codex_home(const char *dir)
{
	struct stat st;
	int r;

	/* Only a missing directory is created: the user's own ~/.codex keeps its mode. */
	if (stat(dir, &st) == 0 || errno != ENOENT) {
		return 0;
	}
	r = fileio_ensure_dir(dir, 0700);
	if (r) {
		log_error("cannot create '%s': %s", dir, strerror(-r));
	}
	return r;
}

static int switch_fn(struct store *s, void *vctx)
{
	struct switch_ctx *ctx = vctx;
	long i = cli_select(s, ctx->selector);
	struct account *a;
	int r;

	if (i < 0) {
		return -ENOENT;
	}
	save_current_tokens(ctx->p, s);
	a = &s->accounts[i];
	account_label(a, ctx->label, sizeof(ctx->label));
	if (a->relogin_reason) {
		log_warn("%s needs a new login (%s); run 'codex-switch login --replace %s'",
		         ctx->label, a->relogin_reason, a->name);
	}
	r = ensure_codex_home(ctx->p->codex_home);
	if (r) {
		return r;
	}
	r = authjson_write(ctx->p->auth_json, a);
	if (r) {
		log_error("cannot write '%s': %s; the file was left as it was", ctx->p->auth_json,
		          strerror(-r));
		return r;
	}
	a->last_used_at = util_now_ms() * 1000;
	return 1;
}

/*
 * Plain codex would refresh an expiring token itself and rotate the refresh token behind the
 * store's back, so hand it fresh tokens. Outside the store transaction: token_ensure_fresh
 * takes the store lock itself. A failed refresh is reported, and the switch goes on with the
 * stored tokens.
 */
static void refresh_before_switch(const struct paths *p, const char *selector)
{
	struct store s = {0};
	struct account fresh = {0};
	char err[ERR_LEN], id[UTIL_UUID_LEN + 1];
	long i;

	if (store_load(p, &s, err, sizeof(err))) {
		return; /* the transaction reports it */
	}
	i = store_select(&s, selector, err, sizeof(err));
	if (i < 0 || s.accounts[i].kind != ACCOUNT_CHATGPT) {
		store_release(&s);
		return;
	}
	snprintf(id, sizeof(id), "%s", s.accounts[i].id);
	store_release(&s);
	if (token_ensure_fresh(p, id, false, &fresh, err, sizeof(err))) {
		log_warn("%s", err);
	}
	account_release(&fresh);
}

int cmd_switch(int argc, char **argv)
{
	struct cli_args args;
	struct switch_ctx ctx = {0};
	struct paths p;
	char err[ERR_LEN];
	int st = cli_parse(&switch_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	ctx.p = &p;
	ctx.selector = args.pos[0];
	refresh_before_switch(&p, ctx.selector);
	st = EXIT_OK;
	if (store_update(&p, switch_fn, &ctx, err, sizeof(err))) {
		if (err[0]) {
			log_error("%s", err);
		}
		st = EXIT_FAIL;
	} else {
		printf("switched to %s: wrote '%s'; plain 'codex' now uses this account\n",
		       ctx.label, p.auth_json);
	}
	paths_release(&p);
	return st;
}
