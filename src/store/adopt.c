/* Taking in what $CODEX_HOME/auth.json holds before codex-switch overwrites it (issue #15). */
#include "store/adopt.h"

#include "store/authjson.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/sha.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_LEN 1024

/* Replaces the tokens of stored with the newer ones of cur (same identity). */
static int take_tokens(struct account *stored, const struct account *cur)
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

static bool name_taken(const struct store *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->accounts[i].name, name) == 0) {
			return true;
		}
	}
	return false;
}

/* The local part of the email (printable, at most ADOPT_MAX_NAME - 4 bytes) or "account". */
static void base_name(const struct account *a, char *out, size_t outsz)
{
	const char *e = a->email ? a->email : "";
	size_t n = 0, max = ADOPT_MAX_NAME - 4; /* room for "-NNN" */

	if (max > outsz - 1) {
		max = outsz - 1;
	}

	for (; e[n] && e[n] != '@' && n < max; n++) {
		unsigned char c = (unsigned char)e[n];
		out[n] = c <= 0x20 || c == 0x7f ? '-' : (char)c;
	}
	out[n] = '\0';
	if (n == 0) {
		snprintf(out, outsz, "account");
	}
}

/* "alice", else "alice-2", "alice-3", ...: the first name no stored account uses. */
static void unique_name(const struct store *s, const struct account *a, char *out, size_t outsz)
{
	char base[ADOPT_MAX_NAME];

	base_name(a, base, sizeof(base));
	snprintf(out, outsz, "%s", base);
	for (unsigned k = 2; name_taken(s, out) && k < 10000; k++) {
		snprintf(out, outsz, "%s-%u", base, k);
	}
}

static int add_account(struct store *s, struct account *cur, struct adopt_result *res)
{
	char name[ADOPT_MAX_NAME + 8], id[UTIL_UUID_LEN + 1];

	unique_name(s, cur, name, sizeof(name));
	util_uuid(id);
	cur->id = strdup(id);
	cur->name = strdup(name);
	cur->created_at = util_now_ms() * 1000;
	cur->last_used_at = cur->created_at;
	if (!cur->id || !cur->name || store_add(s, cur)) {
		snprintf(res->message, sizeof(res->message),
		         "cannot store the login: out of memory");
		return -ENOMEM;
	}
	res->kind = ADOPT_ADDED;
	res->index = (long)s->n - 1;
	snprintf(res->id, sizeof(res->id), "%s", id);
	return 1;
}

/* The first 16 hex digits of the SHA-256 of data: the same file is copied only once. */
static void digest_hex(const char *data, size_t len, char out[17])
{
	unsigned char md[SHA256_LEN];

	sha256_digest(data, len, md);
	for (size_t i = 0; i < 8; i++) {
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
}

/* Copies auth.json as it is to <store>/auth-backup-<digest>.json (0600, never replaced). */
static int copy_file(const struct paths *p, const char *what, struct adopt_result *res)
{
	char *text = NULL, *dest = NULL, hex[17];
	size_t len = 0;
	int r = fileio_read(p->auth_json, FILEIO_MAX_JSON, &text, &len);

	if (!r) {
		digest_hex(text, len, hex);
		dest = util_printf("%s/auth-backup-%s.json", p->store_dir, hex);
		r = dest ? fileio_write_new(dest, text, len) : -ENOMEM;
	}
	util_free_secret(text);
	if (r == -EEXIST) {
		r = 0; /* copied before, and the user was told then */
	} else if (r) {
		snprintf(
		        res->message, sizeof(res->message),
		        "cannot copy '%s' into '%s': %s; codex-switch leaves it alone until it can "
		        "be kept (move it away yourself to go on)",
		        p->auth_json, p->store_dir, strerror(-r));
	} else {
		res->kind = ADOPT_COPIED;
		snprintf(res->message, sizeof(res->message),
		         "'%s' held %s, which codex-switch does not store; a copy is now in '%s' "
		         "(mode 0600), since codex-switch replaces that file",
		         p->auth_json, what, dest);
	}
	free(dest);
	return r;
}

/* Whether auth.json's ChatGPT login (cur) carries tokens newer than the stored one's (a). */
static bool tokens_newer(const struct account *cur, const struct account *a)
{
	return cur->token_last_refresh_at > a->token_last_refresh_at &&
	       strcmp(cur->refresh_token, a->refresh_token) != 0;
}

static int take_chatgpt(struct store *s, struct account *cur, struct adopt_result *res,
                        const char *auth_json)
{
	long i = store_find_identity(s, cur);
	struct account *a;
	char label[256];
	int r;

	if (i < 0) {
		r = add_account(s, cur, res);
		if (r > 0) {
			account_label(&s->accounts[res->index], label, sizeof(label));
			snprintf(res->message, sizeof(res->message),
			         "'%s' held %s, which was not stored; it is stored now as %s, so "
			         "switching away does not lose that login",
			         auth_json, cur->email ? cur->email : "a ChatGPT login", label);
		}
		return r;
	}
	a = &s->accounts[i];
	res->index = i;
	snprintf(res->id, sizeof(res->id), "%s", a->id);
	if (!tokens_newer(cur, a)) {
		return 0;
	}
	r = take_tokens(a, cur);
	if (r) {
		/* auth.json's tokens are unusable as a stored login: keep the store's own. */
		return 0;
	}
	res->kind = ADOPT_REFRESHED;
	return 1;
}

int adopt_in_store(const struct paths *p, struct store *s, struct adopt_result *res)
{
	struct account cur;
	char err[ERR_LEN];
	long i;
	int r;

	memset(res, 0, sizeof(*res));
	res->index = -1;
	r = authjson_read(p->auth_json, &cur, err, sizeof(err));
	if (r == -ENOENT) {
		return 0;
	}
	if (r == -EINVAL || r == -ENOTSUP) {
		return copy_file(
		        p, r == -ENOTSUP ? "a login of another kind" : "a file it cannot parse",
		        res);
	}
	if (r) {
		snprintf(res->message, sizeof(res->message),
		         "cannot read '%.400s': %s; codex-switch does not replace a file it cannot "
		         "read: fix its permissions or move it away",
		         p->auth_json, strerror(-r));
		return r;
	}
	if (cur.kind == ACCOUNT_CHATGPT) {
		r = take_chatgpt(s, &cur, res, p->auth_json);
	} else if ((i = store_find_identity(s, &cur)) >= 0) {
		res->index = i;
		snprintf(res->id, sizeof(res->id), "%s", s->accounts[i].id);
		r = 0;
	} else {
		r = copy_file(p, "an API key", res);
	}
	account_release(&cur);
	return r;
}

struct adopt_tx {
	const struct paths *p;
	struct adopt_result *res;
};

static int adopt_tx_fn(struct store *s, void *vctx)
{
	struct adopt_tx *tx = vctx;

	return adopt_in_store(tx->p, s, tx->res);
}

/*
 * The usual case, settled without the store's lock (a lock file created, linked and removed
 * each time, on every pool load of a session): no auth.json, or a login stored already whose
 * tokens are not older than auth.json's. accounts.json is only ever replaced whole, so an
 * unlocked read sees one version of it; anything else is decided again under the lock.
 */
static bool nothing_to_adopt(const struct paths *p, struct adopt_result *res)
{
	struct account cur;
	struct store s;
	char err[ERR_LEN];
	bool none = false;
	long i;
	int r = authjson_read(p->auth_json, &cur, err, sizeof(err));

	if (r) {
		return r == -ENOENT;
	}
	if (store_load(p, &s, err, sizeof(err)) == 0) {
		i = store_find_identity(&s, &cur);
		none = i >= 0 &&
		       (cur.kind != ACCOUNT_CHATGPT || !tokens_newer(&cur, &s.accounts[i]));
		if (none) {
			res->index = i;
			snprintf(res->id, sizeof(res->id), "%s", s.accounts[i].id);
		}
		store_release(&s);
	}
	account_release(&cur);
	return none;
}

int adopt_authjson(const struct paths *p, struct adopt_result *res)
{
	struct adopt_tx tx = {.p = p, .res = res};
	char err[ERR_LEN] = "";
	int r;

	memset(res, 0, sizeof(*res));
	res->index = -1;
	if (nothing_to_adopt(p, res)) {
		return 0;
	}
	r = store_update(p, adopt_tx_fn, &tx, err, sizeof(err));
	if (r < 0 && err[0]) {
		log_error("%s", err);
	} else if (r < 0) {
		log_error("%s", res->message);
	} else if (res->message[0]) {
		log_warn("%s", res->message);
	}
	return r < 0 ? r : 0;
}
