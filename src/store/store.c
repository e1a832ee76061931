#include "store/store.h"

#include "base/fileio.h"
#include "store/lockfile.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STORE_VERSION         1
#define STORE_LOCK_TIMEOUT_MS 30000
#define STORE_MIN_PREFIX      4

static cJSON *empty_top(void)
{
	cJSON *top = cJSON_CreateObject();

	if (top && (!cJSON_AddNumberToObject(top, "version", STORE_VERSION) ||
	            !cJSON_AddArrayToObject(top, "accounts") ||
	            !cJSON_AddArrayToObject(top, "masked_account_ids"))) {
		cJSON_Delete(top);
		top = NULL;
	}
	return top;
}

static int check_top(const char *path, const cJSON *top, char *err, size_t errsz)
{
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(top, "version");
	const cJSON *accounts = cJSON_GetObjectItemCaseSensitive(top, "accounts");

	if (!cJSON_IsObject(top)) {
		snprintf(err, errsz, "cannot parse '%s': the top level is not a JSON object", path);
		return -EINVAL;
	}
	if (version && (!cJSON_IsNumber(version) || version->valuedouble != STORE_VERSION)) {
		snprintf(
		        err, errsz,
		        "cannot parse '%s': unsupported version; this codex-switch reads version %d",
		        path, STORE_VERSION);
		return -EINVAL;
	}
	if (accounts && !cJSON_IsArray(accounts)) {
		snprintf(err, errsz, "cannot parse '%s': 'accounts' is not a list", path);
		return -EINVAL;
	}
	return 0;
}

static int load_accounts(const char *path, struct store *s, char *err, size_t errsz)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(s->json, "accounts");
	const cJSON *item;
	const char *why;
	int n = cJSON_GetArraySize(list), r;

	if (n == 0) {
		return 0;
	}
	s->accounts = calloc((size_t)n, sizeof(*s->accounts));
	if (!s->accounts) {
		snprintf(err, errsz, "cannot load '%s': out of memory", path);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(item, list)
	{
		r = account_from_json(item, &s->accounts[s->n], &why);
		if (r == -EINVAL) {
			snprintf(err, errsz, "cannot parse '%s': account %zu: %s", path, s->n + 1,
			         why);
		} else if (r) {
			snprintf(err, errsz, "cannot load '%s': out of memory", path);
		}
		if (r) {
			return r;
		}
		s->n++;
	}
	return 0;
}

static int parse_store(const char *path, const char *text, size_t len, struct store *s, char *err,
                       size_t errsz)
{
	const char *end = NULL;
	int r;

	s->json = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!s->json) {
		size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		snprintf(err, errsz, "cannot parse '%s': invalid JSON near byte %zu", path, at);
		return -EINVAL;
	}
	r = check_top(path, s->json, err, errsz);
	if (!r) {
		r = load_accounts(path, s, err, errsz);
	}
	return r;
}

int store_load(const struct paths *p, struct store *s, char *err, size_t errsz)
{
	char *text;
	size_t len;
	int r;

	memset(s, 0, sizeof(*s));
	r = fileio_read(p->accounts, FILEIO_MAX_JSON, &text, &len);
	if (r == -ENOENT) {
		s->json = empty_top();
		return s->json ? 0 : -ENOMEM;
	}
	if (r) {
		snprintf(err, errsz, "cannot read '%s': %s", p->accounts,
		         r == -EFBIG ? "larger than 16 MiB" : fileio_strerror(r));
		return r;
	}
	r = parse_store(p->accounts, text, len, s, err, errsz);
	util_free_secret(text);
	if (r) {
		store_release(s);
	}
	return r;
}

void store_release(struct store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		account_release(&s->accounts[i]);
	}
	free(s->accounts);
	cJSON_Delete(s->json);
	memset(s, 0, sizeof(*s));
}

static cJSON *accounts_json(const struct store *s)
{
	cJSON *list = cJSON_CreateArray();

	for (size_t i = 0; list && i < s->n; i++) {
		cJSON *one = account_to_json(&s->accounts[i]);
		if (!one || !cJSON_AddItemToArray(list, one)) {
			cJSON_Delete(one);
			cJSON_Delete(list);
			list = NULL;
		}
	}
	return list;
}

static cJSON *store_json(const struct store *s)
{
	cJSON *top = s->json ? cJSON_Duplicate(s->json, true) : empty_top();
	int r = top ? 0 : -ENOMEM;

	if (!r) {
		r = account_json_set(top, "version", cJSON_CreateNumber(STORE_VERSION));
	}
	if (!r) {
		r = account_json_set(top, "accounts", accounts_json(s));
	}
	if (!r && !cJSON_GetObjectItemCaseSensitive(top, "masked_account_ids")) {
		r = cJSON_AddArrayToObject(top, "masked_account_ids") ? 0 : -ENOMEM;
	}
	if (r) {
		cJSON_Delete(top);
		return NULL;
	}
	return top;
}

char *store_to_string(const struct store *s)
{
	cJSON *top = store_json(s);
	char *text, *out;

	if (!top) {
		return NULL;
	}
	text = cJSON_Print(top);
	cJSON_Delete(top);
	if (!text) {
		return NULL;
	}
	out = util_printf("%s\n", text);
	util_free_secret(text);
	return out;
}

static int store_save(const struct paths *p, const struct store *s, char *err, size_t errsz)
{
	char *text = store_to_string(s);
	int r;

	if (!text) {
		snprintf(err, errsz, "cannot write '%s': out of memory", p->accounts);
		return -ENOMEM;
	}
	r = fileio_write_atomic(p->accounts, text, strlen(text));
	util_free_secret(text);
	if (r) {
		snprintf(err, errsz, "cannot write '%s': %s; the file was left as it was",
		         p->accounts, strerror(-r));
	}
	return r;
}

static int lock_store(const struct paths *p, struct lockfile *lk, char *err, size_t errsz)
{
	int r = fileio_ensure_dir(p->store_dir, 0700);

	if (r) {
		snprintf(err, errsz, "cannot create '%s': %s", p->store_dir, strerror(-r));
		return r;
	}
	r = lockfile_acquire(lk, p->accounts_lock, STORE_LOCK_TIMEOUT_MS);
	if (r == -ETIMEDOUT) {
		snprintf(err, errsz,
		         "cannot lock '%s': another codex-switch has held it for %d s; if none is "
		         "running, delete that file and try again",
		         p->accounts_lock, STORE_LOCK_TIMEOUT_MS / 1000);
	} else if (r) {
		snprintf(err, errsz,
		         "cannot lock '%s': %s; nothing was changed: check that '%s' is yours and "
		         "writable",
		         p->accounts_lock, strerror(-r), p->store_dir);
	}
	return r;
}

int store_update(const struct paths *p, store_fn fn, void *ctx, char *err, size_t errsz)
{
	struct lockfile lk;
	struct store s;
	int r;

	err[0] = '\0';
	r = lock_store(p, &lk, err, errsz);
	if (r) {
		return r;
	}
	r = store_load(p, &s, err, errsz);
	if (!r) {
		r = fn(&s, ctx);
		if (r > 0) {
			r = store_save(p, &s, err, errsz);
		}
		store_release(&s);
	}
	lockfile_release(&lk);
	return r;
}

int store_add(struct store *s, const struct account *a)
{
	struct account *grown = realloc(s->accounts, (s->n + 1) * sizeof(*grown));

	if (!grown) {
		return -ENOMEM;
	}
	s->accounts = grown;
	if (account_copy(&s->accounts[s->n], a)) {
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

void store_remove(struct store *s, size_t i)
{
	if (i >= s->n) {
		return;
	}
	account_release(&s->accounts[i]);
	memmove(&s->accounts[i], &s->accounts[i + 1], (s->n - i - 1) * sizeof(*s->accounts));
	s->n--;
}

long store_find_id(const struct store *s, const char *id)
{
	for (size_t i = 0; id && i < s->n; i++) {
		if (strcmp(s->accounts[i].id, id) == 0) {
			return (long)i;
		}
	}
	return -1;
}

long store_find_identity(const struct store *s, const struct account *a)
{
	for (size_t i = 0; i < s->n; i++) {
		if (account_same_identity(&s->accounts[i], a)) {
			return (long)i;
		}
	}
	return -1;
}

long store_find_chatgpt_account(const struct store *s, const char *acct)
{
	for (size_t i = 0; acct && i < s->n; i++) {
		const struct account *a = &s->accounts[i];
		if (a->kind == ACCOUNT_CHATGPT && a->chatgpt_account_id &&
		    strcmp(a->chatgpt_account_id, acct) == 0) {
			return (long)i;
		}
	}
	return -1;
}

enum select_rule {
	SELECT_NAME,
	SELECT_ID,
	SELECT_PREFIX,
	SELECT_EMAIL,
};

static bool select_matches(const struct account *a, const char *sel, enum select_rule rule)
{
	size_t len = strlen(sel);

	switch (rule) {
	case SELECT_NAME:
		return strcmp(a->name, sel) == 0;
	case SELECT_ID:
		return strcasecmp(a->id, sel) == 0;
	case SELECT_PREFIX:
		return len >= STORE_MIN_PREFIX && strncasecmp(a->id, sel, len) == 0;
	case SELECT_EMAIL:
		return a->email && strcasecmp(a->email, sel) == 0;
	}
	return false;
}

static void list_candidates(const struct store *s, const char *sel, enum select_rule rule,
                            char *err, size_t errsz)
{
	char label[256];
	size_t used;

	snprintf(err, errsz, "'%s' matches several accounts:", sel);
	for (size_t i = 0; i < s->n; i++) {
		if (!select_matches(&s->accounts[i], sel, rule)) {
			continue;
		}
		account_label(&s->accounts[i], label, sizeof(label));
		used = strlen(err);
		snprintf(err + used, errsz - used, " %s,", label);
	}
	used = strlen(err);
	snprintf(err + used - 1, errsz - used + 1, "; %s",
	         rule == SELECT_PREFIX ? "use a longer id prefix or the full id"
	                               : "use the name or the id instead");
}

/* Nothing matched: a short id prefix gets the rule it broke, and what it would match. */
static void no_match(const struct store *s, const char *sel, char *err, size_t errsz)
{
	size_t len = strlen(sel), hits = 0, used;
	char label[256];

	snprintf(err, errsz, "no account matches '%s'", sel);
	for (size_t i = 0; len > 0 && len < STORE_MIN_PREFIX && i < s->n; i++) {
		if (strncasecmp(s->accounts[i].id, sel, len) != 0) {
			continue;
		}
		account_label(&s->accounts[i], label, sizeof(label));
		used = strlen(err);
		if (hits++ == 0) {
			snprintf(err + used, errsz - used,
			         ": an id prefix needs at least %d characters (it would match %s",
			         STORE_MIN_PREFIX, label);
		} else {
			snprintf(err + used, errsz - used, ", %s", label);
		}
	}
	used = strlen(err);
	snprintf(err + used, errsz - used, "%s; run 'codex-switch list' to see the accounts",
	         hits ? ")" : "");
}

long store_select(const struct store *s, const char *selector, char *err, size_t errsz)
{
	for (int rule = SELECT_NAME; rule <= SELECT_EMAIL; rule++) {
		long found = -1;
		size_t count = 0;
		for (size_t i = 0; i < s->n; i++) {
			if (select_matches(&s->accounts[i], selector, (enum select_rule)rule)) {
				found = (long)i;
				count++;
			}
		}
		if (count == 1) {
			return found;
		}
		if (count > 1) {
			list_candidates(s, selector, (enum select_rule)rule, err, errsz);
			return -EEXIST;
		}
	}
	no_match(s, selector, err, errsz);
	return -ENOENT;
}
