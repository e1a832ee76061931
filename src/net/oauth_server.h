/*
 * The local HTTP server that receives the browser's OAuth callback
 * (http://localhost:<port>/auth/callback?code=..&state=..). It runs in the `login` command
 * only, with poll() over non-blocking sockets: up to OAUTH_SERVER_MAX_CONNS connections are
 * read at once (when more arrive the oldest is dropped), so a slow or silent connection never
 * holds up the browser's callback. Each request must arrive whole within
 * OAUTH_SERVER_REQUEST_MS of its connection, however it trickles in. It answers only GET;
 * the request head is bounded.
 */
#ifndef CS_OAUTH_SERVER_H
#define CS_OAUTH_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OAUTH_SERVER_MAX_CONNS  16
#define OAUTH_SERVER_REQUEST_MS 5000

struct oauth_server {
	int fd;   /* listening socket, -1 when closed */
	int port; /* the port actually bound */
};

/*
 * Listens on 127.0.0.1 at the first free port of ports[0..n) (0 = any). -EADDRINUSE when
 * all are taken.
 */
int oauth_server_listen(struct oauth_server *s, const int *ports, size_t n);

/*
 * Waits until deadline_ms (util_now_ms() clock) for a callback. A request for another path
 * gets 404, one with a wrong or missing state 400 (any local process can send it: only the
 * issuer's redirect knows the state), and the wait goes on. On a callback with the right state
 * and a code: 0, *code is a new string (caller frees), *client is the open connection to
 * answer with oauth_server_reply(). An error from the issuer (right state, no code): the
 * browser gets an error page, err says why, and the result is -EACCES. -ETIMEDOUT at the
 * deadline.
 */
int oauth_server_wait(struct oauth_server *s, const char *state, int64_t deadline_ms, char **code,
                      int *client, char *err, size_t errsz);

/* Answers the browser with a page saying whether the sign-in worked, and closes client. */
void oauth_server_reply(int client, bool ok, const char *message);

/* Closes the listening socket; a closed server is fine. */
void oauth_server_close(struct oauth_server *s);

/* Decodes %XX and '+' of a query value in place. */
void oauth_server_url_decode(char *s);

#endif
