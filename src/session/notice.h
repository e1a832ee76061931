/*
 * The notices codex-switch shows in the TUI's transcript: one plain line per switch, per
 * wait and per resume, as `modelProvider/authRecoveryCompleted` ("✓ <message>").
 *
 * Measured on the 0.169 TUI (tests/integration/test_tui.py): the line shows while a turn the
 * TUI started runs (naming that turn), and before the first turn of a thread (any turn id);
 * between turns, and during a turn the TUI did not start, it is dropped. So a notice that
 * cannot show now waits for the next moment it can: the TUI's next turn, or its first thread.
 * The builders are pure.
 */
#ifndef CS_SESSION_NOTICE_H
#define CS_SESSION_NOTICE_H

#include <stdbool.h>

#define NOTICE_PENDING_MAX 4

/* How a line reaches the screen, by the TUI's version (README "Supported codex versions"). */
enum notice_style {
	NOTICE_AUTH_RECOVERY, /* 0.152 and later: modelProvider/authRecoveryCompleted, inline */
	NOTICE_WARNING,       /* 0.122-0.151: `warning` shows inline */
	NOTICE_DEPRECATION,   /* 0.117-0.121: `warning` is unknown; deprecationNotice */
};

struct notice {
	enum notice_style style;
	char thread_id[128]; /* the TUI's current thread, "" before the first */
	char turn_id[128];   /* the TUI's own running turn, "" when none */
	bool had_turn;       /* a turn ran on the thread */
	char hidden[4][128]; /* the TUI's ephemeral threads (thread titles): never shown */
	int nhidden;
	char pending[NOTICE_PENDING_MAX][1200];
	int npending;
};

void notice_init(struct notice *n);
/* The TUI is codex `version` ("0.169.0"; NULL or unparsable: the newest style). */
void notice_set_codex(struct notice *n, const char *version);
/* thread/started: a new thread, no turn yet; an ephemeral one is the TUI's own helper (the
 * thread title) and never on screen. */
void notice_thread(struct notice *n, const char *thread_id, bool ephemeral);
/* thread_id is one of the TUI's ephemeral helper threads. */
bool notice_hidden(const struct notice *n, const char *thread_id);
/* turn/started of a turn the TUI started itself (own) or not. */
void notice_turn_started(struct notice *n, const char *thread_id, const char *turn_id, bool own);
/* turn/completed of turn_id. */
void notice_turn_ended(struct notice *n, const char *turn_id);

/* A line can show now. */
bool notice_can_show(const struct notice *n);
/* A new JSON notification showing text as one line; caller frees. NULL on -ENOMEM. */
char *notice_message(const struct notice *n, const char *text);
/* Keeps text for later (the oldest is dropped when full). */
void notice_defer(struct notice *n, const char *text);
/* The deferred lines, oldest first, into out (borrowed until the next call); their count. */
int notice_take(struct notice *n, const char *const **out);

#endif
