/*
 * The turns of the TUI's threads as they pass through the proxy: the last turn/start the TUI
 * sent on each thread (so a turn that hit a usage limit can be sent again on the next
 * account), and which turn each thread runs now.
 */
#ifndef CS_SESSION_TURNS_H
#define CS_SESSION_TURNS_H

#include <stdbool.h>
#include <stddef.h>

#define TURNS_MAX       32            /* threads remembered */
#define TURNS_MAX_BYTES (1024 * 1024) /* the proxy hands over at most this much anyway */

struct proxy_conn;

struct turn {
	char thread_id[128];
	char turn_id[128];       /* from turn/started; "" until then */
	struct proxy_conn *conn; /* the TUI connection that sent it (opaque) */
	char *request;           /* the whole turn/start, as the TUI sent it (owned) */
	size_t len;
	bool produced;       /* the running turn produced items (an answer, a tool run) */
	char account_id[64]; /* the account active when the turn started */
	struct turn *next;
};

#define TURNS_RUNNING_MAX 16 /* turns running at once that are tracked; more are not */

struct turns {
	struct turn *list; /* newest first */
	size_t n;
	/* Every turn the app-server runs for a TUI connection (also hidden threads' and those
	 * codex-switch sent again), from turn/started to turn/completed. */
	struct {
		struct proxy_conn *conn; /* opaque */
		char id[128];
	} running[TURNS_RUNNING_MAX];
	size_t nrunning;
};

void turns_init(struct turns *t);
void turns_release(struct turns *t);

/* The TUI sent turn/start (json, len; copied) on conn. -EINVAL when it names no thread. */
int turns_on_start(struct turns *t, struct proxy_conn *conn, const char *json, size_t len);
/* turn/started: thread_id now runs turn_id, on account_id. */
void turns_on_started(struct turns *t, const char *thread_id, const char *turn_id,
                      const char *account_id);
/* item/started of a turn: anything but the user's own message counts as produced. */
void turns_on_item(struct turns *t, const char *thread_id, const char *turn_id,
                   const char *item_type);
/* The remembered turn of thread_id, or NULL; borrowed until the next call. */
struct turn *turns_find(struct turns *t, const char *thread_id);
/* turn/started of turn_id reached conn: it runs. */
void turns_run_started(struct turns *t, struct proxy_conn *conn, const char *turn_id);
/* turn/completed of turn_id: it runs no more. */
void turns_run_ended(struct turns *t, const char *turn_id);
/* A tracked turn runs. */
bool turns_running(const struct turns *t);
/* conn is gone: its turns are forgotten, the running ones too. */
void turns_conn_closed(struct turns *t, struct proxy_conn *conn);

#endif
