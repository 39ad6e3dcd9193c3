#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 4, 0)))
static int record(struct problem *p, int code, int with_errno,
                  const char *fmt, va_list ap)
{
	if (code <= 0)
		code = code < 0 ? -code : 5 /* EIO: a caller passed no code */;
	p->code = code;
	int n = vsnprintf(p->msg, sizeof p->msg, fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof p->msg)
		snprintf(p->msg + n, sizeof p->msg - (size_t)n, ": %s",
			 strerror(code));
	return -code;
}

int problem_fail(struct problem *p, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = record(p, code, 0, fmt, ap);
	va_end(ap);
	return r;
}

int problem_errno(struct problem *p, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = record(p, err, 1, fmt, ap);
	va_end(ap);
	return r;
}
