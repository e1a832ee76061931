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

static int store_edit(cJSON *accounts, void *ctx)
{
	struct store_ctx *c = ctx;
	cJSON *j;

	for (size_t i = 0; i < c->n; i++) {
		if (c->usages[i].error || !c->ids[i]) {
			continue;
		}
		j = usage_to_json(&c->usages[i]);
		if (!j) {
			return -ENOMEM;
		}
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
