/*
 * cs-minrelay: the least a TCP relay can do, as a floor for scripts/bench. One epoll loop, one
 * recv() and one send() per readable socket, no parsing, no queue: what nginx and codex-switch
 * cost beyond this is their own.
 *
 *   cs-minrelay [-e|-s] LISTEN UPSTREAM     (-e: edge-triggered; -s: splice)
 *
 * -s moves the bytes with splice() through a pipe per direction: no copy in user space at all,
 * the floor of a relay that would never look at a payload (issue #18 asked whether that is what
 * the bytes' copies cost).
 *
 * LISTEN and UPSTREAM are ports on 127.0.0.1, or paths of unix sockets (they start with '/'):
 * the floor for codex-switch on unix sockets (codex 0.131 and later).
 *
 * A benchmark peer only: one failure ends the pair. What a socket does not take waits in a
 * buffer of its own while its source is not read (the flow control any relay needs: an echo
 * of 128 MiB would deadlock a relay that blocks in send()).
 */
#define _GNU_SOURCE /* accept4, splice, F_SETPIPE_SZ */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD  1024
#define CHUNK   (64 * 1024)
#define PIPE_SZ (1024 * 1024) /* -s: a pipe's capacity, one splice() in at most */

/* Per socket: its peer (-1: none) and what could not be sent to it yet (its source then waits):
 * in pend, or with -s in the pipe toward it. */
static struct sock {
	int peer;
	bool edge;
	size_t off, len;
	int pipe[2]; /* -s: the bytes toward this socket, len of them */
	unsigned char pend[CHUNK];
} * socks;
static int ep;
static bool use_splice;
static unsigned char buf[CHUNK];

/* A loopback port or a unix socket's path, as an address; false if arg is neither. */
static bool addr_arg(const char *arg, struct sockaddr_storage *a, socklen_t *len)
{
	struct sockaddr_un *u = (struct sockaddr_un *)a;
	struct sockaddr_in *in = (struct sockaddr_in *)a;
	char *end;
	long v = strtol(arg, &end, 10);

	memset(a, 0, sizeof(*a));
	if (arg[0] == '/') {
		u->sun_family = AF_UNIX;
		*len = sizeof(*u);
		return strlen(arg) < sizeof(u->sun_path) &&
		       snprintf(u->sun_path, sizeof(u->sun_path), "%s", arg) > 0;
	}
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)v);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*len = sizeof(*in);
	return *arg && !*end && v > 0 && v < 65536;
}

/* Read while the peer takes everything; write while something waits. */
static int interest(int op, int fd)
{
	struct sock *s = &socks[fd];
	struct epoll_event e = {.data.fd = fd};

	e.events = (socks[s->peer].len ? 0u : EPOLLIN) | (s->len ? EPOLLOUT : 0u) |
	           (s->edge ? EPOLLET : 0u);
	return epoll_ctl(ep, op, fd, &e);
}

static void close_pipe(struct sock *s)
{
	if (s->pipe[0] >= 0) {
		close(s->pipe[0]);
		close(s->pipe[1]);
	}
	s->pipe[0] = s->pipe[1] = -1;
}

static void drop(int fd)
{
	int other = socks[fd].peer;

	close(fd);
	close(other);
	close_pipe(&socks[fd]);
	close_pipe(&socks[other]);
	socks[fd].peer = socks[other].peer = -1; /* an event of this batch may still name them */
}

/* -s: a pipe toward the socket; a smaller capacity than asked for only means more splices. */
static int open_pipe(struct sock *s)
{
	if (!use_splice) {
		return 0;
	}
	if (pipe2(s->pipe, O_NONBLOCK) < 0) {
		s->pipe[0] = s->pipe[1] = -1;
		return -1;
	}
	fcntl(s->pipe[1], F_SETPIPE_SZ, PIPE_SZ);
	return 0;
}

static void pair_up(int lfd, const struct sockaddr_storage *up, socklen_t up_len, bool edge)
{
	int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), u, one = 1;

	if (c < 0) {
		return;
	}
	u = socket(up->ss_family, SOCK_STREAM, 0);
	/* Non-blocking once connected: splice() blocks on a blocking socket whatever its flags. */
	if (u < 0 || c >= MAX_FD || u >= MAX_FD ||
	    connect(u, (const struct sockaddr *)up, up_len) < 0 ||
	    fcntl(u, F_SETFL, O_NONBLOCK) < 0) {
		close(c);
		if (u >= 0) {
			close(u);
		}
		return;
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly on unix */
	setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	socks[c] = (struct sock){.peer = u, .edge = edge, .pipe = {-1, -1}};
	socks[u] = (struct sock){.peer = c, .edge = edge, .pipe = {-1, -1}};
	if (open_pipe(&socks[c]) < 0 || open_pipe(&socks[u]) < 0 ||
	    interest(EPOLL_CTL_ADD, c) < 0 || interest(EPOLL_CTL_ADD, u) < 0) {
		drop(c);
	}
}

/* Sends what waits toward fd; when it is all out, the peer may be read again. */
static void flush(int fd)
{
	struct sock *s = &socks[fd];
	ssize_t w = use_splice ? splice(s->pipe[0], NULL, fd, NULL, s->len - s->off,
	                                SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
	                       : send(fd, s->pend + s->off, s->len - s->off,
	                              MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w < 0 && errno != EAGAIN) {
		drop(fd);
		return;
	}
	s->off += w > 0 ? (size_t)w : 0;
	if (s->off == s->len) {
		s->off = s->len = 0;
		interest(EPOLL_CTL_MOD, fd);
		interest(EPOLL_CTL_MOD, s->peer);
	}
}

/* After n bytes were read from fd and w of them sent on (w < 0: the send failed): false when
 * the pair was dropped or the rest waits for the peer's EPOLLOUT, in pend (or, with -s, in the
 * pipe) while fd is not read. */
static bool sent_on(int fd, ssize_t n, ssize_t w)
{
	struct sock *s = &socks[fd], *d = &socks[s->peer];

	if (w < 0 && n > 0 && errno == EAGAIN) {
		w = 0;
	}
	if (w < 0) {
		drop(fd);
		return false;
	}
	if (w < n) {
		if (!use_splice) {
			memcpy(d->pend, buf + w, (size_t)(n - w));
		}
		d->off = 0;
		d->len = (size_t)(n - w);
		interest(EPOLL_CTL_MOD, fd);
		interest(EPOLL_CTL_MOD, s->peer);
		return false;
	}
	return true;
}

/* -s: one splice() in, as much as the pipe holds, and out as far as the peer takes it; the rest
 * stays in the pipe, and fd waits, as with pend. */
static void relay_splice(int fd)
{
	struct sock *s = &socks[fd], *d = &socks[s->peer];
	ssize_t n = splice(fd, NULL, d->pipe[1], NULL, PIPE_SZ, SPLICE_F_MOVE | SPLICE_F_NONBLOCK),
	        w;

	if (n < 0 && errno == EAGAIN) {
		return;
	}
	w = n > 0 ? splice(d->pipe[0], NULL, s->peer, NULL, (size_t)n,
	                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
	          : -1;
	sent_on(fd, n, w);
}

/* Level-triggered: one recv per wake-up. Edge-triggered: until the socket is empty. */
static void relay(int fd)
{
	struct sock *s = &socks[fd], *d = &socks[s->peer];

	while (!d->len) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT), w;

		if (n < 0 && errno == EAGAIN) {
			return;
		}
		w = n > 0 ? send(s->peer, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) : -1;
		if (!sent_on(fd, n, w)) {
			return;
		}
		if (!s->edge || (size_t)n < sizeof(buf)) {
			return;
		}
	}
}

int main(int argc, char **argv)
{
	bool edge = argc > 1 && strcmp(argv[1], "-e") == 0;
	bool opt = edge || (argc > 1 && strcmp(argv[1], "-s") == 0);
	struct sockaddr_storage a, up;
	socklen_t alen, up_len;
	struct epoll_event evs[16];
	int lfd, one = 1;

	socks = calloc(MAX_FD, sizeof(*socks));
	for (int i = 0; socks && i < MAX_FD; i++) {
		socks[i].peer = -1;
	}
	use_splice = opt && !edge;
	if (argc != 3 + opt || !addr_arg(argv[1 + opt], &a, &alen) ||
	    !addr_arg(argv[2 + opt], &up, &up_len)) {
		fprintf(stderr,
		        "usage: cs-minrelay [-e|-s] LISTEN UPSTREAM (ports or /socket/paths)\n");
		return 2;
	}
	if (a.ss_family == AF_UNIX) {
		unlink(argv[1 + opt]);
	}
	lfd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ep = epoll_create1(0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!socks || lfd < 0 || ep < 0 || bind(lfd, (struct sockaddr *)&a, alen) < 0 ||
	    listen(lfd, 16) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, lfd,
	              &(struct epoll_event){.events = EPOLLIN, .data.fd = lfd}) < 0) {
		perror("cs-minrelay");
		return 1;
	}
	for (;;) {
		int n = epoll_wait(ep, evs, 16, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				pair_up(lfd, &up, up_len, edge);
				continue;
			}
			if (socks[fd].peer >= 0 && (evs[i].events & EPOLLOUT) && socks[fd].len) {
				flush(fd);
			}
			if (socks[fd].peer >= 0 &&
			    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				(use_splice ? relay_splice : relay)(fd);
			}
		}
	}
}
