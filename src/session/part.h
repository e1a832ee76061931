/*
 * What the `run` supervisor (session.c) hands each of its parts: the loop, the worker and the
 * paths, all borrowed for the part's lifetime. A part never sees the supervisor's state; it
 * reports through the callbacks of its own header, and the supervisor decides.
 */
#ifndef CS_SESSION_PART_H
#define CS_SESSION_PART_H

struct ev;
struct worker;
struct paths;

struct session_env {
	struct ev *ev;
	struct worker *worker;
	const struct paths *paths;
};

#endif
