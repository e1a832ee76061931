/*
 * Following the user's choices made outside the session: `codex-switch switch X` or
 * `auto-switch` in another terminal, or `codex login`, rewrite $CODEX_HOME/auth.json; the
 * running session then logs that account in and tells the TUI. inotify on the two
 * directories (the files are replaced by rename, so watching the files themselves would lose
 * them), a short debounce for rename bursts, and back-off when the login fails.
 */
#define _GNU_SOURCE /* inotify_init1 flags */
#include "session/session_internal.h"

#include "store/authjson.h"
#include "base/log.h"
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define DEBOUNCE_US  (150 * 1000)
#define MAX_ATTEMPTS 5
#define WATCH_MASK   (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM)

static const int retry_delay_s[] = {1, 2, 5, 10};

static void check(struct ev_timer *t);

static void schedule(struct rt *rt, int64_t us)
{
	ev_timer_start(proxy_loop(rt->proxy), &rt->reconcile_tm, check, us);
}

int reconcile_start(struct rt *rt)
{
	const struct paths *p = rt->cfg->paths;
	int r;

	rt->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rt->inotify_fd < 0) {
		return -errno;
	}
	if (inotify_add_watch(rt->inotify_fd, p->codex_home, WATCH_MASK) < 0 ||
	    inotify_add_watch(rt->inotify_fd, p->store_dir, WATCH_MASK) < 0) {
		r = -errno;
		close(rt->inotify_fd);
		rt->inotify_fd = -1;
		return r;
	}
	r = proxy_watch_fd(rt->proxy, rt->inotify_fd, rt);
	if (r) {
		rt->inotify_fd = -1; /* proxy_watch_fd closed it */
	}
	return r;
}

static bool interesting(const struct inotify_event *e)
{
	return e->len &&
	       (strcmp(e->name, "auth.json") == 0 || strcmp(e->name, "accounts.json") == 0);
}

void reconcile_on_ready(struct rt *rt)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t n;

	while ((n = read(rt->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			changed |= interesting(e);
			p += sizeof(*e) + e->len;
		}
	}
	if (n == 0) {
		proxy_unwatch_fd(rt->proxy, rt->inotify_fd);
		rt->inotify_fd = -1;
	}
	/* A rename burst (temp file, rename, our own rewrite) becomes one look, 150 ms later. */
	if (changed && rt->reconcile_attempt == 0) {
		schedule(rt, DEBOUNCE_US);
	}
}

static void check(struct ev_timer *t)
{
	struct rt *rt = EV_CONTAINER_OF(t, struct rt, reconcile_tm);
	struct store s = {0};
	char err[512], id[UTIL_UUID_LEN + 1];
	long cur;

	if (rt->phase != RT_RUNNING || rt->login || rt->auth_write_pending) {
		return; /* the end of that login or write looks again */
	}
	if (store_load(rt->cfg->paths, &s, err, sizeof(err))) {
		log_warn("%s", err);
		return;
	}
	cur = authjson_current(rt->cfg->paths, &s);
	if (cur < 0 || strcmp(s.accounts[cur].id, rt->active.id) == 0) {
		if (cur < 0 && !rt->unknown_current_told &&
		    access(rt->cfg->paths->auth_json, F_OK) == 0) {
			rt->unknown_current_told = true;
			log_warn(
			        "'%s' now holds an account that is not stored; the session stays on "
			        "%s (store it with 'codex-switch import <name>')",
			        rt->cfg->paths->auth_json, rt->active.name);
		}
		rt->reconcile_attempt = 0;
		store_release(&s);
		return;
	}
	snprintf(id, sizeof(id), "%s", s.accounts[cur].id);
	store_release(&s);
	if (rt->reconcile_attempt >= MAX_ATTEMPTS) {
		log_warn("giving up logging in the account of auth.json after %d attempts",
		         MAX_ATTEMPTS);
		return;
	}
	rt->reconcile_attempt++;
	switcher_follow(rt, id, "current auth.json changed");
}

void reconcile_after_login(struct rt *rt)
{
	int a = rt->reconcile_attempt;

	if (rt->phase != RT_RUNNING || rt->inotify_fd < 0) {
		return;
	}
	/* After a failed attempt wait 1, 2, 5, 10 s; otherwise look again at once, in case
	 * auth.json changed while the login was pending. */
	if (a > 0) {
		int i = a - 1 < (int)UTIL_ARRAY_LEN(retry_delay_s)
		                ? a - 1
		                : (int)UTIL_ARRAY_LEN(retry_delay_s) - 1;
		schedule(rt, (int64_t)retry_delay_s[i] * 1000000);
	} else {
		schedule(rt, DEBOUNCE_US);
	}
}

void reconcile_release(struct rt *rt)
{
	ev_timer_stop(proxy_loop(rt->proxy), &rt->reconcile_tm);
}
