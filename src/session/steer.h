/*
 * Steering the accounts of a running session: which account the app-server holds, when to
 * switch and to whom, and telling the user. It owns the account parts (pool, chooser,
 * switcher, tokenreq, maintain, reconcile, notice) and decides on what they report; the
 * supervisor (session.c) owns it, hands it the proxy's messages, and gives it a narrow way
 * back (steer_ops).
 */
#ifndef CS_SESSION_STEER_H
#define CS_SESSION_STEER_H

#include "session/steer_int.h"
#include "session/steer_server.h"

#include <stdbool.h>
#include <stddef.h>

/* Nothing runs yet; ops and policy (may be NULL: defaults) are borrowed for s's lifetime. */
void steer_init(struct steer *s, const struct session_env *env, const struct steer_ops *ops,
                void *ctx, const char *run_id, const struct policy_config *policy);
void steer_release(struct steer *s);

/*
 * Loads the accounts (blocking: before the loop runs); start_id is the start account, or
 * NULL while it is being chosen (steer_start() then names it).
 */
int steer_load(struct steer *s, const char *start_id, char *err, size_t errsz);

/*
 * The start account was chosen while the app-server started: a (borrowed; tokens fresh) is
 * logged in as soon as the control connection is initialized, and ops->logged_in follows.
 * note (may be NULL) is shown to the user once the TUI is there (why this account).
 */
int steer_start(struct steer *s, const struct account *a, const char *note);

/*
 * The start account given to steer_load() is provisional: the TUI's turns are held until
 * steer_settle() confirms it or the switch to the account it names is done.
 */
void steer_provisional(struct steer *s);

/*
 * The start choice made with fresh usage, after a provisional start: a (borrowed; tokens
 * fresh) stays if it is the active account, else the session switches to it, note (may be
 * NULL) being the reason the TUI is told; a NULL a keeps the provisional account. Then the
 * held turns go.
 */
int steer_settle(struct steer *s, const struct account *a, const char *note);

/* The control connection opened: initialize, then the start account once it is known (or
 * the next login). */
int steer_control_opened(struct steer *s);
void steer_conn_closed(struct steer *s, struct proxy_conn *conn, bool control);

/* The TUI runs: watch for outside changes, act on triggers. */
void steer_running(struct steer *s);
/* The session is ending: decide nothing more. */
void steer_stopping(struct steer *s);

#endif
