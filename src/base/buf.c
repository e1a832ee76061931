#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_CAP   256
#define READ_STEP 4096

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int grow(struct buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : MIN_CAP;
	char *p;

	if (need > b->max) {
		return -E2BIG;
	}
	while (cap < need + 1) {
		cap = cap > (SIZE_MAX / 2) ? SIZE_MAX : cap * 2;
	}
	if (cap > b->max + 1) {
		cap = b->max + 1;
	}
	p = realloc(b->data, cap);
	if (!p) {
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n > b->max - b->len) {
		return -E2BIG;
	}
	if (b->len + n + 1 > b->cap) {
		r = grow(b, b->len + n);
		if (r) {
			return r;
		}
	}
	if (n) {
		memcpy(b->data + b->len, p, n);
	}
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		return -EINVAL;
	}
	if ((size_t)n < sizeof(small)) {
		return buf_append(b, small, (size_t)n);
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		return -ENOMEM;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r = buf_append(b, big, (size_t)n);
	free(big);
	return r;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data) {
		b->data[0] = '\0';
	}
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *buf_detach(struct buf *b)
{
	char *p = b->data;

	if (!p) {
		p = calloc(1, 1);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

int buf_read_fd(struct buf *b, int fd)
{
	char probe;

	for (;;) {
		size_t want = b->max - b->len < READ_STEP ? b->max - b->len : READ_STEP;
		int r = want && b->len + want + 1 > b->cap ? grow(b, b->len + want) : 0;
		ssize_t n;

		if (r) {
			return r;
		}
		/* Full: one byte more tells a body of exactly max from a longer one. */
		n = read(fd, want ? b->data + b->len : &probe, want ? want : 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : 0;
		}
		if (!want) {
			return -E2BIG;
		}
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
}
