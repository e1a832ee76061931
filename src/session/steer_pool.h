/*
 * The steering hub's side of the pool view (poolview.h): which messages of a TUI connection
 * are rewritten, from the session's state. Kept apart from steer_server.c and steer.c, which call
 * these at three points: steer_server_message (before and after its own handling),
 * steer_client_message, and after a switch (the hub).
 */
#ifndef CS_SESSION_STEER_POOL_H
#define CS_SESSION_STEER_POOL_H

#include "session/steer_int.h"

#include <stdbool.h>

/*
 * A message from the app-server toward a TUI (not the control connection), before steer's own
 * handling: the response to the TUI's `account/rateLimits/read` (watched by
 * steer_pool_client) and `account/updated`. True when it took the message (verdict in *v).
 */
bool steer_pool_server(struct steer *s, struct proxy_conn *conn, const struct jsonrpc_head *h,
                       const char *json, size_t len, enum proxy_verdict *v);
/* After steer's own handling of a notification toward a TUI that it forwards (v): the
 * `account/rateLimits/updated` the TUI gets. Returns the verdict. */
enum proxy_verdict steer_pool_notified(struct steer *s, struct proxy_conn *conn,
                                       const struct jsonrpc_head *h, const char *json, size_t len,
                                       enum proxy_verdict v);
/* A request of a TUI: `account/rateLimits/read` (its response is watched) and `thread/list`
 * (every account's sessions). Returns the verdict. */
enum proxy_verdict steer_pool_client(struct steer *s, struct proxy_conn *conn,
                                     const struct jsonrpc_head *h, const char *json, size_t len);
/* The session switched accounts (s->active is the new one): every TUI gets a fresh snapshot. */
void steer_pool_switched(struct steer *s);

#endif
