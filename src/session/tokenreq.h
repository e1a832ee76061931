/*
 * Answers to the app-server's account/chatgptAuthTokens/refresh requests (sent when a backend
 * request got a 401). The TUI never answers them, so codex-switch does, within the server's
 * 10 s, with the active account's tokens: refreshed on the worker through the same locked path
 * as every other refresh, or as they are when someone refreshed them meanwhile.
 */
#ifndef CS_SESSION_TOKENREQ_H
#define CS_SESSION_TOKENREQ_H

#include "session/part.h"
#include "store/account.h"

#define TOKENREQ_ANSWER_US (8 * 1000000) /* the app-server gives up after 10 s */

struct proxy_conn;

struct tokenreq_ops {
	void *ctx;
	/* Sends json (owned: freed by the callee, as a secret) to the app-server side of conn. */
	int (*answer)(void *ctx, struct proxy_conn *conn, char *json);
	/* The app-server got fresh tokens of account a (borrowed for the call). */
	void (*fresh)(void *ctx, const struct account *a);
	/* The refresh token of account_id was refused for good; msg says so in plain words. */
	void (*revoked)(void *ctx, const char *account_id, const char *msg);
};

struct tokenreq_pending;

struct tokenreq {
	const struct session_env *env; /* borrowed */
	struct tokenreq_ops ops;
	struct tokenreq_pending *list;
};

void tokenreq_init(struct tokenreq *t, const struct session_env *env,
                   const struct tokenreq_ops *ops);
void tokenreq_release(struct tokenreq *t);

/*
 * A refresh request with JSON id raw_id arrived on conn (an opaque handle, only passed back to
 * ops.answer); active is the account logged in now (borrowed for the call).
 */
int tokenreq_on_request(struct tokenreq *t, struct proxy_conn *conn, const char *raw_id,
                        const struct account *active);
/* conn is gone: its pending answers are dropped. */
void tokenreq_conn_closed(struct tokenreq *t, struct proxy_conn *conn);

#endif
