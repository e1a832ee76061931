/*
 * Sending a turn again after a usage limit, so the user types a prompt once. When a turn fails
 * on a usage limit and codex-switch will switch (or wait for a reset), the plan holds that
 * turn: the failed turn's completion is held back from the TUI (its spinner goes on), and once
 * the next account is in, the turn is sent again on the TUI's own connection:
 *   - nothing came of it yet: thread/revert {beforeTurnId: failed turn}, then the same
 *     turn/start, so the model's context holds the prompt once;
 *   - it had produced items (an answer begun, a tool run): a new turn asks the model to
 *     continue, so no tool runs twice and nothing shown is taken back.
 * The TUI did not start that turn, so it would show the user's message a second time: the
 * userMessage items of the re-sent turn, and the revert's notification, are not forwarded.
 * At most one re-send per turn and account; a prompt the user types meanwhile wins.
 */
#ifndef CS_SESSION_RESUBMIT_H
#define CS_SESSION_RESUBMIT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define RESUBMIT_MAX_TRIES 8 /* accounts one turn may be sent again on */
#define RESUBMIT_CONTINUE_TEXT                                                                  \
	"Your previous response was cut off by a usage limit. Continue from where it stopped; " \
	"do not repeat what is already done."

struct proxy_conn;

enum resubmit_state {
	RESUBMIT_IDLE,
	RESUBMIT_HELD,      /* the failed turn is held; waiting for its completion and an account */
	RESUBMIT_REVERTING, /* thread/revert sent */
	RESUBMIT_STARTING,  /* turn/start sent, its turn not yet known */
	RESUBMIT_RUNNING,   /* the re-sent turn runs */
};

struct resubmit_ops {
	void *ctx;
	/* Sends json (owned: freed by the callee) toward the app-server on conn. */
	int (*to_server)(void *ctx, struct proxy_conn *conn, char *json);
	/* Sends json (borrowed) to the TUI of conn. */
	int (*to_tui)(void *ctx, struct proxy_conn *conn, const char *json);
	/* The held completion of turn_id went to the TUI: that turn has ended there. */
	void (*released)(void *ctx, const char *turn_id);
};

struct resubmit {
	struct resubmit_ops ops;
	char prefix[96]; /* of our request ids: RPCMSG_ID_PREFIX "<run>/turn/" */
	long next_id;
	enum resubmit_state state;
	struct proxy_conn *conn;
	char thread_id[128];
	char failed_turn[128]; /* the turn that hit the limit */
	char scrub_turn[128]; /* its completion still gets its error removed, even after a cancel */
	char new_turn[128];   /* the re-sent turn, once known */
	char req_id[160];     /* our request under way */
	char *request;        /* the TUI's turn/start (owned) */
	size_t len;
	bool produced;      /* the failed turn had produced items: continue, not redo */
	bool completed;     /* its turn/completed arrived (held in `held`) */
	bool account_ready; /* the next account is logged in */
	bool abandon;       /* the user sent a turn while the failed one was being taken out */
	bool rollback;      /* this app-server has no thread/revert: thread/rollback instead */
	bool parked;        /* every account is spent: the TUI gets the completion now */
	bool foreign;       /* the failed turn was codex-switch's own re-sent turn */
	char *held;         /* the failed turn's completion, rewritten without the error */
	char tried[RESUBMIT_MAX_TRIES][64]; /* accounts the turn was sent on */
	size_t ntried;
};

void resubmit_init(struct resubmit *r, const struct resubmit_ops *ops, const char *run_id);
void resubmit_release(struct resubmit *r);

/*
 * The turn (thread_id, failed_turn) of conn failed on a usage limit on account_id; request
 * (len bytes, copied) is the TUI's turn/start of it, produced says it had produced items.
 * 0: held (the caller drops the error notification). -EALREADY: it was sent again too often
 * (it is not held: the error goes to the TUI). -ENOMEM. It is sent again only on an account it
 * did not run on yet, or on any once the session waited for a reset (resubmit_park).
 */
int resubmit_hold(struct resubmit *r, struct proxy_conn *conn, const char *thread_id,
                  const char *failed_turn, const char *request, size_t len, bool produced,
                  const char *account_id);
/* A plan is held or under way. */
bool resubmit_active(const struct resubmit *r);
/* A failed turn is held, waiting to be sent again. */
bool resubmit_held(const struct resubmit *r);

/* The next account is logged in: send the turn again (now, or once the failed turn ended). */
void resubmit_go(struct resubmit *r, const char *account_id);
/* The same, on an account the turn already ran on but that the policy chose again since
 * (its limit was reset meanwhile, by a credit or the clock). */
void resubmit_go_again(struct resubmit *r, const char *account_id);
/* Gives the plan up: the held completion goes to the TUI, which then is idle. */
void resubmit_cancel(struct resubmit *r);
/* Waits (every account spent): the held completion goes to the TUI (now, or when it comes)
 * so the TUI stays usable, and the plan stays for resubmit_go() later. */
void resubmit_park(struct resubmit *r);

/* A response to one of our requests (id starts with our prefix): true when it was ours. */
bool resubmit_on_response(struct resubmit *r, const char *id, const cJSON *msg);

/*
 * A server notification on conn (params borrowed): false when it must not reach the TUI (the
 * failed turn's completion while held, the re-sent turn's user message, the revert's notice).
 */
bool resubmit_filter(struct resubmit *r, struct proxy_conn *conn, const char *method,
                     const cJSON *params, const char *json, size_t len);

/* turn_id is the turn codex-switch sent again (known from its turn/started on). */
bool resubmit_owns(const struct resubmit *r, const char *turn_id);

/* The TUI sent a turn/start or turn/interrupt on thread_id: its choice wins over the plan. */
void resubmit_user_acted(struct resubmit *r, const char *thread_id);
/* conn is gone. */
void resubmit_conn_closed(struct resubmit *r, struct proxy_conn *conn);

#endif
