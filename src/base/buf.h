/*
 * A growable byte buffer with a hard limit fixed at initialisation (curl's dynbuf idea).
 * The contents are always NUL-terminated (the NUL is not counted in len and not in max).
 */
#ifndef CS_BUF_H
#define CS_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);

/* Appends n bytes. -E2BIG past max (the buffer is left as it was), -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Appends what fd gives until end of file (blocking; EINTR is retried). 0, -E2BIG when fd
 * has more than max (what fits is kept), -ENOMEM, or -errno of read().
 */
int buf_read_fd(struct buf *b, int fd);

/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);

/* Frees the memory; the buffer may be reused after buf_init(). Zeroed buffers are fine. */
void buf_release(struct buf *b);

/* Hands the contents to the caller (free() it; never NULL on success) and resets b. */
char *buf_detach(struct buf *b);

#endif
