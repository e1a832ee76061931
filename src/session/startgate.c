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
	for (size_t i = 0; i < g->n; i++) {
		util_free_secret(g->held[i].json);
	}
	memset(g, 0, sizeof(*g));
}

void startgate_close(struct startgate *g)
{
	g->closed = true;
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

	g->closed = false;
	g->n = 0;
	for (size_t i = 0; i < n; i++) {
		send(ctx, g->held[i].conn, g->held[i].json);
		g->held[i].json = NULL;
	}
}
