#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The byte at `i` of a followed by b. */
static unsigned char at(const char *a, size_t alen, const char *b, size_t i)
{
	return (unsigned char)(i < alen ? a[i] : b[i - alen]);
}

/* Copies a followed by b into out (cap bytes).  A text too long for it
 * keeps its head and its tail, "..." between, cut between UTF-8
 * characters: what went wrong is usually said last ("... is too long",
 * ": No such file or directory"), after a path or a word that may be
 * long. */
static void keep_ends(char *out, size_t cap, const char *a, size_t alen,
                      const char *b)
{
	size_t total = alen + strlen(b), n = 0;
	if (total < cap) {
		for (size_t i = 0; i < total; i++)
			out[n++] = (char)at(a, alen, b, i);
		out[n] = '\0';
		return;
	}
	size_t head = (cap - 4) / 2, from = total - (cap - 4 - head);
	while (head > 0 && (at(a, alen, b, head) & 0xc0) == 0x80)
		head--;
	while (from < total && (at(a, alen, b, from) & 0xc0) == 0x80)
		from++;
	for (size_t i = 0; i < head; i++)
		out[n++] = (char)at(a, alen, b, i);
	memcpy(out + n, "...", 3);
	n += 3;
	for (size_t i = from; i < total; i++)
		out[n++] = (char)at(a, alen, b, i);
	out[n] = '\0';
}

/* Formats fmt, then `suffix`, into out as keep_ends() does. */
__attribute__((format(printf, 3, 0)))
static void format_ends(char *out, size_t cap, const char *fmt, va_list ap,
                        const char *suffix)
{
	/* Room for a path of PATH_MAX and more; the client has one
	 * thread, and a longer text is kept to its first 16 KiB. */
	static char text[16384];
	int n = vsnprintf(text, sizeof text, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof text)
		n = sizeof text - 1;
	keep_ends(out, cap, text, (size_t)n, suffix);
}

void problem_vformat(char *out, size_t cap, const char *fmt, va_list ap)
{
	format_ends(out, cap, fmt, ap, "");
}

__attribute__((format(printf, 4, 0)))
static int record(struct problem *p, int code, int with_errno,
                  const char *fmt, va_list ap)
{
	char cause[128] = "";

	if (code <= 0)
		code = code < 0 ? -code : 5 /* EIO: a caller passed no code */;
	p->code = code;
	if (with_errno)
		snprintf(cause, sizeof cause, ": %s", strerror(code));
	format_ends(p->msg, sizeof p->msg, fmt, ap, cause);
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
