/*
 * What the TUI sees of the account pool (README "What the TUI sees"): codex's TUI warns about
 * the current account alone ("Heads up, you have less than X% of your 5h limit left" from 50 %
 * used on, and a "switch to a smaller model?" popup at 90 %), but under codex-switch the
 * user is near no limit until the pool is. These pure builders rewrite the rate-limit messages
 * the TUI gets, and the TUI's session listing so that it spans every stored account. They take
 * whole JSON messages and return rewritten copies; no I/O and no clock (`now` is an input).
 */
#ifndef CS_SESSION_POOLVIEW_H
#define CS_SESSION_POOLVIEW_H

#include "policy/usage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The highest used percent the TUI sees while another account can serve: below its first
 * heads-up threshold (observed on 0.169: 52 % used shows "less than 50% of your 5h limit
 * left"; codex's source of August: 75) and its model popup (90). */
#define POOLVIEW_CAP 49
/* Limit ids of the per-account buckets added to /status start with this. */
#define POOLVIEW_LIMIT_PREFIX "codex_switch_"

struct poolview_account {
	const char *name;          /* borrowed */
	const struct usage *usage; /* what is known of its limits; NULL = unknown; borrowed */
	bool active;               /* the account the app-server holds */
	bool live;                 /* usage is what the app-server reported during this session */
};

struct poolview {
	const struct poolview_account *accounts; /* borrowed array of n: the ChatGPT accounts */
	size_t n;
	bool spare; /* another account can serve: spare the TUI the current account's warnings */
	int64_t now;
};

/*
 * An `account/rateLimits/updated` notification (json, len: the whole message, borrowed): a
 * rewritten copy (owned by the caller, free()) when pv->spare, else NULL (forward it as is;
 * also NULL on a shape it does not know or -ENOMEM).
 */
char *poolview_updated(const struct poolview *pv, const char *json, size_t len);

/*
 * The app-server's response to the TUI's `account/rateLimits/read`: a copy with the pool view
 * of the "codex" buckets (when pv->spare) and one bucket per stored account, named after it
 * (owned, free()); NULL when it is not a result of that shape (forward it as is) or -ENOMEM.
 */
char *poolview_read_response(const struct poolview *pv, const char *json, size_t len);

/*
 * A fresh `account/rateLimits/updated` notification for the active account, from what is known
 * of its limits (u, borrowed), with the pool view applied when pv->spare: owned, or NULL when
 * u knows no window or on -ENOMEM.
 */
char *poolview_snapshot(const struct poolview *pv, const struct usage *u);

/*
 * An `account/rateLimits/updated` notification of account i's own bucket (the one /status lists
 * under its name; the TUI shows no warning for a bucket other than "codex"): owned, or NULL
 * when nothing is known of its limits or on -ENOMEM. The 0.117 TUI reads the buckets once at
 * start and keeps them up to date from these notifications alone (its /status reads nothing).
 */
char *poolview_account_update(const struct poolview *pv, size_t i);

/*
 * The TUI's `thread/list` request: a copy asking for the threads of every account
 * (`currentAccountOnly` false), owned; NULL when it did not ask for the current account's only.
 */
char *poolview_thread_list(const char *json, size_t len);

#endif
