/*
 * The event loop of `codex-switch run`: epoll for descriptors, one-shot timers for real
 * deadlines, and an eventfd that wakes the loop from other threads.
 *
 * Why not libwebsockets' loop: lws 4.1.6 polls every descriptor it holds on every wake-up
 * (poll() over listener, pipes, signalfd, inotify and all sockets: 12-14 % of the relay's CPU
 * per round trip), and re-arms a 30-second header-pool timer that its API cannot cancel, so
 * an idle session was never idle. Here epoll reports only what is ready and nothing wakes the
 * loop unless a descriptor or a deadline asks for it.
 *
 * Everything runs on the thread that calls ev_run_once(), except ev_wake().
 */
#ifndef CS_EV_H
#define CS_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The struct that holds member m, from a pointer to m (for callbacks). */
#define EV_CONTAINER_OF(ptr, type, m) ((type *)(void *)((char *)(ptr)-offsetof(type, m)))

struct ev;

/* A watched descriptor. Owned and embedded by the caller; a zeroed one is valid and not active.
 * It must stay valid and unmoved while started. The loop never closes fd. */
struct ev_io;
/* events: what is ready (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP bits), limited to
 * what io asks for now plus EPOLLERR and EPOLLHUP; never 0. */
typedef void (*ev_io_cb)(struct ev_io *io, uint32_t events);
struct ev_io {
	int fd;
	uint32_t events; /* what is asked for (EPOLLIN / EPOLLOUT / EPOLLRDHUP bits) */
	ev_io_cb cb;
	bool active;
};

/* A one-shot timer. Owned and embedded by the caller; a zeroed one is valid and not armed. */
struct ev_timer;
typedef void (*ev_timer_cb)(struct ev_timer *t);
struct ev_timer {
	struct ev_timer *next;
	int64_t due_us; /* ev_now_us() clock */
	ev_timer_cb cb;
	bool armed;
};

/* NULL with errno set. */
struct ev *ev_new(void);
/* Frees the loop; started ios and armed timers are forgotten, never called. NULL is a no-op. */
void ev_free(struct ev *ev);

/* Starts watching fd for events (level-triggered); an active io is stopped first. 0 or -errno
 * (then io is not active). */
int ev_io_start(struct ev *ev, struct ev_io *io, int fd, uint32_t events, ev_io_cb cb);
/* Changes what io asks for; no system call when nothing changes. 0 or -errno (-EINVAL when io
 * is not active). An event already collected but not yet dispatched is limited to the new
 * events. */
int ev_io_set(struct ev *ev, struct ev_io *io, uint32_t events);
/* Stops watching (before the caller closes the fd). Safe at any time, also from a callback
 * for another io whose events are already collected: that io is not called any more. No-op
 * when not active. */
void ev_io_stop(struct ev *ev, struct ev_io *io);

/* Arms t to call cb once, delay_us from now (re-arms it when armed). A delay of 0 or less fires
 * on the next ev_run_once(). Timers due at the same time fire in the order they were armed. */
void ev_timer_start(struct ev *ev, struct ev_timer *t, ev_timer_cb cb, int64_t delay_us);
/* Disarms t; no-op when it is not armed (ev may then be NULL). */
void ev_timer_stop(struct ev *ev, struct ev_timer *t);

/* CLOCK_MONOTONIC in microseconds. */
int64_t ev_now_us(void);

/*
 * Waits until a descriptor is ready, a timer is due or ev_wake() was called (with no io and no
 * timer it waits for a wake-up), then calls the callbacks of what is ready and of the due
 * timers. 0, or -errno when epoll itself fails (EINTR is 0). Timers wait whole milliseconds,
 * rounded up. Callbacks may start and stop ios and timers, but must not call ev_run_once() or
 * ev_free().
 */
int ev_run_once(struct ev *ev);

/* Thread-safe and async-signal-safe: the wake callback runs on the loop soon after. Wake-ups
 * made before the loop gets to them lead to one callback. */
void ev_wake(struct ev *ev);
/* The function ev_wake() leads to (cb may be NULL). */
void ev_set_wake(struct ev *ev, void (*cb)(void *ctx), void *ctx);

#endif
