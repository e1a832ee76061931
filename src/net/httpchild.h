/*
 * The HTTP requests of `run`'s relay process, each done by a short-lived child: the child
 * (`codex-switch __http`, our own binary again) reads one request on its stdin, performs it
 * with http_perform() and writes the answer on its stdout. libcurl, OpenSSL's TLS state and
 * the requests' heap then never enter the relay, whose resident memory stays what relaying
 * needs for hours, however many usage re-checks and token renewals a session makes.
 *
 * Secrets (bearer and refresh tokens) travel only through the two pipes, never argv or a file.
 * The child's stderr is /dev/null: the TUI owns the terminal, and every failure comes back
 * in the answer's error text.
 */
#ifndef CS_NET_HTTPCHILD_H
#define CS_NET_HTTPCHILD_H

#include "net/http.h"

/* Largest request a child accepts on its stdin (URL, header lines and body). */
#define HTTPCHILD_MAX_REQUEST (1024 * 1024)

/*
 * From now on every http_perform() of this process, from any thread, runs in a child.
 * Call it once, before the process has threads. Off the event loop only, as http_perform().
 */
void httpchild_enable(void);

/*
 * The parent's side of one request, with http_perform()'s contract; a child that cannot be
 * started or gives no answer within the request's timeout (plus a margin for its start)
 * yields -EIO or -ETIMEDOUT with err saying so. Blocking.
 */
int httpchild_perform(const struct http_request *req, struct http_response *resp, char *err,
                      size_t errsz);

/* The child's side (`codex-switch __http`): one request from in_fd, its answer to out_fd.
 * Returns the exit status: 0 when an answer was written, 1 otherwise. */
int httpchild_serve(int in_fd, int out_fd);

#endif
