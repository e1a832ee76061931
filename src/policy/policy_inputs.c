#include "policy/policy_inputs.h"

#include "base/log.h"
#include "store/usage_cache.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct usage *fetched_for(const char *id, const char *const *ids,
                                       const struct usage *fetched, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(ids[k], id) == 0) {
			return &fetched[k];
		}
	}
	return NULL;
}

/* The usage the policy gets for a: a successful fetch, else the cache, else none. */
static const struct usage *usage_for(const struct account *a, const struct usage *f, bool in_cache,
                                     struct policy_inputs_entry *e)
{
	if (a->kind != ACCOUNT_CHATGPT) {
		return NULL;
	}
	if (f && !f->error) {
		return f;
	}
	e->fetch_error = f ? f->error : NULL;
	if (in_cache) {
		e->from_cache = true;
		return &e->cached;
	}
	return NULL;
}

/* Every account's cache entry into e[i].cached, the file read once. */
static int load_cache(const struct paths *p, const struct store *s, struct policy_inputs_entry *e,
                      bool *found)
{
	struct usage *u;
	bool *have;
	int r = usage_cache_load_store(p, s, &u, &have);

	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < s->n; i++) {
		e[i].cached = u[i]; /* moved */
		found[i] = have[i];
	}
	free(u);
	free(have);
	return 0;
}

int policy_inputs_init(struct policy_inputs *v, const struct paths *p, const struct store *s,
                       const char *const *ids, const struct usage *fetched, size_t nfetched)
{
	bool *found;

	memset(v, 0, sizeof(*v));
	v->accounts = calloc(s->n ? s->n : 1, sizeof(*v->accounts));
	v->e = calloc(s->n ? s->n : 1, sizeof(*v->e));
	if (!v->accounts || !v->e) {
		policy_inputs_release(v);
		return -ENOMEM;
	}
	v->n = s->n;
	found = calloc(s->n ? s->n : 1, sizeof(*found));
	if (!found || load_cache(p, s, v->e, found)) {
		free(found);
		policy_inputs_release(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct account *a = &s->accounts[i];
		struct policy_account *pa = &v->accounts[i];
		account_label(a, v->e[i].label, sizeof(v->e[i].label));
		pa->id = a->id;
		pa->label = v->e[i].label;
		pa->workspace = a->chatgpt_account_id;
		pa->chatgpt = a->kind == ACCOUNT_CHATGPT;
		pa->disabled = a->disabled;
		pa->needs_relogin = a->relogin_reason != NULL;
		pa->last_used_at = a->last_used_at / 1000000; /* the store keeps microseconds */
		pa->usage = usage_for(a, fetched_for(a->id, ids, fetched, nfetched), found[i],
		                      &v->e[i]);
	}
	free(found);
	return 0;
}

void policy_inputs_release(struct policy_inputs *v)
{
	for (size_t i = 0; v->e && i < v->n; i++) {
		usage_release(&v->e[i].cached);
	}
	free(v->accounts);
	free(v->e);
	memset(v, 0, sizeof(*v));
}

int policy_inputs_config(const struct paths *p, struct policy_config *c)
{
	char err[1024];
	int r = policy_config_load(p->config, c, err, sizeof(err));

	if (r) {
		log_error("%s", err);
	}
	return r;
}

long policy_inputs_next(const struct paths *p, const struct store *s, long current,
                        const char *const *ids, const struct usage *fetched, size_t nfetched)
{
	struct policy_config c;
	struct policy_inputs v;
	char err[1024];
	long next;

	if (policy_config_load(p->config, &c, err, sizeof(err))) {
		log_warn("%s; the defaults are used", err);
	}
	if (policy_inputs_init(&v, p, s, ids, fetched, nfetched)) {
		return -1;
	}
	next = policy_next(&c, v.accounts, v.n, current, util_now());
	policy_inputs_release(&v);
	return next;
}
