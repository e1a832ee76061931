/* Making a stored account the one plain `codex` uses (`switch` and `auto-switch`). */
#include "store/activate.h"

#include "store/adopt.h"
#include "store/authjson.h"
#include "base/fileio.h"
#include "base/log.h"
#include "net/token.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ERR_LEN 1024

struct activate_ctx {
	const struct paths *p;
	const char *id;
	char label[256];
	struct adopt_result adopted; /* what auth.json held before it was replaced */
	int adopt_rc;
};

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

static int activate_fn(struct store *s, void *vctx)
{
	struct activate_ctx *ctx = vctx;
	long i = store_find_id(s, ctx->id);
	struct account *a;
	int r, changed;

	if (i < 0) {
		log_error("account %s is no longer stored; run 'codex-switch list'", ctx->id);
		return -ENOENT;
	}
	/* Never overwrite a login codex-switch does not hold: take it in first. */
	changed = adopt_in_store(ctx->p, s, &ctx->adopted);
	if (changed < 0) {
		ctx->adopt_rc = changed;
		return changed;
	}
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
static void refresh_before_switch(const struct paths *p, const char *id)
{
	struct store s = {0};
	struct account fresh = {0};
	char err[ERR_LEN];
	long i;

	if (store_load(p, &s, err, sizeof(err))) {
		return; /* the transaction reports it */
	}
	i = store_find_id(&s, id);
	if (i < 0 || s.accounts[i].kind != ACCOUNT_CHATGPT) {
		store_release(&s);
		return;
	}
	store_release(&s);
	if (token_ensure_fresh(p, id, false, &fresh, err, sizeof(err))) {
		log_warn("%s", err);
	}
	account_release(&fresh);
}

int activate_account(const struct paths *p, const char *id, char *label, size_t labelsz)
{
	struct activate_ctx ctx = {.p = p, .id = id};
	char err[ERR_LEN];
	int r;

	refresh_before_switch(p, id);
	r = store_update(p, activate_fn, &ctx, err, sizeof(err));
	if (r && err[0]) {
		log_error("%s", err);
	} else if (ctx.adopt_rc) {
		log_error("%s", ctx.adopted.message);
	} else if (!r && ctx.adopted.message[0]) {
		log_warn("%s", ctx.adopted.message);
	}
	if (!r && label && labelsz) {
		snprintf(label, labelsz, "%s", ctx.label);
	}
	return r;
}
