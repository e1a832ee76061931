/*
 * The end of a session as the user sees it: the terminal's modes put back as they were at the
 * start (a TUI killed, or ended by a signal, leaves it raw), then one message on stderr: why
 * the session ended early, or how to resume it.
 */
#ifndef CS_SESSION_ENDNOTE_H
#define CS_SESSION_ENDNOTE_H

#include <stdbool.h>
#include <termios.h>

struct endnote {
	struct termios term; /* stdin's modes at the start */
	bool term_saved;
};

/* Before the TUI starts: remembers stdin's modes, when stdin is a terminal. */
void endnote_init(struct endnote *e);

/* After the TUI is gone: restores the modes remembered. */
void endnote_restore(const struct endnote *e);

/* fatal: why the session ended early ("" if it did not), one log line per line (modified).
 * Otherwise, once a session was served (served) on a thread (thread_id, "" if none), how to
 * resume it: codex's own exit text names a port that is closed by then. */
void endnote_print(char *fatal, bool served, const char *thread_id);

#endif
