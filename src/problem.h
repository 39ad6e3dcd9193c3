/* Error reporting without printing: a function that fails fills a
 * `struct problem` with one line that names what went wrong and returns
 * a negative errno-style code.  Only main() prints it and exits. */
#ifndef PFI_PROBLEM_H
#define PFI_PROBLEM_H

#include <stdarg.h>
#include <stddef.h>

struct problem {
	int code;          /* positive errno-style code, 0 = none */
	char msg[1024];
};

/* Records "<formatted text>" and returns -code. */
int problem_fail(struct problem *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records "<formatted text>: <strerror(err)>" and returns -err. */
int problem_errno(struct problem *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Formats into out (cap bytes, at least 8): a text too long for it
 * keeps its head and its tail, "..." between (as the two above do). */
void problem_vformat(char *out, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
