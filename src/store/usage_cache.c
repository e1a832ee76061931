#include "store/usage_cache.h"

#include "base/fileio.h"
#include "store/lockfile.h"
#include "base/log.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_VERSION         1
#define CACHE_LOCK_TIMEOUT_MS 5000
/* Snapshots closer together than this replace each other: a burst of fetches is one. */
#define HISTORY_MIN_GAP_S 120
/* A point: [t, five_hour, five_hour_reset, weekly, weekly_reset]. */
#define POINT_FIELDS 5

/* The cache's "accounts" object, or a new empty cache when the file is missing or corrupt. */
static cJSON *cache_read(const struct paths *p)
{
	char *text = NULL;
	size_t len;
	cJSON *root = NULL;
	int rc = fileio_read(p->usage_cache, FILEIO_MAX_JSON, &text, &len);

	if (rc == 0) {
		root = cJSON_Parse(text);
		if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "accounts"))) {
			log_warn("ignoring the corrupt usage cache '%s'; it will be rebuilt",
			         p->usage_cache);
			cJSON_Delete(root);
			root = NULL;
		}
	} else if (rc != -ENOENT) {
		log_warn("cannot read the usage cache '%s': %s", p->usage_cache,
		         fileio_strerror(rc));
	}
	free(text);
	if (!root) {
		root = cJSON_CreateObject();
		if (root && (!cJSON_AddNumberToObject(root, "version", CACHE_VERSION) ||
		             !cJSON_AddObjectToObject(root, "accounts"))) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	return root;
}

int usage_cache_load(const struct paths *p, const char *account_id, struct usage *u)
{
	cJSON *root = cache_read(p);
	const cJSON *e;
	int rc;

	usage_init(u);
	if (!root) {
		return -ENOMEM;
	}
	e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "accounts"),
	                                     account_id);
	rc = cJSON_IsObject(e) ? usage_from_json(e, u) : -ENOENT;
	cJSON_Delete(root);
	return rc;
}

int usage_cache_load_all(const struct paths *p, const char *const *ids, size_t n, struct usage *out,
                         bool *found_each)
{
	cJSON *root = cache_read(p);
	const cJSON *accounts = cJSON_GetObjectItemCaseSensitive(root, "accounts"), *e;
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		usage_init(&out[i]);
		e = ids[i] ? cJSON_GetObjectItemCaseSensitive(accounts, ids[i]) : NULL;
		bool ok = cJSON_IsObject(e) && usage_from_json(e, &out[i]) == 0;
		if (ok) {
			found++;
		} else {
			usage_release(&out[i]);
			usage_init(&out[i]);
		}
		if (found_each) {
			found_each[i] = ok;
		}
	}
	cJSON_Delete(root);
	return root ? (int)found : -ENOMEM;
}

int usage_cache_load_store(const struct paths *p, const struct store *s, struct usage **out,
                           bool **found)
{
	size_t n = s->n ? s->n : 1;
	const char **ids = calloc(n, sizeof(*ids));
	int r = -ENOMEM;

	*out = calloc(n, sizeof(**out));
	*found = calloc(n, sizeof(**found));
	if (ids && *out && *found) {
		for (size_t i = 0; i < s->n; i++) {
			ids[i] = s->accounts[i].kind == ACCOUNT_CHATGPT ? s->accounts[i].id : NULL;
		}
		r = usage_cache_load_all(p, ids, s->n, *out, *found);
	}
	free(ids);
	if (r < 0) {
		free(*out);
		free(*found);
		*out = NULL;
		*found = NULL;
		return r;
	}
	return 0;
}

void usage_cache_free_all(struct usage *u, bool *found, size_t n)
{
	for (size_t i = 0; u && i < n; i++) {
		usage_release(&u[i]);
	}
	free(u);
	free(found);
}

static int cache_write(const struct paths *p, cJSON *root)
{
	char *text = cJSON_Print(root);
	int rc;

	if (!text) {
		return -ENOMEM;
	}
	rc = fileio_write_atomic(p->usage_cache, text, strlen(text));
	free(text);
	return rc;
}

typedef int (*cache_edit_fn)(cJSON *accounts, void *ctx);

/* Read-modify-write of the cache under its lock. */
static int cache_update(const struct paths *p, cache_edit_fn fn, void *ctx)
{
	struct lockfile lock = {0};
	char *path = util_printf("%s/usage-cache.lock", p->runtime_dir);
	cJSON *root = NULL;
	int rc = path ? paths_ensure_store(p) : -ENOMEM;

	rc = rc ? rc : lockfile_acquire(&lock, path, CACHE_LOCK_TIMEOUT_MS);
	if (rc == 0) {
		root = cache_read(p);
		rc = root ? fn(cJSON_GetObjectItemCaseSensitive(root, "accounts"), ctx) : -ENOMEM;
		rc = rc ? rc : cache_write(p, root);
		lockfile_release(&lock);
	}
	if (rc < 0) {
		log_warn("cannot update the usage cache '%s': %s", p->usage_cache, strerror(-rc));
	}
	cJSON_Delete(root);
	free(path);
	return rc;
}

struct store_ctx {
	const char *const *ids;
	const struct usage *usages;
	size_t n;
};

static cJSON *point_json(const struct forecast_point *pt)
{
	double v[POINT_FIELDS] = {(double)pt->t, pt->five_hour, (double)pt->five_hour_reset,
	                          pt->weekly, (double)pt->weekly_reset};

	return cJSON_CreateDoubleArray(v, POINT_FIELDS);
}

static bool point_from_json(const cJSON *a, struct forecast_point *pt)
{
	double v[POINT_FIELDS];
	int i = 0;
	const cJSON *it;

	if (cJSON_GetArraySize(a) != POINT_FIELDS) {
		return false;
	}
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsNumber(it)) {
			return false;
		}
		v[i++] = it->valuedouble;
	}
	*pt = (struct forecast_point){(int64_t)v[0], v[1], v[3], (int64_t)v[2], (int64_t)v[4]};
	return pt->t > 0;
}

/* The old entry's history with u's snapshot added, trimmed to the limits. */
static cJSON *next_history(const cJSON *old, const struct usage *u)
{
	cJSON *h = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(old, "history"), true);
	struct forecast_point last = {0}, pt;
	int n;

	if (!cJSON_IsArray(h)) {
		cJSON_Delete(h);
		h = cJSON_CreateArray();
	}
	n = cJSON_GetArraySize(h);
	if (!h || (n > 0 && !point_from_json(cJSON_GetArrayItem(h, n - 1), &last))) {
		cJSON_Delete(h);
		return cJSON_CreateArray(); /* a mangled history starts over */
	}
	forecast_point_from_usage(u, &pt);
	if (pt.t > last.t && (pt.five_hour >= 0 || pt.weekly >= 0)) {
		if (n > 0 && pt.t - last.t < HISTORY_MIN_GAP_S) {
			cJSON_DeleteItemFromArray(h, n - 1);
		}
		cJSON_AddItemToArray(h, point_json(&pt));
	}
	while (cJSON_GetArraySize(h) > USAGE_CACHE_HISTORY_MAX ||
	       (cJSON_GetArraySize(h) > 0 && point_from_json(h->child, &last) &&
	        last.t < pt.t - USAGE_CACHE_HISTORY_AGE_S)) {
		cJSON_DeleteItemFromArray(h, 0);
	}
	return h;
}

static int64_t old_number(const cJSON *old, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* /wham/usage counts credits but only the credit list knows when they expire: a fetch that
 * did not list them keeps the expiry the last listing found, while the count is the same. */
static void keep_expiry(cJSON *j, const cJSON *old, const struct usage *u)
{
	int64_t exp = old_number(old, "rate_limit_reset_credits_expire_at");

	if (u->reset_credits_expire_at == 0 && u->reset_credits_available > 0 &&
	    old_number(old, "rate_limit_reset_credits_available") == u->reset_credits_available &&
	    exp > (int64_t)util_now()) {
		cJSON_ReplaceItemInObjectCaseSensitive(j, "rate_limit_reset_credits_expire_at",
		                                       cJSON_CreateNumber((double)exp));
	}
}

static int store_edit(cJSON *accounts, void *ctx)
{
	struct store_ctx *c = ctx;
	const cJSON *old;
	cJSON *j, *h;

	for (size_t i = 0; i < c->n; i++) {
		if (c->usages[i].error || !c->ids[i]) {
			continue;
		}
		old = cJSON_GetObjectItemCaseSensitive(accounts, c->ids[i]);
		j = usage_to_json(&c->usages[i]);
		h = j ? next_history(old, &c->usages[i]) : NULL;
		if (!j || !h) {
			cJSON_Delete(j);
			return -ENOMEM;
		}
		keep_expiry(j, old, &c->usages[i]);
		cJSON_AddItemToObject(j, "history", h);
		cJSON_DeleteItemFromObjectCaseSensitive(accounts, c->ids[i]);
		cJSON_AddItemToObject(accounts, c->ids[i], j);
	}
	return 0;
}

int usage_cache_store(const struct paths *p, const char *const *ids, const struct usage *usages,
                      size_t n)
{
	struct store_ctx c = {ids, usages, n};

	return cache_update(p, store_edit, &c);
}

struct prune_ctx {
	const char *const *keep;
	size_t n;
};

static bool kept(const struct prune_ctx *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->keep[i] && strcmp(c->keep[i], id) == 0) {
			return true;
		}
	}
	return false;
}

static int prune_edit(cJSON *accounts, void *ctx)
{
	cJSON *it = accounts->child, *next;

	for (; it; it = next) {
		next = it->next;
		if (!it->string || !kept(ctx, it->string)) {
			cJSON_Delete(cJSON_DetachItemViaPointer(accounts, it));
		}
	}
	return 0;
}

int usage_cache_prune(const struct paths *p, const char *const *keep, size_t n)
{
	struct prune_ctx c = {keep, n};

	return cache_update(p, prune_edit, &c);
}

int usage_cache_history(const struct paths *p, const char *account_id, struct forecast_point **out,
                        size_t *n)
{
	cJSON *root = cache_read(p);
	const cJSON *h, *it;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!root) {
		return -ENOMEM;
	}
	h = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "accounts"),
	                                         account_id),
	        "history");
	if (cJSON_IsArray(h) && cJSON_GetArraySize(h) > 0) {
		*out = calloc((size_t)cJSON_GetArraySize(h), sizeof(**out));
		rc = *out ? 0 : -ENOMEM;
	}
	for (it = *out ? h->child : NULL; it; it = it->next) {
		struct forecast_point *pt = &(*out)[*n];
		if (point_from_json(it, pt) && (*n == 0 || pt->t > pt[-1].t)) {
			(*n)++;
		}
	}
	cJSON_Delete(root);
	return rc;
}
