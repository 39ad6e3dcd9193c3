/* Process title: see proctitle.h. */
#include "proctitle.h"

#include <string.h>

extern char **environ;

static char *area;        /* argv[0], and the strings after it */
static size_t area_len;

void pfi_proctitle_init(int argc, char **argv)
{
	if (argc < 1 || !argv[0])
		return;
	area = argv[0];
	char *end = area;
	for (int i = 0; i < argc; i++)
		if (argv[i] == end)
			end += strlen(argv[i]) + 1;
	/* The kernel reads a title that runs past the arguments on into
	 * the environment, so its strings (right after them) are room too. */
	for (char **e = environ; e && *e; e++)
		if (*e == end)
			end += strlen(*e) + 1;
	area_len = (size_t)(end - area);
}

void pfi_proctitle_set(const char *title)
{
	if (!area_len)
		return;
	size_t n = strlen(title);
	if (n > area_len - 1)
		n = area_len - 1;
	memmove(area, title, n);
	memset(area + n, '\0', area_len - n);
}
