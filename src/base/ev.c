#include "base/ev.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>

/* Events taken per epoll_wait(); more ready descriptors simply wait for the next round. */
#define EV_BATCH 64

struct ev {
	int epfd;
	int wakefd;
	struct ev_timer *timers; /* armed, soonest first */
	void (*wake_cb)(void *ctx);
	void *wake_ctx;
	int nready; /* events in batch being dispatched; 0 outside dispatch */
	struct epoll_event batch[EV_BATCH];
};

/* epoll reports these whether asked for or not. */
#define EV_ALWAYS (EPOLLERR | EPOLLHUP)

struct ev *ev_new(void)
{
	struct epoll_event e = {.events = EPOLLIN};
	struct ev *ev = calloc(1, sizeof(*ev));
	int err;

	if (!ev) {
		return NULL;
	}
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* No ev_io lives at the loop's own address, so it marks the eventfd. */
	e.data.ptr = ev;
	if (ev->epfd >= 0 && ev->wakefd >= 0 &&
	    !epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->wakefd, &e)) {
		return ev;
	}
	err = errno;
	if (ev->epfd >= 0) {
		close(ev->epfd);
	}
	if (ev->wakefd >= 0) {
		close(ev->wakefd);
	}
	free(ev);
	errno = err;
	return NULL;
}

void ev_free(struct ev *ev)
{
	if (!ev) {
		return;
	}
	close(ev->epfd);
	close(ev->wakefd);
	free(ev);
}

int ev_io_start(struct ev *ev, struct ev_io *io, int fd, uint32_t events, ev_io_cb cb)
{
	struct epoll_event e = {.events = events, .data.ptr = io};

	ev_io_stop(ev, io);
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e)) {
		return -errno;
	}
	io->active = true;
	return 0;
}

int ev_io_set(struct ev *ev, struct ev_io *io, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = io};

	if (!io->active) {
		return -EINVAL;
	}
	if (events == io->events) {
		return 0;
	}
	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, io->fd, &e)) {
		return -errno;
	}
	io->events = events;
	return 0;
}

void ev_io_stop(struct ev *ev, struct ev_io *io)
{
	if (!io->active) {
		return;
	}
	/* Fails only when the fd was already closed, which took it out of the set anyway. */
	(void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->active = false;
	/* Its events may be collected but not yet dispatched; the caller may free io after this,
	 * or start it again, and neither may see the stale event. */
	for (int i = 0; i < ev->nready; i++) {
		if (ev->batch[i].data.ptr == io) {
			ev->batch[i].data.ptr = NULL;
		}
	}
}

void ev_timer_start(struct ev *ev, struct ev_timer *t, ev_timer_cb cb, int64_t delay_us)
{
	struct ev_timer **pp = &ev->timers;

	ev_timer_stop(ev, t);
	/* A due time in the past would fire again within the same round, forever, when the
	 * callback re-arms it. */
	t->due_us = ev_now_us() + (delay_us > 0 ? delay_us : 0);
	t->cb = cb;
	/* Equal due times fire in the order they were armed. */
	while (*pp && (*pp)->due_us <= t->due_us) {
		pp = &(*pp)->next;
	}
	t->next = *pp;
	*pp = t;
	t->armed = true;
}

void ev_timer_stop(struct ev *ev, struct ev_timer *t)
{
	if (!t->armed) {
		return;
	}
	for (struct ev_timer **pp = &ev->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
	t->armed = false;
}

int64_t ev_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds until the soonest timer, rounded up: rounding down would wake the loop just
 * before the deadline, find nothing due and spin with a zero timeout until it is. */
static int next_timeout_ms(const struct ev *ev)
{
	int64_t left;

	if (!ev->timers) {
		return -1;
	}
	left = ev->timers->due_us - ev_now_us();
	if (left <= 0) {
		return 0;
	}
	left = (left + 999) / 1000;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static void wake_ready(struct ev *ev)
{
	uint64_t n;

	/* Resets the counter, so that many ev_wake() calls lead to one callback. */
	if (read(ev->wakefd, &n, sizeof(n)) < 0) {
		/* cannot fail: epoll saw it readable and only this thread reads it */
	}
	if (ev->wake_cb) {
		ev->wake_cb(ev->wake_ctx);
	}
}

static void dispatch(struct ev *ev)
{
	for (int i = 0; i < ev->nready; i++) {
		struct epoll_event *e = &ev->batch[i];
		struct ev_io *io;
		uint32_t revents;

		if (!e->data.ptr) {
			continue; /* stopped by an earlier callback */
		}
		if (e->data.ptr == ev) {
			wake_ready(ev);
			continue;
		}
		io = e->data.ptr;
		/* An earlier callback may have dropped an event from what io asks for. */
		revents = e->events & (io->events | EV_ALWAYS);
		if (revents) {
			io->cb(io, revents);
		}
	}
	ev->nready = 0;
}

static void fire_timers(struct ev *ev)
{
	int64_t now = ev_now_us();

	/* Callbacks may arm and stop timers, so the head is read again each time. */
	while (ev->timers && ev->timers->due_us <= now) {
		struct ev_timer *t = ev->timers;

		ev->timers = t->next;
		t->next = NULL;
		t->armed = false;
		t->cb(t);
	}
}

int ev_run_once(struct ev *ev)
{
	int n = epoll_wait(ev->epfd, ev->batch, EV_BATCH, next_timeout_ms(ev));

	if (n < 0) {
		return errno == EINTR ? 0 : -errno;
	}
	ev->nready = n;
	dispatch(ev);
	fire_timers(ev);
	return 0;
}

void ev_wake(struct ev *ev)
{
	uint64_t one = 1;
	int err = errno; /* a signal handler must not change errno under the code it interrupts */

	if (write(ev->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so a wake-up is pending already */
	}
	errno = err;
}

void ev_set_wake(struct ev *ev, void (*cb)(void *ctx), void *ctx)
{
	ev->wake_cb = cb;
	ev->wake_ctx = ctx;
}
