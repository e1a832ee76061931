/*
 * `codex-switch doctor`: read-only checks of the codex binary, the store, auth.json, running
 * app-servers and the logs. Each check adds one line (pass, warn or fail) and, when something
 * is wrong, what to do about it. Nothing here writes a file or talks to the network.
 */
#ifndef CS_DOCTOR_H
#define CS_DOCTOR_H

#include "store/paths.h"

#include <stdbool.h>
#include <stddef.h>

#define DOCTOR_SCHEMA_VERSION 1
#define DOCTOR_MAX_CHECKS     128
#define DOCTOR_TEXT           512

enum doctor_status {
	DOCTOR_PASS,
	DOCTOR_WARN,
	DOCTOR_FAIL,
};

struct doctor_check {
	enum doctor_status status;
	char name[32];             /* which check, e.g. "codex-remote" */
	char message[DOCTOR_TEXT]; /* what was found */
	char hint[DOCTOR_TEXT];    /* what to do about it; empty when nothing */
};

struct doctor {
	const struct paths *paths; /* borrowed */
	const char *codex_bin; /* borrowed: --codex-bin, else $CODEX_SWITCH_CODEX_BIN, else codex */
	struct doctor_check checks[DOCTOR_MAX_CHECKS];
	size_t n;
};

/*
 * Adds a check with a printf message (control characters become '?'). Returns it, so a hint
 * can follow; past DOCTOR_MAX_CHECKS the check is dropped and a scratch entry is returned.
 */
struct doctor_check *doctor_add(struct doctor *d, enum doctor_status status, const char *name,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Sets what to do about check c. */
void doctor_hint(struct doctor_check *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* "pass", "warn" or "fail". */
const char *doctor_status_name(enum doctor_status s);

/* The codex binary: found, its version, and the options codex-switch needs (doctor_codex.c). */
void doctor_check_codex(struct doctor *d);

/* codex app-servers running outside codex-switch (doctor_codex.c). */
void doctor_check_processes(struct doctor *d);

/* The store: directory, accounts.json, duplicates, tokens (doctor_store.c). */
void doctor_check_store(struct doctor *d);

/* $CODEX_HOME/auth.json: mode, parse, which stored account it is (doctor_store.c). */
void doctor_check_auth(struct doctor *d);

/* The logs directory: mode, file modes, old logs (doctor_store.c). */
void doctor_check_logs(struct doctor *d);

#endif
