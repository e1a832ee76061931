#include "doctor/doctor.h"

#include "base/termsafe.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct doctor_check *doctor_add(struct doctor *d, enum doctor_status status, const char *name,
                                const char *fmt, ...)
{
	static struct doctor_check scratch;
	struct doctor_check *c = d->n < DOCTOR_MAX_CHECKS ? &d->checks[d->n++] : &scratch;
	va_list ap;

	memset(c, 0, sizeof(*c));
	c->status = status;
	snprintf(c->name, sizeof(c->name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	termsafe_replace(c->message);
	return c;
}

void doctor_hint(struct doctor_check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->hint, sizeof(c->hint), fmt, ap);
	va_end(ap);
	termsafe_replace(c->hint);
}

const char *doctor_status_name(enum doctor_status s)
{
	return s == DOCTOR_PASS ? "pass" : s == DOCTOR_WARN ? "warn" : "fail";
}
