/*
 * The local HTTP server that receives the browser's OAuth callback
 * (http://localhost:<port>/auth/callback?code=..&state=..). Plain blocking sockets with poll()
 * timeouts: it runs in the `login` command only. It serves one request at a time and answers
 * only GET; the request line is bounded.
 */
#ifndef CS_OAUTH_SERVER_H
#define CS_OAUTH_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * gets 404 and the wait goes on. On a callback with the right state and a code: 0, *code is
 * a new string (caller frees), *client is the open connection to answer with
 * oauth_server_reply(). A wrong state or an error from the issuer: the browser gets an error
 * page, err says why, and the result is -EPERM (state) or -EACCES (issuer error).
 * -ETIMEDOUT at the deadline.
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
