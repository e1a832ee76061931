#include "wsq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

struct wsq_frag {
	struct wsq_frag *next;
	size_t len;
	size_t off; /* bytes already written */
	bool binary;
	bool first;          /* starts its message */
	bool final;          /* ends its message */
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then len bytes */
};

void wsq_init(struct wsq *q)
{
	memset(q, 0, sizeof(*q));
}

static void free_list(struct wsq_frag *f)
{
	while (f) {
		struct wsq_frag *next = f->next;

		free(f);
		f = next;
	}
}

void wsq_release(struct wsq *q)
{
	free_list(q->head);
	free_list(q->dhead);
	wsq_init(q);
}

static struct wsq_frag *frag_new(const void *data, size_t len, bool binary, bool first, bool final)
{
	struct wsq_frag *f = malloc(sizeof(*f) + LWS_PRE + len);

	if (!f) {
		return NULL;
	}
	f->next = NULL;
	f->len = len;
	f->off = 0;
	f->binary = binary;
	f->first = first;
	f->final = final;
	if (len) {
		memcpy(f->buf + LWS_PRE, data, len);
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

int wsq_push_fragment(struct wsq *q, const void *data, size_t len, bool binary, bool first,
                      bool final)
{
	struct wsq_frag *f = frag_new(data, len, binary, first, final);

	if (!f) {
		return -ENOMEM;
	}
	append(&q->head, &q->tail, f);
	q->bytes += len;
	q->stream_open = !final;
	flush_deferred(q);
	return 0;
}

int wsq_push_message(struct wsq *q, const void *data, size_t len, bool binary)
{
	struct wsq_frag *f = frag_new(data, len, binary, true, true);

	if (!f) {
		return -ENOMEM;
	}
	q->bytes += len;
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

bool wsq_peek(struct wsq *q, size_t max, unsigned char **p, size_t *n, int *flags)
{
	struct wsq_frag *f = q->head;
	size_t left;

	if (!f) {
		return false;
	}
	left = f->len - f->off;
	*n = left < max ? left : max;
	*p = f->buf + LWS_PRE + f->off;
	*flags = lws_write_ws_flags(f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
	                            f->first && f->off == 0, f->final && f->off + *n == f->len);
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
	free(f);
}
