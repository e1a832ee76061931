#define _GNU_SOURCE /* pipe2 */
#include "session/children.h"

#include "base/log.h"
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

void children_init(struct children *c, const struct session_env *env,
                   void (*exited)(void *ctx, enum children_which which, int status), void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->env = env;
	c->exited = exited;
	c->ctx = ctx;
	c->err_io.fd = -1;
}

static void close_stderr(struct children *c)
{
	if (c->err_io.fd >= 0) {
		ev_io_stop(c->env->ev, &c->err_io);
		close(c->err_io.fd);
		c->err_io.fd = -1;
	}
}

static void keep_tail(struct children *c, const char *buf, size_t n)
{
	size_t keep = n < CHILDREN_STDERR_TAIL ? n : CHILDREN_STDERR_TAIL;

	if (c->tail_len + keep > CHILDREN_STDERR_TAIL) {
		size_t drop = c->tail_len + keep - CHILDREN_STDERR_TAIL;
		memmove(c->tail, c->tail + drop, c->tail_len - drop);
		c->tail_len -= drop;
	}
	memcpy(c->tail + c->tail_len, buf + n - keep, keep);
	c->tail_len += keep;
}

static void on_stderr(struct ev_io *io, uint32_t events)
{
	struct children *c = EV_CONTAINER_OF(io, struct children, err_io);
	char buf[4096];
	ssize_t n;

	(void)events;
	while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
		keep_tail(c, buf, (size_t)n);
		log_debug("app-server: %.*s", (int)n, buf);
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close_stderr(c);
	}
}

int children_start_app(struct children *c, char *const *argv)
{
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .new_pgroup = 1};
	int pipefd[2], r;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		return -errno;
	}
	o.stderr_fd = pipefd[1];
	r = spawn_start(&o, &c->app_pid);
	close(pipefd[1]);
	if (r) {
		close(pipefd[0]);
		return r;
	}
	r = ev_io_start(c->env->ev, &c->err_io, pipefd[0], EPOLLIN, on_stderr);
	if (r) {
		close(pipefd[0]);
		c->err_io.fd = -1;
	}
	return 0; /* without its stderr the session still runs */
}

int children_start_tui(struct children *c, char *const *argv, const char **env)
{
	/* stdin must be the terminal even though spawn defaults to /dev/null. */
	struct spawn_opts o = {.argv = argv,
	                       .env = env,
	                       .stdin_fd = STDIN_FILENO,
	                       .stdout_fd = -2,
	                       .stderr_fd = -2};

	return spawn_start(&o, &c->tui_pid);
}

static void app_stop_step(struct ev_timer *t)
{
	struct children *c = EV_CONTAINER_OF(t, struct children, app_tm);

	if (c->app_pid <= 0) {
		return;
	}
	/* A busy app-server only starts draining on the first SIGTERM; the second ends it. It
	 * leads its own process group: the npm launcher's native child goes with it. */
	if (c->term_sent < 2) {
		kill(-c->app_pid, SIGTERM);
		c->term_sent++;
		ev_timer_start(c->env->ev, &c->app_tm, app_stop_step, CHILDREN_TERM_GRACE_US);
		return;
	}
	log_warn("app-server did not stop after two SIGTERMs; killing it");
	kill(-c->app_pid, SIGKILL);
}

void children_stop_app(struct children *c, long after_us)
{
	if (c->app_pid <= 0 || c->term_sent > 0) {
		return;
	}
	if (after_us > 0) {
		if (!c->app_tm.armed) {
			ev_timer_start(c->env->ev, &c->app_tm, app_stop_step, after_us);
		}
		return;
	}
	ev_timer_stop(c->env->ev, &c->app_tm);
	app_stop_step(&c->app_tm);
}

static void tui_kill(struct ev_timer *t)
{
	struct children *c = EV_CONTAINER_OF(t, struct children, tui_tm);

	if (c->tui_pid > 0) {
		log_warn("the codex TUI did not exit; killing it");
		kill(c->tui_pid, SIGKILL);
	}
}

void children_stop_tui(struct children *c, int sig, long grace_us)
{
	if (c->tui_pid <= 0) {
		return;
	}
	if (sig) {
		kill(c->tui_pid, sig);
	}
	if (grace_us <= 0) {
		tui_kill(&c->tui_tm);
	} else if (!c->tui_tm.armed) {
		ev_timer_start(c->env->ev, &c->tui_tm, tui_kill, grace_us);
	}
}

void children_reap(struct children *c)
{
	int st;

	if (c->tui_pid > 0 && spawn_poll(c->tui_pid, &st) == 1) {
		c->tui_pid = 0;
		ev_timer_stop(c->env->ev, &c->tui_tm);
		log_info("tui exited with status %d", st);
		c->exited(c->ctx, CHILDREN_TUI, st);
	}
	if (c->app_pid > 0 && spawn_poll(c->app_pid, &st) == 1) {
		kill(-c->app_pid, SIGKILL); /* whatever it left in its group */
		c->app_pid = 0;
		ev_timer_stop(c->env->ev, &c->app_tm);
		if (c->err_io.fd >= 0) {
			on_stderr(&c->err_io,
			          EPOLLIN); /* its last words, before they are reported */
		}
		c->exited(c->ctx, CHILDREN_APP, st);
	}
}

void children_stderr_tail(const struct children *c, char *out, size_t outsz)
{
	const char *p = c->tail, *end = c->tail + c->tail_len;
	int lines = 0;

	for (const char *q = end; q > p; q--) {
		if (q[-1] == '\n' && q != end && ++lines == 6) {
			p = q;
			break;
		}
	}
	snprintf(out, outsz, "%.*s", (int)(end - p), p);
}

void children_release(struct children *c)
{
	int st;

	if (c->tui_pid > 0) {
		kill(c->tui_pid, SIGKILL);
		spawn_wait(c->tui_pid, &st);
		c->tui_pid = 0;
	}
	if (c->app_pid > 0) {
		kill(-c->app_pid, SIGKILL);
		spawn_wait(c->app_pid, &st);
		c->app_pid = 0;
	}
	ev_timer_stop(c->env->ev, &c->app_tm);
	ev_timer_stop(c->env->ev, &c->tui_tm);
	close_stderr(c);
}
