/*
 * The steering hub's decisions: asking the policy what next and acting on it (a switch, or the
 * wait for a reset when every account is spent). Called by the hub and by the handling of the
 * app-server's messages; only the steer*.c files include this.
 */
#ifndef CS_SESSION_STEER_DECIDE_H
#define CS_SESSION_STEER_DECIDE_H

#include "session/steer_int.h"
#include "session/trigger.h"

/*
 * Starts the login of to, with reason told when it is done (both copied). A refused start
 * (one login at a time) is logged, not retried. A policy or outside switch waits while a turn
 * runs (a login of another account would end it), the latest one replacing the one before.
 */
void steer_decide_switch(struct steer *s, const struct account *to, enum switch_kind kind,
                         enum policy_mode mode, const char *reason);
/* A turn ended, a connection closed or a login ended: the switch that waited starts now if
 * nothing runs any more. */
void steer_decide_deferred(struct steer *s);

/*
 * Asks the policy what next and acts on it; reason (borrowed; NULL: the policy's) says why,
 * in plain words. When no other account can serve: stuck (borrowed; may be NULL) is told, else
 * the session parks. Returns what it did: POLICY_SWITCH (a login started or is pending),
 * POLICY_NONE_USABLE, POLICY_KEEP.
 */
enum policy_action steer_decide_consider_or(struct steer *s, enum policy_mode mode,
                                            const char *reason, const char *stuck);
enum policy_action steer_decide_consider(struct steer *s, enum policy_mode mode,
                                         const char *reason);

/* The app-server reported a limit of the active account (t, borrowed): marks it spent when
 * hard, and decides. Returns as steer_decide_consider_or(). */
enum policy_action steer_decide_trigger(struct steer *s, const struct trigger *t);

/* Every account is spent: wait for the first reset (or spend a reset credit when config.json
 * asks for it), saying so once. */
void steer_decide_park(struct steer *s);
/* Parked, and the first reset has passed: go on on whichever account serves best now. */
void steer_decide_resume(struct steer *s);

#endif
