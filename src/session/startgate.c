#include "session/startgate.h"

#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void startgate_init(struct startgate *g)
{
	memset(g, 0, sizeof(*g));
}

void startgate_release(struct startgate *g)
{
	if (g->ev) {
		ev_timer_stop(g->ev, &g->tm);
	}
	for (size_t i = 0; i < g->n; i++) {
		util_free_secret(g->held[i].json);
	}
	memset(g, 0, sizeof(*g));
}

void startgate_close(struct startgate *g, struct ev *ev, int64_t wait_us, void (*late)(void *ctx),
                     void *ctx)
{
	g->closed = true;
	g->ev = ev;
	g->wait_us = wait_us;
	g->late = late;
	g->ctx = ctx;
}

static void expired(struct ev_timer *t)
{
	struct startgate *g = EV_CONTAINER_OF(t, struct startgate, tm);

	if (g->closed && g->n) {
		g->late(g->ctx);
	}
}

bool startgate_closed(const struct startgate *g)
{
	return g->closed;
}

int startgate_hold(struct startgate *g, struct proxy_conn *conn, const char *json, size_t len)
{
	char *copy;

	if (g->n >= STARTGATE_MAX) {
		return -ENOBUFS;
	}
	copy = malloc(len + 1);
	if (!copy) {
		return -ENOMEM;
	}
	memcpy(copy, json, len);
	copy[len] = '\0';
	g->held[g->n].conn = conn;
	g->held[g->n].json = copy;
	g->n++;
	if (g->n == 1 && g->ev) {
		ev_timer_start(g->ev, &g->tm, expired, g->wait_us);
	}
	return 0;
}

void startgate_conn_closed(struct startgate *g, struct proxy_conn *conn)
{
	size_t k = 0;

	for (size_t i = 0; i < g->n; i++) {
		if (g->held[i].conn == conn) {
			util_free_secret(g->held[i].json);
		} else {
			g->held[k++] = g->held[i];
		}
	}
	g->n = k;
}

void startgate_open(struct startgate *g,
                    void (*send)(void *ctx, struct proxy_conn *conn, char *json), void *ctx)
{
	size_t n = g->n;

	if (g->ev) {
		ev_timer_stop(g->ev, &g->tm);
	}
	g->closed = false;
	g->n = 0;
	for (size_t i = 0; i < n; i++) {
		send(ctx, g->held[i].conn, g->held[i].json);
		g->held[i].json = NULL;
	}
}
