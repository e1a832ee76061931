/*
 * cs-minrelay: the least a TCP relay can do, as a floor for scripts/bench. One epoll loop, one
 * recv() and one send() per readable socket, no parsing, no queue: what nginx and codex-switch
 * cost beyond this is their own.
 *
 *   cs-minrelay [-e] LISTEN_PORT UPSTREAM_PORT     (both on 127.0.0.1; -e: edge-triggered)
 *
 * A benchmark peer only: one failure ends the pair. What a socket does not take waits in a
 * buffer of its own while its source is not read (the flow control any relay needs: an echo
 * of 128 MiB would deadlock a relay that blocks in send()).
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 1024
#define CHUNK  (64 * 1024)

/* Per socket: its peer (-1: none) and what could not be sent to it yet (its source then waits). */
static struct sock {
	int peer;
	bool edge;
	size_t off, len;
	unsigned char pend[CHUNK];
} * socks;
static int ep;
static unsigned char buf[CHUNK];

static int port_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v > 0 && v < 65536 ? (int)v : -1;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
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

static void drop(int fd)
{
	int other = socks[fd].peer;

	close(fd);
	close(other);
	socks[fd].peer = socks[other].peer = -1; /* an event of this batch may still name them */
}

static void pair_up(int lfd, int up_port, bool edge)
{
	struct sockaddr_in a = loopback(up_port);
	int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), u, one = 1;

	if (c < 0) {
		return;
	}
	u = socket(AF_INET, SOCK_STREAM, 0);
	if (u < 0 || c >= MAX_FD || u >= MAX_FD ||
	    connect(u, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(c);
		if (u >= 0) {
			close(u);
		}
		return;
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	socks[c] = (struct sock){.peer = u, .edge = edge};
	socks[u] = (struct sock){.peer = c, .edge = edge};
	if (interest(EPOLL_CTL_ADD, c) < 0 || interest(EPOLL_CTL_ADD, u) < 0) {
		drop(c);
	}
}

/* Sends what waits toward fd; when it is all out, the peer may be read again. */
static void flush(int fd)
{
	struct sock *s = &socks[fd];
	ssize_t w = send(fd, s->pend + s->off, s->len - s->off, MSG_NOSIGNAL | MSG_DONTWAIT);

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
		if (w < 0 && n > 0 && errno == EAGAIN) {
			w = 0;
		}
		if (w < 0) {
			drop(fd);
			return;
		}
		if (w < n) {
			memcpy(d->pend, buf + w, (size_t)(n - w));
			d->len = (size_t)(n - w);
			interest(EPOLL_CTL_MOD, fd);
			interest(EPOLL_CTL_MOD, s->peer);
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
	struct sockaddr_in a;
	struct epoll_event evs[16];
	int lfd, one = 1, up;

	socks = calloc(MAX_FD, sizeof(*socks));
	for (int i = 0; socks && i < MAX_FD; i++) {
		socks[i].peer = -1;
	}
	if (argc != 3 + edge || port_arg(argv[1 + edge]) < 0 || port_arg(argv[2 + edge]) < 0) {
		fprintf(stderr, "usage: cs-minrelay [-e] LISTEN_PORT UPSTREAM_PORT\n");
		return 2;
	}
	a = loopback(port_arg(argv[1 + edge]));
	up = port_arg(argv[2 + edge]);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ep = epoll_create1(0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!socks || lfd < 0 || ep < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
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
				pair_up(lfd, up, edge);
				continue;
			}
			if (socks[fd].peer >= 0 && (evs[i].events & EPOLLOUT) && socks[fd].len) {
				flush(fd);
			}
			if (socks[fd].peer >= 0 &&
			    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				relay(fd);
			}
		}
	}
}
