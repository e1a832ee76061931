#include "proxy/wsq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wsq_block {
	struct wsq_block *next;
	size_t used;         /* bytes carved so far */
	size_t live;         /* fragments not yet written */
	unsigned char mem[]; /* WSQ_BLOCK bytes */
};

struct wsq_frag {
	struct wsq_frag *next;
	struct wsq_block *block; /* NULL: a malloc() of its own */
	size_t len;
	size_t off; /* bytes already written */
	bool binary;
	bool first; /* starts its message */
	bool final; /* ends its message */
	bool masked;
	unsigned char mask[4]; /* of buf[0], when masked */
	unsigned char buf[];
};

_Static_assert(sizeof(struct wsq_frag) >= WSQ_ENTRY_MIN, "WSQ_ENTRY_MIN is a lower bound");

/* What an entry of len payload bytes costs beyond its payload: its header, and for a carved one
 * the rounding to 16 bytes. Counted in q->bytes, so a flood of tiny or empty fragments reaches
 * the pause and overflow limits as surely as large ones. */
static size_t entry_overhead(size_t len)
{
	size_t size = sizeof(struct wsq_frag) + len;

	if (len <= WSQ_SMALL) {
		size = (size + 15) & ~(size_t)15;
	}
	return size - len;
}

void wsq_init(struct wsq *q)
{
	memset(q, 0, sizeof(*q));
}

static void free_list(struct wsq_frag *f)
{
	while (f) {
		struct wsq_frag *next = f->next;

		if (!f->block) {
			free(f);
		}
		f = next;
	}
}

void wsq_release(struct wsq *q)
{
	free_list(q->head);
	free_list(q->dhead);
	while (q->blocks) {
		struct wsq_block *b = q->blocks;

		q->blocks = b->next;
		free(b);
	}
	wsq_init(q);
}

/* Carves a fragment from the newest block, starting a block when it is full. */
static struct wsq_frag *frag_carve(struct wsq *q, size_t size)
{
	struct wsq_block *b = q->blocks;
	struct wsq_frag *f;

	size = (size + 15) & ~(size_t)15; /* keeps every fragment aligned for its pointers */
	if (!b || WSQ_BLOCK - b->used < size) {
		b = malloc(sizeof(*b) + WSQ_BLOCK);
		if (!b) {
			return NULL;
		}
		b->used = b->live = 0;
		b->next = q->blocks;
		q->blocks = b;
	}
	f = (struct wsq_frag *)(void *)(b->mem + b->used);
	b->used += size;
	b->live++;
	f->block = b;
	return f;
}

static void frag_free(struct wsq *q, struct wsq_frag *f)
{
	struct wsq_block *b = f->block;

	if (!b) {
		free(f);
		return;
	}
	if (--b->live) {
		return;
	}
	if (b == q->blocks) {
		b->used = 0; /* the newest block is reused in place */
		return;
	}
	for (struct wsq_block **pp = &q->blocks; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	free(b);
}

static struct wsq_frag *frag_new(struct wsq *q, const void *data, size_t len, bool binary,
                                 bool first, bool final)
{
	size_t size = sizeof(struct wsq_frag) + len;
	struct wsq_frag *f;

	if (len <= WSQ_SMALL) {
		f = frag_carve(q, size);
	} else {
		f = malloc(size);
		if (f) {
			f->block = NULL;
		}
	}
	if (!f) {
		return NULL;
	}
	f->next = NULL;
	f->len = len;
	f->off = 0;
	f->binary = binary;
	f->first = first;
	f->final = final;
	f->masked = false;
	if (len) {
		memcpy(f->buf, data, len);
	}
	return f;
}

static void append(struct wsq_frag **head, struct wsq_frag **tail, struct wsq_frag *f)
{
	if (*tail) {
		(*tail)->next = f;
	} else {
		*head = f;
	}
	*tail = f;
}

/* Moves the deferred messages to the ready list when nothing holds them back any more. */
static void flush_deferred(struct wsq *q)
{
	if (q->stream_open || q->hold || !q->dhead) {
		return;
	}
	if (q->tail) {
		q->tail->next = q->dhead;
	} else {
		q->head = q->dhead;
	}
	q->tail = q->dtail;
	q->dhead = q->dtail = NULL;
}

static void push_ready(struct wsq *q, struct wsq_frag *f)
{
	append(&q->head, &q->tail, f);
	q->bytes += f->len + entry_overhead(f->len);
	q->stream_open = !f->final;
	flush_deferred(q);
}

int wsq_push_fragment(struct wsq *q, const void *data, size_t len, bool binary, bool first,
                      bool final)
{
	struct wsq_frag *f = frag_new(q, data, len, binary, first, final);

	if (!f) {
		return -ENOMEM;
	}
	push_ready(q, f);
	return 0;
}

int wsq_push_masked(struct wsq *q, const void *data, size_t len, const unsigned char mask[4],
                    bool binary, bool first, bool final)
{
	struct wsq_frag *f = frag_new(q, data, len, binary, first, final);

	if (!f) {
		return -ENOMEM;
	}
	f->masked = true;
	memcpy(f->mask, mask, 4);
	push_ready(q, f);
	return 0;
}

void wsq_bypass(struct wsq *q, bool final)
{
	q->stream_open = !final;
	flush_deferred(q);
}

int wsq_push_message(struct wsq *q, const void *data, size_t len, bool binary)
{
	struct wsq_frag *f = frag_new(q, data, len, binary, true, true);

	if (!f) {
		return -ENOMEM;
	}
	q->bytes += len + entry_overhead(len);
	if (q->stream_open || q->hold) {
		append(&q->dhead, &q->dtail, f);
	} else {
		append(&q->head, &q->tail, f);
	}
	return 0;
}

void wsq_hold(struct wsq *q)
{
	q->hold++;
}

void wsq_unhold(struct wsq *q)
{
	if (q->hold) {
		q->hold--;
	}
	flush_deferred(q);
}

bool wsq_ready(const struct wsq *q)
{
	return q->head != NULL;
}

size_t wsq_bytes(const struct wsq *q)
{
	return q->bytes;
}

size_t wsq_blocks(const struct wsq *q)
{
	size_t n = 0;

	for (const struct wsq_block *b = q->blocks; b; b = b->next) {
		n++;
	}
	return n;
}

bool wsq_peek(struct wsq *q, size_t max, unsigned char **p, size_t *n, struct wsq_frame *fr)
{
	struct wsq_frag *f = q->head;
	size_t left;

	if (!f) {
		return false;
	}
	left = f->len - f->off;
	*n = left < max ? left : max;
	*p = f->buf + f->off;
	/* A message split into several frames: the first says its type, the rest continue it. */
	fr->op = !(f->first && f->off == 0) ? WSFRAME_CONT
	         : f->binary                ? WSFRAME_BINARY
	                                    : WSFRAME_TEXT;
	fr->fin = f->final && f->off + *n == f->len;
	fr->masked = f->masked;
	if (f->masked) {
		wsframe_mask_shift(fr->mask, f->mask, f->off);
	}
	return true;
}

void wsq_consume(struct wsq *q, size_t n)
{
	struct wsq_frag *f = q->head;

	if (!f) {
		return;
	}
	f->off += n;
	q->bytes -= n;
	if (f->off < f->len) {
		return;
	}
	q->head = f->next;
	if (!q->head) {
		q->tail = NULL;
	}
	q->bytes -= entry_overhead(f->len);
	frag_free(q, f);
}
