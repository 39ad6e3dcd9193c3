#include "say.h"

#include <stdarg.h>
#include <stdio.h>

#include "problem.h"

void pfi_say_escape(const char *text, char *out, size_t cap)
{
	size_t n = 0;
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		char one[5];
		if (*c == '\n')
			snprintf(one, sizeof one, "\\n");
		else if (*c == '\r')
			snprintf(one, sizeof one, "\\r");
		else if (*c == '\t')
			snprintf(one, sizeof one, "\\t");
		else if (*c < 0x20 || *c == 0x7f)
			snprintf(one, sizeof one, "\\x%02x", *c);
		else
			snprintf(one, sizeof one, "%c", *c);
		size_t len = 0;
		while (one[len])
			len++;
		if (n + len >= cap)
			break;
		for (size_t i = 0; i < len; i++)
			out[n++] = one[i];
	}
	if (cap)
		out[n] = '\0';
}

void pfi_say(const char *fmt, ...)
{
	/* A problem's text (1024) with every byte escaped at worst. */
	char raw[2048], shown[4 * sizeof raw];
	va_list ap;
	va_start(ap, fmt);
	problem_vformat(raw, sizeof raw, fmt, ap);
	va_end(ap);
	pfi_say_escape(raw, shown, sizeof shown);
	fprintf(stderr, "prefork-interp: %s\n", shown);
}
