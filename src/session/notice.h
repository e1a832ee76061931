/*
 * The notices codex-switch shows in the TUI's transcript: one plain line per switch, per
 * wait and per resume. How a line reaches the screen depends on what the TUI renders inline
 * (app-server-protocol.md section 12): `modelProvider/authRecoveryCompleted` ("✓ <message>")
 * when a thread is known, `warning` otherwise. The builders are pure.
 */
#ifndef CS_SESSION_NOTICE_H
#define CS_SESSION_NOTICE_H

#include <stdbool.h>

struct notice {
	char thread_id[128]; /* the TUI's current thread, "" before the first */
	char turn_id[128];   /* its latest turn, "" before the first */
};

void notice_init(struct notice *n);
/* The TUI works on thread_id (and turn_id, may be NULL). */
void notice_saw(struct notice *n, const char *thread_id, const char *turn_id);

/* A new JSON notification showing text as one line; caller frees. NULL on -ENOMEM. */
char *notice_message(const struct notice *n, const char *text);

#endif
