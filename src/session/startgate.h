/*
 * The TUI's turns wait while the start account is provisional. `run` may log in the account
 * auth.json holds before the fresh usage is in (a recent usage cache said it can be used), so
 * the TUI starts at once; until the fresh usage confirms that account, or the switch to the
 * policy's choice is done, every turn/start the TUI sends is held here and sent afterwards,
 * in order. No turn reaches the app-server on an account the start policy would not choose,
 * unless the fresh usage is later than the bound its owner sets (startgate_close()).
 */
#ifndef CS_SESSION_STARTGATE_H
#define CS_SESSION_STARTGATE_H

#include "base/ev.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proxy_conn;

#define STARTGATE_MAX 16 /* held turns; a TUI sends one at a time */

struct startgate {
	bool closed;
	struct ev *ev; /* borrowed; NULL: a held turn waits unbounded */
	int64_t wait_us;
	void (*late)(void *ctx);
	void *ctx;
	struct ev_timer tm;
	size_t n;
	struct {
		struct proxy_conn *conn; /* borrowed: dropped when it closes */
		char *json;              /* owned */
	} held[STARTGATE_MAX];
};

void startgate_init(struct startgate *g);
/* Frees what is still held (never sent). */
void startgate_release(struct startgate *g);

/*
 * From now on turns are held. With ev, late(ctx) runs on the loop wait_us after the first
 * turn was held while the gate is still closed; it may open the gate or let it wait.
 */
void startgate_close(struct startgate *g, struct ev *ev, int64_t wait_us, void (*late)(void *ctx),
                     void *ctx);
bool startgate_closed(const struct startgate *g);

/* Keeps a copy of json[0..len) from conn. 0, -ENOBUFS when STARTGATE_MAX are held, -ENOMEM. */
int startgate_hold(struct startgate *g, struct proxy_conn *conn, const char *json, size_t len);

/* conn closed: its held turns go. */
void startgate_conn_closed(struct startgate *g, struct proxy_conn *conn);

/* Opens the gate: send(ctx, conn, json) for every held turn, in order (json owned by send). */
void startgate_open(struct startgate *g,
                    void (*send)(void *ctx, struct proxy_conn *conn, char *json), void *ctx);

#endif
