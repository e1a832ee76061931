#include "session/steer_tell.h"

#include "base/log.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "name (email)", or "name" without one; sanitised for the terminal by account_label's rules. */
void steer_tell_who(const struct account *a, char *out, size_t outsz)
{
	if (a->email && *a->email) {
		snprintf(out, outsz, "%s (%s)", a->name ? a->name : "?", a->email);
	} else {
		snprintf(out, outsz, "%s", a->name ? a->name : "?");
	}
}

void steer_tell_clock(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(out, outsz, t - steer_now() < 20 * 3600 ? "%H:%M" : "%b %d %H:%M", &tm);
}

static void send_notice(struct steer *s, const char *text)
{
	char *json = notice_message(&s->notice, text);

	if (json) {
		s->ops->send_to_tui(s->ctx, NULL, json);
	}
	free(json);
}

void steer_tell(struct steer *s, const char *text)
{
	log_info("notice: %s", text);
	if (notice_can_show(&s->notice)) {
		send_notice(s, text);
	} else {
		notice_defer(&s->notice, text);
	}
}

void steer_tell_flush(struct steer *s)
{
	const char *const *lines;
	int n;

	if (!notice_can_show(&s->notice)) {
		return;
	}
	n = notice_take(&s->notice, &lines);
	for (int i = 0; i < n; i++) {
		send_notice(s, lines[i]);
	}
}

/* The TUI shows no notice during a turn it did not start (notice.h), but it shows that
 * turn's error: the waiting line goes there, in place of the usage-limit text. */
static void tell_in_turn_error(struct steer *s, const char *text)
{
	cJSON *o = cJSON_CreateObject(), *p = o ? cJSON_AddObjectToObject(o, "params") : NULL;
	cJSON *e = p ? cJSON_AddObjectToObject(p, "error") : NULL;
	char *json;

	log_info("notice: %s", text);
	if (!e) {
		cJSON_Delete(o);
		return;
	}
	cJSON_AddStringToObject(o, "method", "error");
	cJSON_AddStringToObject(p, "threadId", s->resub.thread_id);
	cJSON_AddStringToObject(p, "turnId", s->resub.failed_turn);
	cJSON_AddBoolToObject(p, "willRetry", 0);
	cJSON_AddStringToObject(e, "message", text);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (json && s->resub.conn) {
		s->ops->send_to_tui(s->ctx, s->resub.conn, json);
	}
	free(json);
}

static void tell_parked(struct steer *s, const char *text, bool prompt)
{
	if (prompt && s->resub.foreign) {
		tell_in_turn_error(s, text); /* the turn that failed was codex-switch's own */
	} else {
		steer_tell(s, text);
	}
}

static size_t chatgpt_accounts(const struct steer *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->pool.cur.store.n; i++) {
		n += s->pool.cur.store.accounts[i].kind == ACCOUNT_CHATGPT;
	}
	return n;
}

/* "bob's 5-hour window", from the policy's "its 5-hour window is used up". */
static void what_resets(const struct account *a, const char *why, char *out, size_t outsz)
{
	const char *w =
	        strncmp(why, "its ", 4) == 0 && strstr(why, " is used up") ? why + 4 : "limit";
	const char *end = strstr(w, " is used up");
	int len = end ? (int)(end - w) : (int)strlen(w);

	snprintf(out, outsz, "%s's %.*s", a->name ? a->name : "?", len, w);
}

void steer_tell_credit(struct steer *s, bool prompt)
{
	const struct account *c = pool_account(&s->pool, s->pool.cur.credit_pick);
	char line[512];

	snprintf(line, sizeof(line),
	         "All %zu accounts are at their limit; using a rate-limit reset credit of %s "
	         "(auto_reset_credits in config.json)%s",
	         chatgpt_accounts(s), c && c->name ? c->name : "an account",
	         prompt ? "; your prompt will be sent then" : "");
	tell_parked(s, line, prompt);
}

void steer_tell_waiting(struct steer *s, const struct account *a, const char *why, int64_t at,
                        int64_t now, bool prompt)
{
	char what[256], when[64], in[32], msg[1200];

	if (a && at > now) {
		what_resets(a, why, what, sizeof(what));
		steer_tell_clock(at, when, sizeof(when));
		util_format_countdown(at - now, in, sizeof(in));
		snprintf(msg, sizeof(msg),
		         "All %zu accounts are at their limit; waiting for %s to reset at %s (in "
		         "%s). %s",
		         chatgpt_accounts(s), what, when, in,
		         prompt ? "Your prompt will be sent then; type anything to cancel."
		                : "codex-switch goes on by itself then.");
	} else {
		snprintf(msg, sizeof(msg),
		         "All %zu accounts are at their limit and no reset time is known; "
		         "codex-switch checks again every minute.",
		         chatgpt_accounts(s));
	}
	if (s->pool.cur.credit_hint[0]) { /* a way out before the reset: the user's to take */
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s.",
		         s->pool.cur.credit_hint);
	}
	tell_parked(s, msg, prompt);
}
