/*
 * Steering the accounts of a running session: which account the app-server holds, when to
 * switch and to whom, and telling the user. It owns the account parts (pool, chooser,
 * switcher, tokenreq, maintain, reconcile, notice) and decides on what they report; the
 * supervisor (session.c) owns it, hands it the proxy's messages, and gives it a narrow way
 * back (steer_ops).
 *
 * One component split for size, calls going one way: steer.c, the hub (life cycle, what the
 * parts report, outside changes), calls steer_start (the start and the provisional start),
 * steer_server (the proxy's messages), steer_pool (the pool view), steer_decide (the policy's
 * answer acted on) and steer_tell (the words), which all share steer_int.h. This header is the
 * one session.c needs: it brings the public halves of steer_start.h and steer_server.h along.
 */
#ifndef CS_SESSION_STEER_H
#define CS_SESSION_STEER_H

#include "session/steer_int.h"
#include "session/steer_server.h"
#include "session/steer_start.h"

#include <stdbool.h>

/* Nothing runs yet; ops and policy (may be NULL: defaults) are borrowed for s's lifetime. */
void steer_init(struct steer *s, const struct session_env *env, const struct steer_ops *ops,
                void *ctx, const char *run_id, const struct policy_config *policy);
void steer_release(struct steer *s);

/* A connection of the proxy closed; control: it was the control connection. */
void steer_conn_closed(struct steer *s, struct proxy_conn *conn, bool control);

/* The installed codex's version (borrowed), before the control connection opens: what the
 * control connection's initialize says, and how a notice shows on that TUI. Until then
 * CODEXVER_PINNED. */
void steer_codex_version(struct steer *s, const char *version);

/* The TUI runs: watch for outside changes, act on triggers. */
void steer_running(struct steer *s);
/* The session is ending: decide nothing more. */
void steer_stopping(struct steer *s);

#endif
