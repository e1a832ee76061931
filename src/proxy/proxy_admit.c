/*
 * Admission of TUI connections under floods: unfinished handshakes are capped (the oldest is
 * dropped for a new one), descriptors near the limit are kept for the TUI's upstream connect and
 * the store, and refusals are logged as one line per interval with a count, not one per
 * connection.
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/log.h"

#define REFUSAL_LOG_US ((int64_t)PROXY_REFUSAL_LOG_SECS * 1000000)

int proxy_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		return -errno;
	}
	if (rl.rlim_cur == rl.rlim_max) {
		return 0;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		int r = -errno;

		log_warn("cannot raise the open file limit to %llu: %s",
		         (unsigned long long)rl.rlim_max, strerror(-r));
		return r;
	}
	return 0;
}

static int fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > INT_MAX) {
		return INT_MAX;
	}
	return (int)rl.rlim_cur;
}

static void summary_fired(struct ev_timer *t)
{
	struct proxy *p = EV_CONTAINER_OF(t, struct proxy, refused_tm);

	if (!p->refused) {
		p->refused_logging =
		        false; /* a quiet interval: the next refusal is logged at once */
		return;
	}
	log_info("refused %u more client connections in the last %d s (the last: %s)", p->refused,
	         PROXY_REFUSAL_LOG_SECS, p->refused_why);
	p->refused = 0;
	ev_timer_start(p->ev, &p->refused_tm, summary_fired, REFUSAL_LOG_US);
}

void proxy_admit_refused(struct proxy *p, const char *why)
{
	if (!p->refused_logging) {
		log_info("refused a client connection: %s", why);
		p->refused_logging = true;
		ev_timer_start(p->ev, &p->refused_tm, summary_fired, REFUSAL_LOG_US);
		return;
	}
	p->refused++;
	snprintf(p->refused_why, sizeof(p->refused_why), "%s", why);
}

void proxy_admit_release(struct proxy *p)
{
	if (p->ev) {
		ev_timer_stop(p->ev, &p->refused_tm);
	}
	if (p->refused) {
		log_info("refused %u more client connections (the last: %s)", p->refused,
		         p->refused_why);
	}
	p->refused = 0;
	p->refused_logging = false;
}

static bool pending(const struct proxy_conn *c)
{
	return !c->control && c->ws[SIDE_DOWN].state == WS_HANDSHAKE;
}

/* Conns are kept newest first: the oldest pending handshake is the last one. */
static struct proxy_conn *oldest_pending(struct proxy *p, size_t *count)
{
	struct proxy_conn *old = NULL;

	*count = 0;
	for (struct proxy_conn *c = p->conns; c; c = c->next) {
		if (pending(c)) {
			old = c;
			(*count)++;
		}
	}
	return old;
}

bool proxy_admit(struct proxy *p, int fd)
{
	int limit = fd_limit();
	bool low = limit - PROXY_FD_RESERVE <= fd;
	size_t n;
	struct proxy_conn *old = oldest_pending(p, &n);

	if (n < PROXY_PENDING_MAX && !low) {
		return true;
	}
	if (!old) {
		close(fd);
		proxy_admit_refused(p, "too few file descriptors left");
		return false;
	}
	/* Its descriptor is free before the new one is read: closed here, not from a timer. */
	proxy_ws_release(old, SIDE_DOWN);
	proxy_relay_maybe_free(old);
	proxy_admit_refused(p,
	                    low ? "dropped an unfinished handshake: too few file descriptors left"
	                        : "dropped the oldest of too many unfinished handshakes");
	return true;
}
