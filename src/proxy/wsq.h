/*
 * An outgoing WebSocket queue toward one peer. It holds fragments of messages being streamed
 * through (written in arrival order) and whole injected messages, and hands out one frame of at
 * most a chunk at a time, with the opcode and FIN bit that keep messages intact on the wire.
 *
 * Injected messages never land inside a fragmented message: while a streamed message is open
 * (its last fragment not yet pushed), or while the queue is held (a hook is deciding about the
 * message that must go first), they wait in a deferred list.
 */
#ifndef CS_WSQ_H
#define CS_WSQ_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/wsframe.h"

struct wsq_frag;
struct wsq_block;

struct wsq {
	struct wsq_frag *head, *tail;   /* ready to write, in order */
	struct wsq_frag *dhead, *dtail; /* deferred whole messages */
	struct wsq_block *blocks;       /* where small fragments live, newest first */
	size_t bytes;                   /* wsq_bytes(): payload not written plus entry overheads */
	bool stream_open;               /* the last fragment pushed did not end its message */
	unsigned hold;                  /* > 0: whole messages are deferred */
};

/* Fragments up to WSQ_SMALL bytes are carved from WSQ_BLOCK-byte blocks, freed when their last
 * fragment is written (the newest is kept for reuse): a burst of small notifications costs no
 * malloc()/free() per message. */
#define WSQ_SMALL 1024
#define WSQ_BLOCK (64 * 1024)
/* Least an entry costs in wsq_bytes() beyond its payload (its header). */
#define WSQ_ENTRY_MIN 24

void wsq_init(struct wsq *q);
/* Frees every queued message and every block; the queue is then empty and usable. */
void wsq_release(struct wsq *q);

/* Appends a copy of one fragment of a streamed message (first/final: its place in the message;
 * binary only matters on the first). -ENOMEM. */
int wsq_push_fragment(struct wsq *q, const void *data, size_t len, bool binary, bool first,
                      bool final);
/* The same for a fragment still masked as a client sent it, with mask as if data[0] were at
 * payload offset 0: its frames go toward a server with their mask shifted to match, the bytes
 * unchanged (only a client's frames are masked, so only a server may be their destination). */
int wsq_push_masked(struct wsq *q, const void *data, size_t len, const unsigned char mask[4],
                    bool binary, bool first, bool final);
/* A fragment of a streamed message went out around the queue, which was empty: the queue's
 * order continues after it (whole messages still wait for the stream's end). */
void wsq_bypass(struct wsq *q, bool final);
/* Appends a copy of a whole message, deferred while a stream is open or the queue is held. */
int wsq_push_message(struct wsq *q, const void *data, size_t len, bool binary);

void wsq_hold(struct wsq *q);
/* Ends one wsq_hold(); the deferred messages become ready when nothing else holds them back. */
void wsq_unhold(struct wsq *q);

/* True when a frame is ready to write. */
bool wsq_ready(const struct wsq *q);
/* The queue's cost in bytes: payload not yet written plus at least WSQ_ENTRY_MIN per entry. */
size_t wsq_bytes(const struct wsq *q);
/* Blocks held for small fragments (what a queue costs beyond its payload). */
size_t wsq_blocks(const struct wsq *q);

/* How the bytes wsq_peek() hands out go on the wire. */
struct wsq_frame {
	enum wsframe_op op;    /* WSFRAME_TEXT / BINARY, or CONT inside a message */
	bool fin;              /* the last frame of its message */
	bool masked;           /* the payload is still masked (wsq_push_masked) ... */
	unsigned char mask[4]; /* ... with this mask, from its first byte: the frame's mask */
};

/*
 * The next frame: *p points at up to max payload bytes (writable: they may be masked in place),
 * *n its length, *fr its opcode and FIN bit. False when nothing is ready. Call
 * wsq_consume(q, *n) once the frame was written or copied.
 */
bool wsq_peek(struct wsq *q, size_t max, unsigned char **p, size_t *n, struct wsq_frame *fr);
void wsq_consume(struct wsq *q, size_t n);

#endif
