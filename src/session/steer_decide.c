#include "session/steer_decide.h"

#include "base/log.h"
#include "session/steer_tell.h"

#include <stdio.h>
#include <string.h>

/* Renewed tokens of the same account leave a turn alone; after a usage-limit error the turn
 * is over already (its turn/completed follows at once). */
static bool must_wait_for_turn(const struct steer *s, enum switch_kind kind)
{
	return (kind == SWITCH_POLICY || kind == SWITCH_EXTERNAL) && !s->in_error && !s->revoking &&
	       turns_running(&s->turns);
}

void steer_decide_switch(struct steer *s, const struct account *to, enum switch_kind kind,
                         enum policy_mode mode, const char *reason)
{
	struct switch_request req = {.kind = kind, .mode = mode};

	snprintf(req.reason, sizeof(req.reason), "%s", reason);
	if (must_wait_for_turn(s, kind)) {
		if (!s->deferred.id || strcmp(s->deferred.id, to->id) != 0) {
			log_info("switching to %s once the running turn ends (%s)", to->name,
			         reason);
		}
		account_release(&s->deferred);
		if (account_copy(&s->deferred, to) == 0) {
			s->deferred_req = req;
		}
		return;
	}
	if (s->deferred.id && strcmp(s->deferred.id, to->id) == 0) {
		/* The same switch, decided first from the fuller report (a window at 100 %, before
		 * the usage-limit error that ended the turn): its words stay. */
		snprintf(req.reason, sizeof(req.reason), "%s", s->deferred_req.reason);
	}
	account_release(&s->deferred); /* this switch replaces the one that waited */
	if (switcher_start(&s->sw, to, &req) < 0) {
		log_warn("cannot start the login of %s now", to->name);
	}
}

void steer_decide_deferred(struct steer *s)
{
	struct account a;
	struct switch_request req;

	if (!s->deferred.id || turns_running(&s->turns) || switcher_busy(&s->sw) ||
	    !steer_deciding(s)) {
		return;
	}
	a = s->deferred;
	req = s->deferred_req;
	memset(&s->deferred, 0, sizeof(s->deferred));
	if (s->active.id && strcmp(a.id, s->active.id) != 0 &&
	    switcher_start(&s->sw, &a, &req) < 0) {
		log_warn("cannot start the login of %s now", a.name);
	}
	account_release(&a);
}

/* config.json asked for it: a credit instead of the wait. */
static bool credit_instead(const struct steer *s)
{
	return s->chooser.policy.auto_reset_credits && s->pool.cur.credit_pick[0] &&
	       (!s->credit_tried || s->park.job);
}

static void spend_credit(struct steer *s, bool prompt)
{
	bool spending = s->credit_tried;

	s->credit_tried = true;
	if (prompt) {
		resubmit_park(&s->resub);
	}
	if (spending && (!prompt || !strcmp(s->park_told_turn, s->resub.failed_turn))) {
		return; /* under way, and said for this prompt */
	}
	if (prompt) {
		snprintf(s->park_told_turn, sizeof(s->park_told_turn), "%s", s->resub.failed_turn);
	}
	steer_tell_credit(s, prompt);
	if (!spending) {
		park_spend_credit(&s->park, s->pool.cur.credit_pick);
	}
}

void steer_decide_park(struct steer *s)
{
	char why[160];
	int64_t at = 0, now = steer_now();
	long i = chooser_first_free(&s->chooser, &s->pool.cur, s->active.id,
	                            s->live_valid ? &s->live : NULL, now, &at, why, sizeof(why));
	const struct account *a = i >= 0 ? &s->pool.cur.store.accounts[i] : NULL;
	bool prompt = resubmit_held(&s->resub);

	if (prompt) {
		resubmit_park(&s->resub);
	}
	if (credit_instead(s)) {
		spend_credit(s, prompt);
		return;
	}
	park_until(&s->park, a ? a->id : NULL, at);
	/* Each waiting prompt is told once. Without one, once, and not during a turn of the
	 * TUI's: its usage-limit error follows and names the prompt. */
	if (prompt ? strcmp(s->park_told_turn, s->resub.failed_turn) == 0
	           : s->all_exhausted_told || (s->notice.turn_id[0] && !s->in_error) ||
	                     resubmit_active(&s->resub)) {
		return;
	}
	s->all_exhausted_told = true;
	if (prompt) {
		snprintf(s->park_told_turn, sizeof(s->park_told_turn), "%s", s->resub.failed_turn);
	}
	steer_tell_waiting(s, a, why, at, now, prompt);
}

enum policy_action steer_decide_consider_or(struct steer *s, enum policy_mode mode,
                                            const char *reason, const char *stuck)
{
	struct policy_decision d;

	if (!steer_deciding(s) || !s->pool.loaded) {
		return POLICY_KEEP;
	}
	if (switcher_busy(&s->sw)) {
		return POLICY_SWITCH; /* one login at a time; its end looks again */
	}
	if (chooser_decide(&s->chooser, &s->pool.cur, s->active.id, s->live_valid ? &s->live : NULL,
	                   mode, steer_now(), &d)) {
		return POLICY_KEEP;
	}
	if (d.action == POLICY_SWITCH && d.index >= 0 &&
	    strcmp(s->pool.cur.store.accounts[d.index].id, s->active.id) != 0) {
		log_info("switching from %s: %s (policy: %s)", s->active.name, reason ? reason : "",
		         d.reason);
		steer_decide_switch(s, &s->pool.cur.store.accounts[d.index], SWITCH_POLICY, mode,
		                    reason ? reason : d.reason);
		return switcher_busy(&s->sw) ? POLICY_SWITCH : POLICY_KEEP;
	}
	if (d.action == POLICY_NONE_USABLE || mode == POLICY_HARD) {
		log_info("no account to switch to: %s", d.reason);
		if (stuck) {
			steer_tell(s, stuck);
		} else {
			steer_decide_park(s);
		}
		return POLICY_NONE_USABLE;
	}
	log_debug("keeping %s: %s", s->active.name, d.reason);
	return POLICY_KEEP;
}

enum policy_action steer_decide_consider(struct steer *s, enum policy_mode mode, const char *reason)
{
	return steer_decide_consider_or(s, mode, reason, NULL);
}

enum policy_action steer_decide_trigger(struct steer *s, const struct trigger *t)
{
	int64_t until = t->resets_at ? t->resets_at : s->last_reset_hint;
	char reason[320], when[64];

	if (!steer_deciding(s) || t->kind == TRIGGER_NONE) {
		return POLICY_KEEP;
	}
	snprintf(reason, sizeof(reason), "%s's %s", s->active.name, t->reason);
	if (until) {
		steer_tell_clock(until, when, sizeof(when));
		snprintf(reason + strlen(reason), sizeof(reason) - strlen(reason), " (resets %s)",
		         when);
	}
	if (t->kind == TRIGGER_SOFT) {
		return steer_decide_consider(s, POLICY_SOFT, reason);
	}
	log_info("account %s cannot go on: %s", s->active.name, t->reason);
	chooser_mark(&s->chooser, s->active.id, until, steer_now());
	if (t->workspace_wide) {
		chooser_mark_workspace(&s->chooser, &s->pool.cur, s->active.chatgpt_account_id,
		                       until, steer_now());
	}
	return steer_decide_consider(s, POLICY_HARD, reason);
}

void steer_decide_resume(struct steer *s)
{
	struct policy_decision d;
	char msg[512], to[320];

	if (!steer_deciding(s) || switcher_busy(&s->sw) ||
	    chooser_decide(&s->chooser, &s->pool.cur, s->active.id, NULL, POLICY_INITIAL,
	                   steer_now(), &d)) {
		return;
	}
	if (d.action == POLICY_NONE_USABLE || d.index < 0) {
		s->all_exhausted_told = true; /* said already; wait again quietly */
		steer_decide_park(s);
		return;
	}
	s->all_exhausted_told = false;
	s->park_told_turn[0] = '\0';
	if (strcmp(s->pool.cur.store.accounts[d.index].id, s->active.id) != 0) {
		steer_decide_switch(s, &s->pool.cur.store.accounts[d.index], SWITCH_POLICY,
		                    POLICY_HARD, "its limit has reset");
		return;
	}
	steer_tell_who(&s->active, to, sizeof(to));
	snprintf(msg, sizeof(msg), "The limit of %s has reset; going on%s", to,
	         resubmit_active(&s->resub) ? " with your prompt" : "");
	steer_tell(s, msg);
	s->live_valid = false; /* what the app-server said was before the reset */
	resubmit_go(&s->resub, s->active.id);
}
