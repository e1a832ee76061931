#define _GNU_SOURCE /* pipe2, execvpe, close_range, prctl */
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Builds environ + extra before vfork: allocation is not async-signal-safe. Caller frees. */
static char **merged_env(const char *const *extra)
{
	size_t n = 0, m = 0, k = 0;
	char **env;

	while (environ[n]) {
		n++;
	}
	while (extra && extra[m]) {
		m++;
	}
	env = calloc(n + m + 1, sizeof(*env));
	if (!env) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
		bool overridden = false;
		for (size_t j = 0; j < m && !overridden; j++) {
			overridden = strncmp(extra[j], environ[i], len) == 0;
		}
		if (!overridden) {
			env[k++] = environ[i];
		}
	}
	for (size_t j = 0; j < m; j++) {
		env[k++] = (char *)extra[j];
	}
	return env;
}

/* Puts fd (-1: /dev/null, -2: leave ours) at target. 0 or the errno of the failed call. */
static int child_fd(int fd, int target, int devnull)
{
	if (fd == -2) {
		return 0;
	}
	if (fd == -1) {
		if (devnull < 0) {
			return devnull == -1 ? EBADF : -devnull;
		}
		fd = devnull;
	}
	if (fd == target) {
		/* dup2() onto itself keeps close-on-exec: clear it, or the child loses the fd. */
		int flags = fcntl(fd, F_GETFD);
		return flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0 ? errno : 0;
	}
	while (dup2(fd, target) < 0) {
		if (errno != EINTR) {
			return errno;
		}
	}
	return 0;
}

/* Tells the parent why the child cannot run (as git's run-command.c does), then exits. */
static void child_fail(int errfd, int e)
{
	while (write(errfd, &e, sizeof(e)) < 0 && errno == EINTR) {
	}
	_exit(127);
}

/* Runs in the vfork child: async-signal-safe calls only, on our memory, never returning. */
static void child(const struct spawn_opts *o, char **env, int errfd, pid_t parent)
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), e;

	sigemptyset(&none);
	for (int s = 1; s < NSIG; s++) {
		signal(s, SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(127);
	}
	if (o->new_pgroup) {
		setpgid(0, 0);
	}
	if (devnull < 0) {
		devnull = -errno; /* an error only if a stream should go there */
	}
	/* The error pipe must not be one of the targets, or a dup2() would overwrite it. */
	if (errfd <= STDERR_FILENO) {
		int moved = fcntl(errfd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		if (moved < 0) {
			_exit(127);
		}
		errfd = moved;
	}
	e = child_fd(o->stdin_fd, STDIN_FILENO, devnull);
	e = e ? e : child_fd(o->stdout_fd, STDOUT_FILENO, devnull);
	e = e ? e : child_fd(o->stderr_fd, STDERR_FILENO, devnull);
	if (e) {
		child_fail(errfd, e);
	}
	/* Everything else goes, except the error pipe, which is close-on-exec. */
	for (int fd = STDERR_FILENO + 1; fd < errfd; fd++) {
		close(fd);
	}
	syscall(SYS_close_range, errfd + 1, ~0U, 0);
	execvpe(o->argv[0], o->argv, env);
	child_fail(errfd, errno);
}

int spawn_start(const struct spawn_opts *o, pid_t *pid)
{
	sigset_t all, old;
	char **env = merged_env(o->env);
	int pipefd[2], e = 0, r;
	pid_t parent = getpid(), p;
	ssize_t n;

	if (!env) {
		return -ENOMEM;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		free(env);
		return r;
	}
	/* No handler of ours may run in the child between vfork and exec. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	/* vfork: the child borrows our memory until it execs, instead of a copy of our page
	 * tables that exec throws away, after which every page we write faults once more (some
	 * 0.4 ms for the copy and 1 ms of faults per 4 MiB written). child() keeps to
	 * async-signal-safe calls, touches nothing of ours but its arguments, and never
	 * returns, as vfork requires; this thread waits, the others run on. */
	p = vfork();
	if (p == 0) {
		child(o, env, pipefd[1], parent);
	}
	r = p < 0 ? -errno : 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(env);
	close(pipefd[1]);
	if (r) {
		close(pipefd[0]);
		return r;
	}
	do {
		n = read(pipefd[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == sizeof(e)) {
		waitpid(p, NULL, 0); /* it exits at once: reap it, so no zombie is left */
		return -e;
	}
	*pid = p;
	return 0;
}

bool spawn_find(const char *name, char *out, size_t outsz)
{
	const char *path = getenv("PATH");

	if (!name || !*name) {
		return false;
	}
	if (strchr(name, '/')) {
		return snprintf(out, outsz, "%s", name) < (int)outsz && access(name, X_OK) == 0;
	}
	while (path && *path) {
		size_t n = strcspn(path, ":");
		if (snprintf(out, outsz, "%.*s/%s", (int)n, n ? path : ".", name) < (int)outsz &&
		    access(out, X_OK) == 0) {
			return true;
		}
		path += n + (path[n] == ':');
	}
	return false;
}

static int decode(int st)
{
	if (WIFEXITED(st)) {
		return WEXITSTATUS(st);
	}
	return 128 + WTERMSIG(st);
}

int spawn_poll(pid_t pid, int *status)
{
	int st;
	pid_t r;

	do {
		r = waitpid(pid, &st, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		return -errno;
	}
	if (r == 0) {
		return 0;
	}
	*status = decode(st);
	return 1;
}

int spawn_wait(pid_t pid, int *status)
{
	int st;
	pid_t r;

	do {
		r = waitpid(pid, &st, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		return -errno;
	}
	*status = decode(st);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The two pipes of spawn_exchange(): what is left to send, what came back. */
struct xfer {
	int in; /* our end of the child's stdin, -1 once all is sent or it is gone */
	const char *data;
	size_t left;
	int out; /* the read end of the child's stdout */
	char *got;
	size_t len, max;
};

/* Sends what the socket takes now; a child that closed its stdin just gets no more. */
static void send_some(struct xfer *x)
{
	ssize_t w = send(x->in, x->data, x->left, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w > 0) {
		x->data += w;
		x->left -= (size_t)w;
	}
	if (x->left == 0 || (w < 0 && errno != EINTR && errno != EAGAIN)) {
		close(x->in); /* EOF for the child */
		x->in = -1;
	}
}

/* Feeds stdin and reads stdout until EOF or max bytes; false when the deadline passed first. */
static bool pump(struct xfer *x, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (x->len < x->max) {
		struct pollfd p[2] = {{.fd = x->out, .events = POLLIN},
		                      {.fd = x->in, .events = POLLOUT}};
		int64_t left = deadline - now_ms();
		ssize_t got;
		int n;

		if (left <= 0) {
			return false;
		}
		n = poll(p, x->in >= 0 ? 2 : 1, (int)left);
		if (n < 0 && errno != EINTR) {
			return false;
		}
		if (n > 0 && x->in >= 0 && p[1].revents) {
			send_some(x);
		}
		if (n <= 0 || !p[0].revents) {
			continue;
		}
		got = read(x->out, x->got + x->len, x->max - x->len);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got <= 0) {
			break;
		}
		x->len += (size_t)got;
	}
	return true;
}

/* Our end of the child's stdin: a socket, so a child gone before reading costs no SIGPIPE. */
static int stdin_socket(const void *in, int fds[2])
{
	if (!in) {
		fds[0] = fds[1] = -1;
		return 0;
	}
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) ? -errno : 0;
}

int spawn_exchange(char *const *argv, const void *in, size_t inlen, size_t max, int timeout_ms,
                   char **out, size_t *outlen, int *status)
{
	struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	struct xfer x = {.data = in, .left = inlen, .max = max};
	int fds[2], ins[2], r, ignored;
	pid_t pid;

	*status = -1;
	*outlen = 0;
	*out = x.got = calloc(1, max + 1);
	if (!x.got) {
		return -ENOMEM;
	}
	if ((r = stdin_socket(in, ins)) < 0) {
		return r;
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		r = -errno;
		close(ins[0]);
		close(ins[1]);
		return r;
	}
	o.stdin_fd = ins[1];
	o.stdout_fd = fds[1];
	r = spawn_start(&o, &pid);
	close(fds[1]);
	if (ins[1] >= 0) {
		close(ins[1]);
	}
	x.in = ins[0];
	x.out = fds[0];
	if (r == 0) {
		bool done = pump(&x, timeout_ms);
		/* Closed first: a child with more to say than max gets EPIPE, not blocked. */
		close(fds[0]);
		if (!done) {
			kill(pid, SIGKILL);
		}
		spawn_wait(pid, done ? status : &ignored);
	} else {
		close(fds[0]);
	}
	if (x.in >= 0) {
		close(x.in);
	}
	*outlen = x.len;
	return r;
}

int spawn_capture(char *const *argv, size_t max, int timeout_ms, char **out, int *status)
{
	size_t len;

	return spawn_exchange(argv, NULL, 0, max, timeout_ms, out, &len, status);
}
