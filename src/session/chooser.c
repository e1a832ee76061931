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

struct inputs {
	struct policy_account *pa;
	char (*labels)[256];
	long current;
};

static void inputs_free(struct inputs *in)
{
	free(in->pa);
	free(in->labels);
}

/* The policy's view of snap: the session's marks, and the live limits for the active one. */
static int inputs_build(const struct chooser *c, const struct pool_snapshot *snap,
                        const char *active_id, const struct usage *live, struct inputs *in)
{
	size_t n = snap->store.n;

	in->pa = calloc(n ? n : 1, sizeof(*in->pa));
	in->labels = calloc(n ? n : 1, sizeof(*in->labels));
	in->current = -1;
	if (!in->pa || !in->labels) {
		inputs_free(in);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct account *a = &snap->store.accounts[i];
		struct policy_account *pa = &in->pa[i];
		bool active = active_id && strcmp(a->id, active_id) == 0;

		account_label(a, in->labels[i], sizeof(in->labels[i]));
		pa->id = a->id;
		pa->label = in->labels[i];
		pa->workspace = a->chatgpt_account_id;
		pa->chatgpt = a->kind == ACCOUNT_CHATGPT;
		pa->disabled = a->disabled;
		pa->needs_relogin = a->relogin_reason != NULL;
		pa->last_used_at = a->last_used_at / 1000000; /* the store keeps microseconds */
		pa->usage = snap->in_cache[i] ? &snap->cached[i] : NULL;
		if (active && live) {
			pa->usage = live;
		}
		pa->exhausted_until = chooser_marked_until(c, a->id);
		if (active) {
			in->current = (long)i;
		}
	}
	return 0;
}

int chooser_decide(const struct chooser *c, const struct pool_snapshot *snap, const char *active_id,
                   const struct usage *live, enum policy_mode mode, int64_t now,
                   struct policy_decision *d)
{
	struct inputs in;

	if (inputs_build(c, snap, active_id, live, &in)) {
		return -ENOMEM;
	}
	policy_decide(&c->policy, in.pa, snap->store.n, in.current, mode, now, c->last_soft_switch,
	              d);
	inputs_free(&in);
	return 0;
}

long chooser_first_free(const struct chooser *c, const struct pool_snapshot *snap,
                        const char *active_id, const struct usage *live, int64_t now, int64_t *when,
                        char *why, size_t whysz)
{
	struct inputs in;
	long i;

	*when = 0;
	if (inputs_build(c, snap, active_id, live, &in)) {
		return -1;
	}
	i = policy_first_free(&c->policy, in.pa, snap->store.n, in.current, now, when, why, whysz);
	inputs_free(&in);
	return i;
}

void chooser_switched(struct chooser *c, enum policy_mode mode, int64_t now)
{
	if (mode == POLICY_SOFT) {
		c->last_soft_switch = now;
	}
}
