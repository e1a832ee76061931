/* The session's switch decisions: the chooser's marks over a pool snapshot, through the policy. */
#include "session/chooser.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define NOW    1800000000LL
#define FIVE_H 300
#define WEEK   10080

/* One account of a snapshot: its workspace and its cached 5-hour / weekly use (-1: no cache). */
struct spec {
	const char *id;
	const char *workspace;
	double f_used, w_used;
};

/* A snapshot as pool_load_now would hold it, built in memory; release with snap_release(). */
static void snap_build(struct pool_snapshot *s, const struct spec *spec, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->store.accounts = calloc(n, sizeof(*s->store.accounts));
	s->cached = calloc(n, sizeof(*s->cached));
	s->in_cache = calloc(n, sizeof(*s->in_cache));
	assert_non_null(s->store.accounts);
	assert_non_null(s->cached);
	assert_non_null(s->in_cache);
	s->store.n = n;
	s->auth_current = -1;
	for (size_t i = 0; i < n; i++) {
		struct account *a = &s->store.accounts[i];
		struct usage *u = &s->cached[i];

		a->kind = ACCOUNT_CHATGPT;
		a->id = strdup(spec[i].id);
		a->name = strdup(spec[i].id);
		a->chatgpt_account_id = spec[i].workspace ? strdup(spec[i].workspace) : NULL;
		usage_init(u);
		if (spec[i].f_used < 0) {
			continue;
		}
		s->in_cache[i] = true;
		u->fetched_at = NOW - 60;
		u->primary = (struct usage_window){true, spec[i].f_used, FIVE_H, NOW + 3600};
		u->secondary = (struct usage_window){true, spec[i].w_used, WEEK, NOW + 86400};
	}
}

static void snap_release(struct pool_snapshot *s)
{
	for (size_t i = 0; i < s->store.n; i++) {
		usage_release(&s->cached[i]);
	}
	free(s->cached);
	free(s->in_cache);
	store_release(&s->store);
}

static void test_hard_limit_picks_best_other(void **state)
{
	const struct spec spec[] = {
	        {"a", "ws-a", 40, 10}, {"b", "ws-b", 70, 60}, {"c", "ws-c", 5, 5}};
	struct pool_snapshot snap;
	struct policy_decision d;
	struct chooser c;

	(void)state;
	snap_build(&snap, spec, 3);
	chooser_init(&c, NULL);
	chooser_mark(&c, "a", NOW + 1800, NOW);
	assert_int_equal(chooser_marked_until(&c, "a"), NOW + 1800);
	assert_int_equal(chooser_marked_until(&c, "b"), 0);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_HARD, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 2);
	/* c is marked too: the next best is b. */
	chooser_mark(&c, "c", 0, NOW);
	assert_int_equal(chooser_marked_until(&c, "c"), NOW + CHOOSER_UNKNOWN_RESET);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_HARD, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 1);
	/* Once the mark has passed, a serves again. */
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_SOFT, NOW + 1801, &d), 0);
	assert_int_equal(d.action, POLICY_KEEP);
	assert_int_equal(d.index, 0);
	snap_release(&snap);
}

static void test_soft_needs_threshold_margin_and_cooldown(void **state)
{
	const struct spec low[] = {{"a", "ws-a", 97, 10}, {"b", "ws-b", 10, 10}};
	const struct spec close[] = {{"a", "ws-a", 97, 10}, {"b", "ws-b", 90, 10}};
	const struct spec fine[] = {{"a", "ws-a", 50, 10}, {"b", "ws-b", 0, 0}};
	struct pool_snapshot snap;
	struct policy_decision d;
	struct chooser c;

	(void)state;
	chooser_init(&c, NULL);

	/* Below the soft threshold (5 points left), b is clearly better: switch. */
	snap_build(&snap, low, 2);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_SOFT, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 1);
	/* A soft switch just happened: the cooldown keeps a. */
	chooser_switched(&c, POLICY_SOFT, NOW);
	assert_int_equal(c.last_soft_switch, NOW);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_SOFT, NOW + 60, &d), 0);
	assert_int_equal(d.action, POLICY_KEEP);
	/* After the cooldown it switches again; a hard switch does not start a cooldown. */
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_SOFT,
	                                NOW + c.policy.soft_cooldown_s + 1, &d),
	                 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	chooser_switched(&c, POLICY_HARD, NOW + 100);
	assert_int_equal(c.last_soft_switch, NOW);
	snap_release(&snap);

	/* Below the threshold but b is not better by the margin: keep. */
	chooser_init(&c, NULL);
	snap_build(&snap, close, 2);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_SOFT, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_KEEP);
	assert_int_equal(d.index, 0);
	snap_release(&snap);

	/* Plenty left on a: a soft check keeps it even though b is untouched. */
	snap_build(&snap, fine, 2);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_SOFT, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_KEEP);
	snap_release(&snap);
}

static void test_all_marked_waits_for_earliest(void **state)
{
	const struct spec spec[] = {
	        {"a", "ws-a", 10, 10}, {"b", "ws-b", 10, 10}, {"c", "ws-c", 10, 10}};
	struct pool_snapshot snap;
	struct policy_decision d;
	struct chooser c;

	(void)state;
	snap_build(&snap, spec, 3);
	chooser_init(&c, NULL);
	chooser_mark(&c, "a", NOW + 7200, NOW);
	chooser_mark(&c, "b", NOW + 5400, NOW);
	chooser_mark(&c, "c", NOW + 2700, NOW);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_HARD, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_NONE_USABLE);
	assert_int_equal(d.retry_at, NOW + 2700);
	assert_non_null(strstr(d.reason, "no other account can be used"));
	/* A later mark of the same account replaces the earlier one. */
	chooser_mark(&c, "c", NOW + 9000, NOW);
	assert_int_equal(c.nmarks, 3);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_HARD, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_NONE_USABLE);
	assert_int_equal(d.retry_at, NOW + 5400);
	snap_release(&snap);
}

static void test_workspace_marks(void **state)
{
	const struct spec spec[] = {{"a", "ws-1", 10, 10},
	                            {"b", "ws-1", 0, 0},
	                            {"c", "ws-2", 60, 50},
	                            {"d", NULL, 0, 0}};
	struct pool_snapshot snap;
	struct policy_decision d;
	struct chooser c;

	(void)state;
	snap_build(&snap, spec, 4);
	chooser_init(&c, NULL);
	chooser_mark_workspace(&c, &snap, NULL, NOW + 600, NOW); /* no workspace: nothing */
	assert_int_equal(c.nmarks, 0);
	chooser_mark_workspace(&c, &snap, "ws-1", NOW + 600, NOW);
	assert_int_equal(chooser_marked_until(&c, "a"), NOW + 600);
	assert_int_equal(chooser_marked_until(&c, "b"), NOW + 600);
	assert_int_equal(chooser_marked_until(&c, "c"), 0);
	assert_int_equal(chooser_marked_until(&c, "d"), 0);
	/* b is untouched but shares a's spent workspace: the best usable is d, then c. */
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_HARD, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 3);
	chooser_mark(&c, "d", NOW + 600, NOW);
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_HARD, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 2);
	snap_release(&snap);
}

static void test_live_usage_wins_over_cache(void **state)
{
	const struct spec spec[] = {{"a", "ws-a", 10, 10}, {"b", "ws-b", 10, 10}};
	struct pool_snapshot snap;
	struct policy_decision d;
	struct usage live;
	struct chooser c;

	(void)state;
	snap_build(&snap, spec, 2);
	chooser_init(&c, NULL);
	/* By the cache a is fine. */
	assert_int_equal(chooser_decide(&c, &snap, "a", NULL, POLICY_SOFT, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_KEEP);
	/* The app-server says a is nearly spent: that counts, for a only. */
	usage_init(&live);
	live.fetched_at = NOW;
	live.primary = (struct usage_window){true, 98, FIVE_H, NOW + 3600};
	live.secondary = (struct usage_window){true, 10, WEEK, NOW + 86400};
	assert_int_equal(chooser_decide(&c, &snap, "a", &live, POLICY_SOFT, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 1);
	/* Live usage of the active account b says nothing about a. */
	assert_int_equal(chooser_decide(&c, &snap, "b", &live, POLICY_SOFT, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 0);
	/* A reached limit reported live stops a at once. */
	live.primary.used_percent = 100;
	live.rate_limit_reached_type = strdup("rate_limit_reached");
	assert_int_equal(chooser_decide(&c, &snap, "a", &live, POLICY_HARD, NOW, &d), 0);
	assert_int_equal(d.action, POLICY_SWITCH);
	assert_int_equal(d.index, 1);
	usage_release(&live);
	snap_release(&snap);
}

static void test_marks_are_bounded(void **state)
{
	struct chooser c;
	char id[16];

	(void)state;
	chooser_init(&c, NULL);
	for (int i = 0; i < CHOOSER_MAX_MARKS + 5; i++) {
		snprintf(id, sizeof(id), "acct-%d", i);
		chooser_mark(&c, id, NOW + i + 1, NOW);
	}
	assert_int_equal(c.nmarks, CHOOSER_MAX_MARKS);
	assert_int_equal(chooser_marked_until(&c, "acct-0"), NOW + 1);
	snprintf(id, sizeof(id), "acct-%d", CHOOSER_MAX_MARKS);
	assert_int_equal(chooser_marked_until(&c, id), 0);
}

static void test_first_free(void **state)
{
	const struct spec fine[] = {{"a", "ws-a", 10, 10}, {"b", "ws-b", 20, 20}};
	const struct spec spec[] = {
	        {"a", "ws-a", 10, 10}, {"b", "ws-b", 100, 20}, {"c", "ws-c", 10, 10}};
	struct pool_snapshot snap;
	struct chooser c;
	char why[160];
	int64_t when = -1;

	(void)state;
	chooser_init(&c, NULL);
	/* Nothing spent (a mark that has passed counts for nothing): nobody to wait for. */
	snap_build(&snap, fine, 2);
	chooser_mark(&c, "a", NOW - 10, NOW - 3700);
	assert_int_equal(chooser_first_free(&c, &snap, "a", NULL, NOW, &when, why, sizeof(why)),
	                 -1);
	assert_int_equal(when, 0);
	snap_release(&snap);

	/* b's 5-hour window (cache) resets in an hour; a is marked for two. */
	snap_build(&snap, spec, 3);
	chooser_mark(&c, "a", NOW + 7200, NOW);
	assert_int_equal(chooser_first_free(&c, &snap, "a", NULL, NOW, &when, why, sizeof(why)), 1);
	assert_int_equal(when, NOW + 3600);
	assert_non_null(strstr(why, "5-hour"));
	/* c's mark lifts first. */
	chooser_mark(&c, "c", NOW + 600, NOW);
	assert_int_equal(chooser_first_free(&c, &snap, "a", NULL, NOW, &when, NULL, 0), 2);
	assert_int_equal(when, NOW + 600);
	snap_release(&snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hard_limit_picks_best_other),
	        cmocka_unit_test(test_soft_needs_threshold_margin_and_cooldown),
	        cmocka_unit_test(test_all_marked_waits_for_earliest),
	        cmocka_unit_test(test_workspace_marks),
	        cmocka_unit_test(test_live_usage_wins_over_cache),
	        cmocka_unit_test(test_marks_are_bounded),
	        cmocka_unit_test(test_first_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
