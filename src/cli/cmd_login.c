/* `codex-switch login`: sign in to ChatGPT and store the account (never writes auth.json). */
#include "store/account.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "net/endpoints.h"
#include "base/log.h"
#include "net/oauth.h"
#include "store/store.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_LEN 2048

struct login_opts {
	bool device;
	bool replace;
	const char *name;
};

enum { LOGIN_DEVICE, LOGIN_REPLACE };

static const struct cli_option login_options[] = {
        [LOGIN_DEVICE] = {"device-auth", 0, NULL,
                          "sign in with a code on another device (no local browser needed)"},
        [LOGIN_REPLACE] = {"replace", 0, NULL,
                           "sign the existing account <name> in again, keeping its id,\n"
                           "name, creation and last-use times and auto-switch setting"},
        {0},
};

static const struct cli_spec login_spec = {
        .name = "login",
        .synopsis = "<name> [--device-auth] [--replace]",
        .about = "Signs in to ChatGPT in a browser (or with a device code) and stores the account\n"
                 "as <name>. It does not change $CODEX_HOME/auth.json and revokes nothing.\n\n",
        .example = "codex-switch login work --device-auth",
        .options = login_options,
        .min_pos = 1,
        .max_pos = 1,
};

static int parse_opts(int argc, char **argv, struct login_opts *o)
{
	struct cli_args args;
	int st = cli_parse(&login_spec, argc, argv, &args);

	memset(o, 0, sizeof(*o));
	if (st >= 0) {
		return st;
	}
	o->device = args.opt[LOGIN_DEVICE] != NULL;
	o->replace = args.opt[LOGIN_REPLACE] != NULL;
	o->name = args.pos[0];
	return cli_valid_name(o->name) ? -1 : EXIT_USAGE;
}

static long find_name(const struct store *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->accounts[i].name, name) == 0) {
			return (long)i;
		}
	}
	return -1;
}

/* Refuses before the browser opens what would be refused after it. */
static int precheck(const struct paths *p, const struct login_opts *o)
{
	struct store s = {0};
	long i;
	int st = cli_load_store(p, &s);

	if (st) {
		return st;
	}
	i = find_name(&s, o->name);
	if (!o->replace && i >= 0) {
		log_error("an account named '%s' exists; pass --replace to sign it in again",
		          o->name);
		st = EXIT_FAIL;
	} else if (o->replace && i < 0) {
		log_error("no account named '%s' to replace; drop --replace to add it", o->name);
		st = EXIT_FAIL;
	} else if (o->replace && s.accounts[i].kind != ACCOUNT_CHATGPT) {
		log_error("'%s' is an API-key account; --replace signs ChatGPT accounts in again",
		          o->name);
		st = EXIT_FAIL;
	}
	store_release(&s);
	return st;
}

/* The new account from the sign-in's tokens (which are moved out of t). */
static int build_account(const char *name, struct oauth_tokens *t, struct account *a)
{
	int64_t now = (int64_t)util_now() * 1000000;
	char id[UTIL_UUID_LEN + 1];

	memset(a, 0, sizeof(*a));
	util_uuid(id);
	a->kind = ACCOUNT_CHATGPT;
	a->id = strdup(id);
	a->name = strdup(name);
	a->id_token = t->id_token;
	a->access_token = t->access_token;
	a->refresh_token = t->refresh_token;
	memset(t, 0, sizeof(*t));
	a->created_at = now;
	a->token_last_refresh_at = now;
	if (!a->id || !a->name) {
		return -ENOMEM;
	}
	return account_apply_id_token(a);
}

struct login_ctx {
	const struct login_opts *o;
	const struct account *fresh;
	char *err;
	size_t errsz;
	char label[256];
};

static int duplicate(struct login_ctx *c, const struct store *s, long except)
{
	long d = store_find_identity(s, c->fresh);

	if (d < 0 || d == except) {
		return 0;
	}
	account_label(&s->accounts[d], c->label, sizeof(c->label));
	snprintf(c->err, c->errsz,
	         "this ChatGPT account is already stored as %s; use "
	         "'codex-switch login %s --replace' to sign it in again",
	         c->label, s->accounts[d].name);
	return -EEXIST;
}

/* Replaces the sign-in of dst in place; its id, name, times and flags stay. */
static int replace_in(struct account *dst, const struct account *fresh)
{
	struct account n = {0};

	if (account_copy(&n, fresh) < 0) {
		return -ENOMEM;
	}
	free(n.id);
	n.id = dst->id;
	dst->id = NULL;
	free(n.name);
	n.name = dst->name;
	dst->name = NULL;
	n.created_at = dst->created_at;
	n.last_used_at = dst->last_used_at;
	n.disabled = dst->disabled;
	cJSON_Delete(n.json);
	n.json = dst->json; /* unknown fields survive */
	dst->json = NULL;
	account_release(dst);
	*dst = n;
	return 0;
}

static int login_fn(struct store *s, void *ctx)
{
	struct login_ctx *c = ctx;
	long i = find_name(s, c->o->name);
	int rc;

	if (c->o->replace && i < 0) {
		snprintf(c->err, c->errsz, "the account '%s' was deleted meanwhile", c->o->name);
		return -ENOENT;
	}
	if (!c->o->replace && i >= 0) {
		snprintf(c->err, c->errsz,
		         "an account named '%s' was added meanwhile; pass "
		         "--replace to sign it in again",
		         c->o->name);
		return -EEXIST;
	}
	rc = duplicate(c, s, i);
	if (rc == 0) {
		rc = c->o->replace ? replace_in(&s->accounts[i], c->fresh) : store_add(s, c->fresh);
		i = c->o->replace ? i : (long)s->n - 1;
	}
	if (rc == 0) {
		account_label(&s->accounts[i], c->label, sizeof(c->label));
	}
	return rc < 0 ? rc : 1;
}

struct accept_ctx {
	const struct paths *p;
	const struct login_opts *o;
};

/* Stores the signed-in account; runs before the browser is told the outcome. */
static int store_login(struct oauth_tokens *t, void *ctx, char *err, size_t errsz)
{
	struct accept_ctx *ac = ctx;
	const struct login_opts *o = ac->o;
	struct account a;
	struct login_ctx c = {o, &a, err, errsz, ""};
	int rc = build_account(o->name, t, &a);

	err[0] = '\0';
	if (rc < 0) {
		snprintf(err, errsz, "the sign-in returned an unreadable id token; try again");
	} else if ((rc = store_update(ac->p, login_fn, &c, err, errsz)) < 0) {
		if (!err[0]) {
			snprintf(err, errsz, "cannot save the account");
		}
	} else {
		printf("%s %s (%s, %s plan)\n", o->replace ? "signed in again:" : "stored", c.label,
		       a.email ? a.email : "no email", a.plan_type ? a.plan_type : "unknown");
		printf("run 'codex-switch switch %s' to use it in plain codex too\n", o->name);
		rc = 0;
	}
	account_release(&a);
	return rc;
}

static int sign_in(const struct paths *p, const struct login_opts *o, char *err, size_t errsz)
{
	struct accept_ctx ac = {p, o};
	char *issuer = endpoints_issuer();
	int rc;

	if (!issuer) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	rc = o->device ? oauth_login_device(issuer, store_login, &ac, err, errsz)
	               : oauth_login_browser(issuer, store_login, &ac, err, errsz);
	free(issuer);
	return rc;
}

int cmd_login(int argc, char **argv)
{
	struct login_opts o;
	struct paths p;
	char err[ERR_LEN] = "";
	int st = parse_opts(argc, argv, &o);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = precheck(&p, &o);
	if (st == EXIT_OK && paths_ensure_store(&p) < 0) {
		log_error(
		        "cannot create the store directory '%s'; check its parent's permissions or set CODEX_SWITCH_HOME",
		        p.store_dir);
		st = EXIT_FAIL;
	}
	if (st == EXIT_OK && sign_in(&p, &o, err, sizeof(err)) < 0) {
		log_error("login failed: %s", err);
		st = EXIT_FAIL;
	}
	paths_release(&p);
	return st;
}
