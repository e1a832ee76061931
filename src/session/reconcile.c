#define _GNU_SOURCE /* inotify_init1 flags */
#include "session/reconcile.h"

#include "base/util.h"
#include "store/paths.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM)

void reconcile_init(struct reconcile *r, const struct session_env *env,
                    void (*changed)(void *ctx, int what), void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->env = env;
	r->changed = changed;
	r->ctx = ctx;
	r->io.fd = -1;
}

static int kind_of(const struct inotify_event *e)
{
	if (!e->len) {
		return 0;
	}
	if (strcmp(e->name, "auth.json") == 0) {
		return RECONCILE_AUTH;
	}
	if (strcmp(e->name, "accounts.json") == 0) {
		return RECONCILE_ACCOUNTS;
	}
	if (strcmp(e->name, "usage-cache.json") == 0) {
		return RECONCILE_USAGE;
	}
	return 0;
}

static void fire(struct ev_timer *t)
{
	struct reconcile *r = EV_CONTAINER_OF(t, struct reconcile, tm);
	int what = r->what;

	r->what = 0;
	r->changed(r->ctx, what);
}

static void on_ready(struct ev_io *io, uint32_t events)
{
	struct reconcile *r = EV_CONTAINER_OF(io, struct reconcile, io);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int what = 0;
	ssize_t n;

	(void)events;
	while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			what |= kind_of(e);
			p += sizeof(*e) + e->len;
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		ev_io_stop(r->env->ev, io);
		close(io->fd);
		io->fd = -1;
	}
	/* A rename burst (temp file, rename, our own rewrite) becomes one report. */
	if (what) {
		if (!r->what) {
			ev_timer_start(r->env->ev, &r->tm, fire, RECONCILE_DEBOUNCE_US);
		}
		r->what |= what;
	}
}

int reconcile_start(struct reconcile *r)
{
	const struct paths *p = r->env->paths;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), e;

	if (fd < 0) {
		return -errno;
	}
	if (inotify_add_watch(fd, p->codex_home, WATCH_MASK) < 0 ||
	    inotify_add_watch(fd, p->store_dir, WATCH_MASK) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	e = ev_io_start(r->env->ev, &r->io, fd, EPOLLIN, on_ready);
	if (e) {
		close(fd);
		r->io.fd = -1;
	}
	return e;
}

void reconcile_release(struct reconcile *r)
{
	ev_timer_stop(r->env->ev, &r->tm);
	if (r->io.fd >= 0) {
		ev_io_stop(r->env->ev, &r->io);
		close(r->io.fd);
		r->io.fd = -1;
	}
}
