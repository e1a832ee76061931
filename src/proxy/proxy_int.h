/*
 * Internals shared by proxy.c (listener, control connection),
 * proxy_ws.c (one WebSocket end over a socket we read and write ourselves) and proxy_relay.c
 * (the relay between the two ends of a conn). Not for other modules.
 */
#ifndef CS_PROXY_INT_H
#define CS_PROXY_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/ev.h"
#include "proxy/proxy.h"
#include "proxy/wsframe.h"
#include "proxy/wsq.h"

/* Sides of a conn: the TUI (we are the WebSocket server) and the app-server (the client). */
enum { SIDE_DOWN = 0, SIDE_UP = 1 };

/* One recv(): a frame of PROXY_TX_CHUNK with its header fits whole. */
#define PROXY_RX_CHUNK (64 * 1024 + WSFRAME_HDR_MAX)
#define PROXY_TX_CHUNK (64 * 1024) /* payload of one frame toward a peer, at most */
/* Frames up to this size are copied and coalesced into one send; larger ones go out in place. */
#define PROXY_COALESCE_MAX (8 * 1024)
#define PROXY_REASON_MAX   123 /* a close payload is at most 125 bytes, 2 of them the code */
/* Frames in one message from a peer, at most (a 128 MiB message in 8 KiB frames): beyond, the
 * peer is closed with 1009. Empty frames count, though they queue nothing. */
#define PROXY_MAX_FRAMES 16384

enum rx_mode {
	RX_IDLE,     /* between messages */
	RX_HEAD,     /* collecting the first bytes of a text message to classify it */
	RX_STREAM,   /* forwarding fragment by fragment */
	RX_ASSEMBLE, /* reassembling an intercepted message for a hook */
	RX_DISCARD,  /* dropping the rest of a message nobody will read */
};

/* Receive state of one side: the message being read from it. */
struct rxstate {
	enum rx_mode mode;
	bool binary;
	bool started;   /* a fragment of this message was queued toward the other side */
	bool discard;   /* the side is being closed for a too large message: drop the rest */
	size_t total;   /* bytes of this message so far */
	struct buf acc; /* head prefix or reassembled message */
};

/* Frames toward a side in one read whose payload is sent from the read's buffer, at most. */
#define PROXY_REFS_MAX 8

/* Payload sent from where it lies (borrowed), after out's first at bytes. */
struct wsref {
	const unsigned char *p;
	size_t n, at;
};

enum ws_state {
	WS_CLOSED,     /* no socket */
	WS_CONNECTING, /* up: the TCP connect is in progress */
	WS_HANDSHAKE,  /* up: the request is out, the 101 not yet in; down: reading the request */
	WS_OPEN,       /* frames both ways */
	WS_DYING,      /* no more events: the socket is closed from a zero timer, then reported */
};

/* One WebSocket end of a conn (proxy_ws.c). */
struct wsend {
	struct proxy_conn *c;
	int side;
	enum ws_state state;
	bool opened;        /* reached WS_OPEN once */
	struct ev_io io;    /* io.fd: the socket, -1 when none */
	struct ev_timer tm; /* handshake deadline, close deadlines, or the deferred close */
	struct wsframe_rx fr;
	struct buf head; /* the handshake head being collected (holds the token: wiped) */
	char key[WSFRAME_KEY_LEN + 1];
	bool paused;     /* not reading: flow control */
	bool hangup;     /* close the socket as soon as out is written */
	bool wipe_out;   /* out holds the upgrade request (the token): wipe it once sent */
	bool close_sent; /* our close frame is out: waiting for the peer's reply */
	bool close_echo; /* the peer closed: echo its code, then hang up */
	bool failed;     /* the peer broke the protocol: nothing more is read, close then hang up */
	unsigned char echo[2];
	size_t echo_len;
	bool pong_pending;
	unsigned char pong[WSFRAME_CTRL_MAX];
	size_t pong_len;
	uint64_t rng;       /* frame masks toward the app-server */
	unsigned char *out; /* PROXY_OUT_CAP bytes being sent: out_off of out_len sent */
	size_t out_off, out_len;
	/* Borrowed payload in out's order, only while one read is handled (the read's buffer):
	 * what the socket refuses is copied into out before the read ends. */
	struct wsref ref[PROXY_REFS_MAX];
	unsigned nref;
	size_t ref_bytes;
	bool gathering; /* this read put frames into out, sent when it ends */
	char why[80];   /* why the handshake failed, for the log */
};

struct close_info {
	bool set;
	int code;
	char reason[PROXY_REASON_MAX + 1];
};

struct proxy_conn {
	struct proxy *p;
	struct proxy_conn *next;
	bool control;
	bool opened; /* conn_opened was called */
	struct wsend ws[2];
	struct wsq q[2];      /* q[S]: toward side S */
	struct rxstate rx[2]; /* rx[S]: from side S */
	bool flush[2];        /* data was queued toward S during this read: write it at the end */
	struct close_info closing[2]; /* close requested toward S, after its queue drains */
	struct close_info gone[2];    /* why side S went away, passed on to the other side */
	/* Raw ids of the TUI's requests whose response goes to server_message, oldest first. */
	char watch[PROXY_WATCH_MAX][sizeof(((struct jsonrpc_head *)0)->id)];
	unsigned nwatch;
	struct ev_timer retry; /* control connect retries */
	bool retry_pending;
	int64_t poll_until_us; /* retries every BACKOFF_FIRST_MS until then, then back off */
	int64_t deadline_us;
	unsigned backoff_ms;
};

struct proxy {
	struct proxy_config cfg;
	struct ev *ev; /* borrowed from the config */
	struct ev_io listen;
	struct ev_timer accept_tm; /* accepting again after running out of descriptors */
	bool held;                 /* proxy_hold_clients(): TUIs wait in the listen backlog */
	bool refusing;             /* proxy_refuse_clients(): upgrades are answered 503 */
	int port;
	char *bearer; /* "Bearer <token>", for the upstream handshake */
	struct proxy_conn *conns;
	struct proxy_conn *control; /* the control conn from proxy_control_open() until closed */
	unsigned char *rxbuf;       /* PROXY_RX_CHUNK: every recv() lands here */
	struct ev_timer refused_tm; /* the end of the current refusal summary's interval */
	bool refused_logging;       /* a refusal was logged in this interval */
	unsigned refused;           /* refusals not logged yet in this interval */
	char refused_why[80];       /* the last of them */
	bool destroying;
};

/* proxy_relay.c */
struct proxy_conn *proxy_relay_new(struct proxy *p, bool control);
/* The TUI's upgrade was accepted: connect upstream, hold the TUI until it is there. */
void proxy_relay_down_open(struct proxy_conn *c);
void proxy_relay_up_open(struct proxy_conn *c);
void proxy_relay_up_error(struct proxy_conn *c, const char *why);
/* One slice of the message being read from side (ev: a data event; ev->data is borrowed, still
 * masked when ev->masked). */
void proxy_relay_receive(struct proxy_conn *c, int side, const struct wsframe_event *ev);
/* Writes what the current read queued, at once when the socket allows (end of every read). */
void proxy_relay_flush(struct proxy_conn *c);
/* Bytes toward side were written: the other side may read again. */
void proxy_relay_wrote(struct proxy_conn *c, int side);
void proxy_relay_peer_close(struct proxy_conn *c, int side, const void *in, size_t len);
void proxy_relay_side_gone(struct proxy_conn *c, int side);
void proxy_relay_close_side(struct proxy_conn *c, int side, int code, const char *reason);
/* Side broke the protocol: drop what is queued toward it and send the close (code) at once;
 * the other side is closed as if it went away, or with 1009 too for a message too large. */
void proxy_relay_fail(struct proxy_conn *c, int side, int code, const char *reason);
void proxy_relay_maybe_free(struct proxy_conn *c);
void proxy_relay_free(struct proxy_conn *c);

/* proxy_ws.c */
void proxy_ws_init(struct proxy_conn *c, int side);
/* Takes the accepted socket fd of a TUI (closed on failure too). */
int proxy_ws_accept(struct proxy_conn *c, int fd);
/* Takes fd as an already open WebSocket of side (closed on failure too): how the fuzz harness
 * drives the relay over socketpairs. */
int proxy_ws_adopt(struct proxy_conn *c, int side, int fd);
/* Starts connecting to the app-server; -errno when that failed at once (nothing to close). */
int proxy_ws_connect(struct proxy_conn *c);
/* Something may be written toward side: write it now if the socket takes it, else on EPOLLOUT.
 * Never frees c: a failed socket is closed from a zero timer. */
void proxy_ws_flush(struct proxy_conn *c, int side);
/*
 * Takes one data frame of p[0..n) toward side during a read, when nothing queued must go before
 * it: its header is written into the end's out buffer, its payload copied there, or, when large,
 * goes as it lies (plain toward the TUI, still masked toward the app-server) and p is lent
 * (p lives until the read ends), borrowed from where it is. Everything taken goes out in one
 * sendmsg() when proxy_ws_frames() ends the read; only what the socket refuses is copied.
 * 1 when taken, 0 when it must be queued instead.
 */
int proxy_ws_pass(struct proxy_conn *c, int side, const unsigned char *p, size_t n, bool lent,
                  const struct wsq_frame *fr);
void proxy_ws_pause(struct proxy_conn *c, int side, bool pause);
/* Closes the socket soon (from a zero timer, never inside the caller), then reports it: the
 * relay's side_gone, or up_error when the upstream never opened. */
void proxy_ws_kill(struct proxy_conn *c, int side, const char *why);
/* Arms the deadline after which side is killed. */
void proxy_ws_deadline(struct proxy_conn *c, int side, int secs);
/* The socket exists (any state but WS_CLOSED). */
bool proxy_ws_live(const struct proxy_conn *c, int side);
/* Closes the socket at once without reporting anything and frees the buffers (destroy). */
void proxy_ws_release(struct proxy_conn *c, int side);

/* proxy_ws.c, for proxy_hs.c */
#define PROXY_HEAD_MAX (16 * 1024) /* a request or response head */
/* Room for need more bytes in w's out buffer (allocated on first use); NULL when full. */
unsigned char *proxy_ws_out_room(struct wsend *w, size_t need);
/* Frames read from w's peer (payload from the TUI stays masked). -1: framing error. */
int proxy_ws_frames(struct wsend *w, unsigned char *in, size_t len);
/* Wipes and empties w's handshake head (it may hold the token). */
void proxy_ws_wipe_head(struct wsend *w);

/* proxy_hs.c: 0, or -1 to close the socket (w->why says why, for the upstream). */
int proxy_hs_request(struct wsend *w, const unsigned char *in, size_t n);
int proxy_hs_response(struct wsend *w, const unsigned char *in, size_t n);
/* The TCP connect toward the app-server finished: check it and send the upgrade request. */
void proxy_hs_connected(struct wsend *w);

/* proxy_admit.c */
/* Unfinished TUI handshakes held at once, at most: a new one drops the oldest. */
#define PROXY_PENDING_MAX 64
/* Descriptors below the open file limit that a new handshake never takes while an older one can
 * be dropped instead: room for the TUI's upstream connection and the store's files. */
#define PROXY_FD_RESERVE 64
/* Refusals are logged at most once per this many seconds, the rest counted. */
#define PROXY_REFUSAL_LOG_SECS 60
/* Whether the just accepted TUI socket fd may start a handshake, dropping the oldest pending one
 * when too many wait or descriptors run low; false: fd was closed (nothing to drop). */
bool proxy_admit(struct proxy *p, int fd);
/* One refused or dropped connection, for the summary (why: borrowed). */
void proxy_admit_refused(struct proxy *p, const char *why);
/* Logs the count not logged yet and stops the summary timer (proxy_destroy). */
void proxy_admit_release(struct proxy *p);

/* proxy.c */
void proxy_control_connect_failed(struct proxy_conn *c, const char *why);
/* Checks a TUI's Authorization value against the token. */
bool proxy_bearer_ok(const struct proxy *p, const char *h, size_t n);
/* The address of a local end: the unix socket at path, or 127.0.0.1:port when path is NULL;
 * *len its length. -ENAMETOOLONG if path does not fit. */
int proxy_local_addr(struct sockaddr_storage *a, socklen_t *len, const char *path, int port);

#endif
