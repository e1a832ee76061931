#include "session/chooser.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void chooser_init(struct chooser *c, const struct policy_config *policy)
{
	memset(c, 0, sizeof(*c));
	if (policy) {
		c->policy = *policy;
	} else {
		policy_config_defaults(&c->policy);
	}
}

static struct chooser_mark *find(struct chooser *c, const char *id)
{
	for (size_t i = 0; i < c->nmarks; i++) {
		if (strcmp(c->marks[i].id, id) == 0) {
			return &c->marks[i];
		}
	}
	return NULL;
}

void chooser_mark(struct chooser *c, const char *id, int64_t until, int64_t now)
{
	struct chooser_mark *m = find(c, id);

	if (!until) {
		until = now + CHOOSER_UNKNOWN_RESET;
	}
	if (!m && c->nmarks < CHOOSER_MAX_MARKS) {
		m = &c->marks[c->nmarks++];
		snprintf(m->id, sizeof(m->id), "%s", id);
	}
	if (m) {
		m->until = until;
	}
}

void chooser_mark_workspace(struct chooser *c, const struct pool_snapshot *snap,
                            const char *workspace, int64_t until, int64_t now)
{
	if (!workspace) {
		return;
	}
	for (size_t i = 0; i < snap->store.n; i++) {
		const char *ws = snap->store.accounts[i].chatgpt_account_id;
		if (ws && strcmp(ws, workspace) == 0) {
			chooser_mark(c, snap->store.accounts[i].id, until, now);
		}
	}
}

int64_t chooser_marked_until(const struct chooser *c, const char *id)
{
	for (size_t i = 0; i < c->nmarks; i++) {
		if (strcmp(c->marks[i].id, id) == 0) {
			return c->marks[i].until;
		}
	}
	return 0;
}

int chooser_decide(const struct chooser *c, const struct pool_snapshot *snap, const char *active_id,
                   const struct usage *live, enum policy_mode mode, int64_t now,
                   struct policy_decision *d)
{
	size_t n = snap->store.n;
	struct policy_account *pa = calloc(n ? n : 1, sizeof(*pa));
	char(*labels)[256] = calloc(n ? n : 1, sizeof(*labels));
	long current = -1;

	if (!pa || !labels) {
		free(pa);
		free(labels);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct account *a = &snap->store.accounts[i];
		bool active = active_id && strcmp(a->id, active_id) == 0;

		account_label(a, labels[i], sizeof(labels[i]));
		pa[i].id = a->id;
		pa[i].label = labels[i];
		pa[i].workspace = a->chatgpt_account_id;
		pa[i].chatgpt = a->kind == ACCOUNT_CHATGPT;
		pa[i].disabled = a->disabled;
		pa[i].needs_relogin = a->relogin_reason != NULL;
		pa[i].last_used_at = a->last_used_at / 1000000; /* the store keeps microseconds */
		pa[i].usage = snap->in_cache[i] ? &snap->cached[i] : NULL;
		if (active && live) {
			pa[i].usage = live;
		}
		pa[i].exhausted_until = chooser_marked_until(c, a->id);
		if (active) {
			current = (long)i;
		}
	}
	policy_decide(&c->policy, pa, n, current, mode, now, c->last_soft_switch, d);
	free(pa);
	free(labels);
	return 0;
}

void chooser_switched(struct chooser *c, enum policy_mode mode, int64_t now)
{
	if (mode == POLICY_SOFT) {
		c->last_soft_switch = now;
	}
}
