/*
 * The proxy's intercepted messages, as the steering hub handles them: what the app-server
 * reports (limits, usage-limit errors, turns and threads starting, token refresh requests,
 * answers to our own requests) and the TUI's requests that steer watches. session.c calls these
 * through steer.h; the provisional start sends its held turns through steer_client_message.
 */
#ifndef CS_SESSION_STEER_SERVER_H
#define CS_SESSION_STEER_SERVER_H

#include "proxy/jsonrpc.h"
#include "session/steer_int.h"

#include <stdbool.h>
#include <stddef.h>

/* The methods these take, for the proxy's config (server_methods, client_methods): NULL-ended. */
extern const char *const steer_server_methods[];
extern const char *const steer_client_methods[];

/* The proxy's intercepted messages (proxy.h rules: conn, h and json are borrowed for the call);
 * the verdict is the proxy's. */
enum proxy_verdict steer_server_message(struct steer *s, struct proxy_conn *conn, bool control,
                                        const struct jsonrpc_head *h, const char *json, size_t len);
enum proxy_verdict steer_client_message(struct steer *s, struct proxy_conn *conn,
                                        const struct jsonrpc_head *h, const char *json, size_t len);

#endif
