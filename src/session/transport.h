/*
 * Where the app-server and the TUI meet codex-switch. codex 0.131 and later speak WebSocket
 * over unix sockets on both ends (`app-server --listen unix://PATH`, `--remote unix://PATH`):
 * every relayed byte then costs less than over loopback TCP, and no port is open to other
 * users. The sockets are $CODEX_SWITCH_HOME/runtime/sock-<pid>-<random>-app and -tui (the
 * directory is 0700); codex sends no token over them, so the directory and the peer's
 * credentials are the check (captoken_clean_stale removes a killed run's). Older codex, a codex
 * file not yet seen at a known version (its version is asked while the app-server starts), a
 * path too long for a socket, a proxy that cannot listen there (transport_use_tcp), or
 * CODEX_SWITCH_TRANSPORT=tcp: 127.0.0.1 and the capability tokens, as before.
 */
#ifndef CS_TRANSPORT_H
#define CS_TRANSPORT_H

#include <stddef.h>

struct paths;

struct transport {
	char *app_sock; /* owned; NULL: TCP */
	char *tui_sock; /* owned; NULL: TCP */
	int app_port;   /* TCP: a free port on 127.0.0.1 for the app-server */
};

/* Chooses for codex_bin (borrowed) and fills t; 0 or -errno (logged). */
int transport_choose(struct transport *t, const struct paths *p, const char *codex_bin);

/* Gives up the unix sockets (the proxy could not listen there): loopback TCP instead, as with
 * an older codex. 0 or -errno (logged). */
int transport_use_tcp(struct transport *t);

/* The app-server's --listen URL: "unix://PATH" or "ws://127.0.0.1:PORT". */
void transport_app_url(const struct transport *t, char *out, size_t outsz);

/* The TUI's --remote URL, proxy_port its TCP port when not on a unix socket. */
void transport_tui_url(const struct transport *t, int proxy_port, char *out, size_t outsz);

/* Removes the app-server's socket path (codex leaves it behind when killed) and frees t's
 * members; safe on a zeroed struct and twice. The proxy removes its own. */
void transport_release(struct transport *t);

#endif
