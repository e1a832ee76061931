/*
 * The start of a session as the steering hub sees it: the stored accounts loaded, the start
 * account logged in on the control connection, and the provisional start, where the TUI's
 * turns wait at the gate until the start choice made with fresh usage confirms or replaces the
 * account. session.c calls the public half through steer.h; the hub calls the steer_start_*
 * half when a login ends and when the TUI runs.
 */
#ifndef CS_SESSION_STEER_START_H
#define CS_SESSION_STEER_START_H

#include "session/steer_int.h"

#include <stddef.h>

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
 * The longest a turn of the TUI waits at the gate for the fresh usage. Past it the turn goes
 * on the provisional account, which nothing said cannot be used; if it cannot, its usage-limit
 * error switches and sends the turn again, as on any account. Without a bound a slow backend
 * would freeze the TUI's first prompt for the whole usage timeout.
 */
#define STEER_GATE_WAIT_US (2 * 1000000LL)

/*
 * The start account given to steer_load() is provisional: the TUI's turns are held until
 * steer_settle() confirms it or the switch to the account it names is done, or for
 * STEER_GATE_WAIT_US at most. Call it once the loop exists.
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

/* The start account is logged in (s->active): a start choice that came meanwhile is applied
 * now. */
void steer_start_logged_in(struct steer *s);
/* A login ended and none is pending: the turns held at a provisional start go. */
void steer_start_open_gate(struct steer *s);
/* The TUI runs: when every account is spent already, say so at once and wait for a reset. */
void steer_start_check_spent(struct steer *s);
/* The pool loaded (also on an error): after a start choice that kept the provisional
 * account, the spent check, then the held turns go. */
void steer_start_pool_loaded(struct steer *s);

#endif
