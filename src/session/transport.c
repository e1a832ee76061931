#include "session/transport.h"

#include "base/codexseen.h"
#include "base/codexver.h"
#include "base/log.h"
#include "base/util.h"
#include "store/paths.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The first release whose app-server (0.128) and TUI (0.131) both take unix://PATH. */
#define UNIX_SINCE "0.131.0"

/* A port the kernel picks on 127.0.0.1, free a moment ago, for the app-server to bind. */
static int reserve_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0) {
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		port = ntohs(a.sin_port);
	}
	close(fd);
	return port > 0 ? port : -EADDRNOTAVAIL;
}

/* Whether to use unix sockets; why not, for the log, in *why. */
static bool want_unix(const struct paths *p, const char *codex_bin, const char **why)
{
	const char *env = getenv("CODEX_SWITCH_TRANSPORT");

	if (env && strcmp(env, "tcp") == 0) {
		*why = "CODEX_SWITCH_TRANSPORT=tcp";
		return false;
	}
	if (env && strcmp(env, "unix") == 0) {
		return true;
	}
	if (env && *env) {
		log_warn("CODEX_SWITCH_TRANSPORT is '%s', neither tcp nor unix: ignored", env);
	}
	if (!codexseen_supported(p->codex_seen, codex_bin, UNIX_SINCE)) {
		*why = "codex not seen at " UNIX_SINCE " or later yet";
		return false;
	}
	return true;
}

/*
 * sock-<pid>-<8 random hex>-app and -tui: the pid lets a later run remove a killed run's; the
 * random part keeps two runs apart that share the store with the same pid in other PID
 * namespaces (containers), where a name of the pid alone would be unlinked under the other.
 */
static int choose_unix(struct transport *t, const struct paths *p)
{
	unsigned char raw[4];
	char tag[2 * sizeof(raw) + 1];
	long pid = (long)getpid();
	int r = util_random_bytes(raw, sizeof(raw));

	if (r) {
		return r;
	}
	util_hex(raw, sizeof(raw), tag);
	t->app_sock = util_printf("%s/sock-%ld-%s-app", p->runtime_dir, pid, tag);
	t->tui_sock = util_printf("%s/sock-%ld-%s-tui", p->runtime_dir, pid, tag);
	/* One too long for a socket's address fails the proxy's listen: see transport_use_tcp. */
	return t->app_sock && t->tui_sock ? 0 : -ENOMEM;
}

int transport_choose(struct transport *t, const struct paths *p, const char *codex_bin)
{
	const char *why = NULL;
	int r;

	memset(t, 0, sizeof(*t));
	if (want_unix(p, codex_bin, &why)) {
		r = choose_unix(t, p);
		if (r == 0) {
			return 0;
		}
		why = strerror(-r);
	}
	log_debug("app-server and TUI on 127.0.0.1: %s", why);
	return transport_use_tcp(t);
}

int transport_use_tcp(struct transport *t)
{
	transport_release(t);
	t->app_port = reserve_port();
	if (t->app_port < 0) {
		log_error("cannot find a free port on 127.0.0.1: %s", strerror(-t->app_port));
		return t->app_port;
	}
	return 0;
}

void transport_app_url(const struct transport *t, char *out, size_t outsz)
{
	if (t->app_sock) {
		snprintf(out, outsz, "unix://%s", t->app_sock);
	} else {
		snprintf(out, outsz, "ws://127.0.0.1:%d", t->app_port);
	}
}

void transport_tui_url(const struct transport *t, int proxy_port, char *out, size_t outsz)
{
	if (t->tui_sock) {
		snprintf(out, outsz, "unix://%s", t->tui_sock);
	} else {
		snprintf(out, outsz, "ws://127.0.0.1:%d", proxy_port);
	}
}

void transport_release(struct transport *t)
{
	if (t->app_sock) {
		unlink(t->app_sock);
	}
	free(t->app_sock);
	free(t->tui_sock);
	t->app_sock = t->tui_sock = NULL;
}
