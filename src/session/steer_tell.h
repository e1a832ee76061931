/*
 * The words of the steering hub: the lines the user reads in the TUI's transcript, shown now
 * or at the next moment the TUI can show them (notice.h), and logged. Only the steer*.c files
 * include this.
 */
#ifndef CS_SESSION_STEER_TELL_H
#define CS_SESSION_STEER_TELL_H

#include "session/steer_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Shows text (borrowed) as one line in every TUI's transcript, and logs it. */
void steer_tell(struct steer *s, const char *text);
/* The TUI can show notices again: the deferred lines go now. */
void steer_tell_flush(struct steer *s);

/* "name (email)" of a (borrowed), or "name" without one, into out. */
void steer_tell_who(const struct account *a, char *out, size_t outsz);
/* t as a local clock time ("14:05"; with the date when it is a day or more away) into out. */
void steer_tell_clock(int64_t t, char *out, size_t outsz);

/*
 * Every account is spent and a reset credit is being spent instead of the wait; prompt: a
 * held turn goes once it is done.
 */
void steer_tell_credit(struct steer *s, bool prompt);
/*
 * Every account is spent: the wait for a (borrowed; NULL when none frees up) to reset at at
 * (0: unknown), why being the policy's reason it is spent; prompt: a held turn goes then.
 */
void steer_tell_waiting(struct steer *s, const struct account *a, const char *why, int64_t at,
                        int64_t now, bool prompt);

#endif
