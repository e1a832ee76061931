/* The commands that move credentials in and out of the store: import, export, switch. */
#include "store/activate.h"
#include "store/authjson.h"
#include "doctor/codexproc.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "base/fileio.h"
#include "store/jwt.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                 "<account> is a name, an id, a unique id prefix or a unique email. Refuses\n"
                 "while a plain 'codex' runs under the same $CODEX_HOME: it would keep the\n"
                 "old account and write it back when it refreshes its tokens (README \"Plain\n"
                 "codex running beside\"). Sessions of 'codex-switch run' are not plain codex:\n"
                 "they pick the new account up without a restart.\n\n",
        .example = "codex-switch switch work",
        .flags = CLI_FORCE,
        .force_help = "switch even while a plain codex runs under $CODEX_HOME",
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
			log_error(
			        "cannot write the export to standard output; write it to a file with --file PATH");
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
		log_error("cannot write '%s': %s; choose another --file PATH", args->file,
		          strerror(-r));
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

int cmd_switch(int argc, char **argv)
{
	struct cli_args args;
	struct store s = {0};
	struct paths p;
	char label[256], *id = NULL;
	long i = -1;
	int st = cli_parse(&switch_spec, argc, argv, &args);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = EXIT_FAIL;
	if (cli_load_store(&p, &s) == EXIT_OK && (i = cli_select(&s, args.pos[0])) >= 0) {
		id = strdup(s.accounts[i].id);
	}
	store_release(&s);
	if (id && codexproc_guard(p.codex_home, args.force, "switch") < 0) {
		free(id);
		paths_release(&p);
		return EXIT_FAIL;
	}
	if (id && activate_account(&p, id, label, sizeof(label)) == 0) {
		printf("switched to %s: wrote '%s'; plain 'codex' now uses this account\n", label,
		       p.auth_json);
		st = EXIT_OK;
	} else if (!id && i >= 0) {
		log_error("cannot switch: out of memory");
	}
	free(id);
	paths_release(&p);
	return st;
}
