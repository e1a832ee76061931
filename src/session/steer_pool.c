#include "session/steer_pool.h"

#include "base/log.h"
#include "session/poolview.h"
#include "session/rpcmsg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Another account can take over now: the policy's choice if the active one stopped. */
static bool spare(const struct steer *s, int64_t now)
{
	struct policy_decision d;

	if (!s->pool.loaded || !s->active.id ||
	    chooser_decide(&s->chooser, &s->pool.cur, s->active.id, s->live_valid ? &s->live : NULL,
	                   POLICY_HARD, now, &d)) {
		return false;
	}
	return d.action == POLICY_SWITCH && d.index >= 0 &&
	       strcmp(s->pool.cur.store.accounts[d.index].id, s->active.id) != 0;
}

/* The ChatGPT accounts of the pool with what is known of their limits (the active one's from
 * the app-server when it reported them); *out is owned by the caller (free()). */
static int view_of(const struct steer *s, struct poolview *pv, struct poolview_account **out)
{
	const struct pool_snapshot *snap = &s->pool.cur;
	struct poolview_account *a = calloc(snap->store.n ? snap->store.n : 1, sizeof(*a));
	size_t n = 0;

	if (!a) {
		return -1;
	}
	for (size_t i = 0; s->pool.loaded && i < snap->store.n; i++) {
		const struct account *acc = &snap->store.accounts[i];
		bool active = s->active.id && strcmp(acc->id, s->active.id) == 0;
		if (acc->kind != ACCOUNT_CHATGPT) {
			continue;
		}
		a[n].name = acc->name;
		a[n].active = active;
		a[n].live = active && s->live_valid;
		a[n].usage = active && s->live_valid ? &s->live
		             : snap->in_cache[i]     ? &snap->cached[i]
		                                     : NULL;
		n++;
	}
	pv->now = (int64_t)time(NULL);
	pv->accounts = a;
	pv->n = n;
	pv->spare = spare(s, pv->now);
	*out = a;
	return 0;
}

/* Sends the rewritten message (owned, may be NULL) instead of the original. */
static enum proxy_verdict instead(struct steer *s, struct proxy_conn *conn, char *json)
{
	int r;

	if (!json) {
		return PROXY_FORWARD;
	}
	r = s->ops->send_to_tui(s->ctx, conn, json);
	free(json);
	return r < 0 ? PROXY_FORWARD : PROXY_DROP;
}

/* The active account's own bucket, as just reported: a TUI that reads the buckets only at
 * start (0.117) shows the active account's current numbers in /status this way. */
static void send_active_bucket(struct steer *s, struct proxy_conn *conn, const struct poolview *pv)
{
	char *json;

	for (size_t i = 0; i < pv->n; i++) {
		if (pv->accounts[i].active && (json = poolview_account_update(pv, i))) {
			s->ops->send_to_tui(s->ctx, conn, json);
			free(json);
		}
	}
}

static void send_snapshot(struct steer *s, struct proxy_conn *conn)
{
	struct poolview pv;
	struct poolview_account *a;
	const struct usage *u = NULL;
	char *json;

	if (view_of(s, &pv, &a)) {
		return;
	}
	for (size_t i = 0; i < pv.n; i++) {
		u = pv.accounts[i].active ? pv.accounts[i].usage : u;
	}
	json = u ? poolview_snapshot(&pv, u) : NULL;
	if (json) {
		s->ops->send_to_tui(s->ctx, conn, json);
	}
	free(json);
	/* Every account's own bucket too: "(active)" moved, and a TUI that does not read them
	 * again for /status learns it only this way. */
	for (size_t i = 0; i < pv.n; i++) {
		if ((json = poolview_account_update(&pv, i))) {
			s->ops->send_to_tui(s->ctx, conn, json);
		}
		free(json);
	}
	free(a);
}

bool steer_pool_server(struct steer *s, struct proxy_conn *conn, const struct jsonrpc_head *h,
                       const char *json, size_t len, enum proxy_verdict *v)
{
	struct poolview pv;
	struct poolview_account *a;

	if (h->kind == JSONRPC_NOTIFICATION && strcmp(h->method, "account/updated") == 0) {
		/* It clears the TUI's limits: the new account's follow it (queued after it). */
		*v = PROXY_FORWARD;
		send_snapshot(s, conn);
		return true;
	}
	if (h->kind != JSONRPC_RESPONSE || jsonrpc_id_has_prefix(h, RPCMSG_ID_PREFIX)) {
		return false;
	}
	/* Only the responses steer_pool_client watched come here without our prefix. */
	*v = PROXY_FORWARD;
	if (view_of(s, &pv, &a) == 0) {
		*v = instead(s, conn, poolview_read_response(&pv, json, len));
		free(a);
	}
	return true;
}

enum proxy_verdict steer_pool_notified(struct steer *s, struct proxy_conn *conn,
                                       const struct jsonrpc_head *h, const char *json, size_t len,
                                       enum proxy_verdict v)
{
	struct poolview pv;
	struct poolview_account *a;

	if (v != PROXY_FORWARD || strcmp(h->method, "account/rateLimits/updated") != 0 ||
	    view_of(s, &pv, &a)) {
		return v;
	}
	v = instead(s, conn, poolview_updated(&pv, json, len));
	send_active_bucket(s, conn, &pv);
	free(a);
	return v;
}

enum proxy_verdict steer_pool_client(struct steer *s, struct proxy_conn *conn,
                                     const struct jsonrpc_head *h, const char *json, size_t len)
{
	char *listing;
	int r;

	/* The listing goes out instead of the request, right where it was in the stream. */
	if (h->kind != JSONRPC_REQUEST) {
		return PROXY_FORWARD;
	}
	if (strcmp(h->method, "account/rateLimits/read") == 0) {
		return PROXY_FORWARD_WATCH_RESPONSE;
	}
	if (strcmp(h->method, "thread/list") != 0 || !(listing = poolview_thread_list(json, len))) {
		return PROXY_FORWARD;
	}
	r = s->ops->send_to_server(s->ctx, conn, listing);
	if (r < 0) {
		log_warn("cannot list the sessions of every account: %s", strerror(-r));
		return PROXY_FORWARD;
	}
	return PROXY_DROP;
}

void steer_pool_switched(struct steer *s)
{
	send_snapshot(s, NULL);
}
