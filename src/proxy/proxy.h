/*
 * The JSON-RPC WebSocket proxy of `codex-switch run`: the Codex TUI connects to us
 * (ws://127.0.0.1:<proxy_port()> with `Authorization: Bearer <token>`, or a unix socket: see
 * listen_path), and every TUI connection gets its own upstream connection to the real `codex
 * app-server`. The proxy is one component on the caller's epoll loop (ev.h): its sockets and
 * timers live there beside the caller's own sources. Both WebSocket ends are ours (wsframe.c):
 * see proxy_ws.c for why.
 *
 * Relay rules:
 *  - Messages are streamed fragment by fragment and never reassembled, except those matching the
 *    interception rules below (reassembled up to PROXY_INTERCEPT_MAX and handed to a hook). An
 *    intercepted message that grows past that cap is forwarded unmodified as a stream instead.
 *  - Only text messages are classified (jsonrpc_scan on their first bytes); binary is forwarded.
 *  - The proxy is not a validator: invalid JSON and invalid UTF-8 from either side are forwarded
 *    unchanged, byte for byte. Ids are opaque and never rewritten.
 *  - Messages larger than max_message close the sender with 1009 "message too large" (the other
 *    side gets the same code).
 *  - Close codes and reasons travel to the other side; reserved codes are mapped (no status ->
 *    1000, a dropped upstream -> 1011).
 *
 * Interception: a server->client message is handed to hooks->server_message when it is a request
 * or notification whose method is in server_methods, or a response whose id is a JSON string
 * starting with internal_id_prefix or whose id client_message asked to watch
 * (PROXY_FORWARD_WATCH_RESPONSE). A client->server message is handed to hooks->client_message
 * when its method is in client_methods. On the control connection every text message goes to
 * server_message and is then dropped.
 *
 * All functions must be called on the loop thread.
 */
#ifndef CS_PROXY_H
#define CS_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/jsonrpc.h"

struct ev;
struct proxy;
/* One TUI session (TUI side + its upstream), or the internal control connection. Owned by the
 * proxy; valid from conn_opened until conn_closed returns. */
struct proxy_conn;

/* Largest message handed to a hook; bigger ones are streamed through unmodified. */
#define PROXY_INTERCEPT_MAX (1024 * 1024)

/* PROXY_FORWARD_WATCH_RESPONSE (client_message only): forward the request, and hand the
 * server's response with the same id on that conn to server_message (once; at most
 * PROXY_WATCH_MAX ids are watched per conn, a newer one displaces the oldest). */
enum proxy_verdict { PROXY_FORWARD, PROXY_DROP, PROXY_FORWARD_WATCH_RESPONSE };

#define PROXY_WATCH_MAX 16

struct proxy_hooks {
	/* A whole server->client message that matched the interception rules (NUL-terminated,
	 * borrowed for the call). h is the exact head (rescanned from the whole message). Return
	 * PROXY_DROP to swallow it. May call proxy_send_* from inside: a message injected toward
	 * the client goes out after this one when the verdict is PROXY_FORWARD. */
	enum proxy_verdict (*server_message)(void *ctx, struct proxy_conn *c,
	                                     const struct jsonrpc_head *h, const char *json,
	                                     size_t len);
	/* Same for client->server messages matching client_methods. */
	enum proxy_verdict (*client_message)(void *ctx, struct proxy_conn *c,
	                                     const struct jsonrpc_head *h, const char *json,
	                                     size_t len);
	/* The upstream is established (TUI session or control). */
	void (*conn_opened)(void *ctx, struct proxy_conn *c);
	/* Called once for every conn that got conn_opened; c is invalid after this returns. */
	void (*conn_closed)(void *ctx, struct proxy_conn *c);
	/* The control connection could not be established before its deadline. */
	void (*control_failed)(void *ctx, const char *why);
};

struct proxy_config {
	struct ev *ev;     /* the loop the proxy runs on; borrowed, must outlive the proxy */
	int upstream_port; /* app-server on 127.0.0.1, unless upstream_path is set */
	/* Unix sockets (codex 0.131 and later; both set or neither): cheaper than loopback TCP
	 * for every byte relayed. listen_path is created here, in a directory only the user can
	 * enter: a TUI connects without a token (codex sends none over a unix socket), and one of
	 * another user is refused by its credentials as well. Borrowed; removed by
	 * proxy_destroy(). NULL: TCP on 127.0.0.1:0 and the token. */
	const char *listen_path;
	const char *upstream_path;
	const char *token;          /* borrowed for the proxy's lifetime: required from the TUI */
	const char *upstream_token; /* borrowed likewise: sent to the app-server; NULL = token */
	size_t max_message;         /* e.g. 128 MiB: larger messages -> close 1009 */
	size_t max_queued; /* hard cap of bytes queued per direction (e.g. 16 MiB); the source is
	                      paused at max_queued / 4 (at most 1 MiB) and resumed below
	                      max_queued / 16 (at most 256 KiB); a peer that makes the cap overflow
	                      (it stopped reading) is closed with 1008 */
	const char *const *server_methods; /* NULL-terminated, may be NULL; borrowed */
	const char *internal_id_prefix;    /* e.g. "codex-switch/", may be NULL; borrowed */
	const char *const *client_methods; /* NULL-terminated, may be NULL; borrowed */
	const struct proxy_hooks *hooks;   /* borrowed; every hook may be NULL */
	void *hooks_ctx;
};

/* Raises the soft open file limit to the hard one (a flood of connections must not starve the
 * store and the TUI); call once at the start of `run`. 0 or -errno (logged). */
int proxy_raise_fd_limit(void);

/* Creates the listener (127.0.0.1:0 or cfg->listen_path), on cfg->ev. NULL with errno set,
 * not logged: the caller decides what follows (session falls back to TCP). */
struct proxy *proxy_create(const struct proxy_config *cfg);
/* Closes everything without sending close frames and frees all memory; no hook is called.
 * NULL is a no-op. */
void proxy_destroy(struct proxy *p);

/* The listener's TCP port; 0 on a unix socket. */
int proxy_port(const struct proxy *p);
/* While held, TUIs are not accepted: their connections wait in the listen backlog (the
 * kernel completes the TCP handshake; the upgrade is answered once released), and no upstream
 * is opened for them. A TUI may then be started before the app-server is ready. */
void proxy_hold_clients(struct proxy *p, bool hold);
/* From now on every TUI's upgrade, held ones included, is answered "503 Service Unavailable":
 * for a session that ends before it served its TUI, which then exits on its own (cleaning up
 * the terminal) rather than being killed. */
void proxy_refuse_clients(struct proxy *p);
/* Opens the internal control connection: tries every 1 ms for 1 s, then backs off (2, 4 ..
 * 250 ms) until deadline_ms from now, then conn_opened(control) or control_failed(why).
 * -EALREADY when one is open or opening. */
int proxy_control_open(struct proxy *p, int deadline_ms);
/* The control conn once opened, else NULL. */
struct proxy_conn *proxy_control(struct proxy *p);
bool proxy_conn_is_control(const struct proxy_conn *c);

/* Queue a copy of a whole text message toward the server / the TUI of c, after any message
 * already in flight in that direction. -ENOTCONN (side gone, closing, or no TUI on control),
 * -E2BIG (over max_message), -ENOBUFS (the queue's hard cap overflowed: the peer is closed with
 * 1008), -ENOMEM. */
int proxy_send_to_server(struct proxy_conn *c, const char *json, size_t len);
int proxy_send_to_client(struct proxy_conn *c, const char *json, size_t len);
/* Closes both sides of c with code/reason after the data already queued (asynchronously). */
void proxy_conn_close(struct proxy_conn *c, int code, const char *reason);
/* proxy_send_to_client() to every TUI session. */
void proxy_broadcast_to_clients(struct proxy *p, const char *json, size_t len);
/* TUI sessions whose TUI side is connected. */
size_t proxy_client_count(const struct proxy *p);
/* Closes every TUI session with code/reason (after the data already queued toward it), sending
 * a close frame; asynchronous: keep running the loop until proxy_client_count() is 0. */
void proxy_close_clients(struct proxy *p, int code, const char *reason);

#endif
