/* The client's one line on stderr: "prefork-interp: ..." with every
 * control character in it escaped (\r, \n, \t, \xNN), since the names
 * it shows come from the caller (a script saved with CRLF line ends
 * names its interpreter "perl\r"; a path may hold a newline), and the
 * line must stay one line and read right. */
#ifndef PFI_SAY_H
#define PFI_SAY_H

#include <stddef.h>

/* Escapes `text` into `out` (cut short to fit `cap`, always ended). */
void pfi_say_escape(const char *text, char *out, size_t cap);

/* Formats, escapes and writes the line to stderr. */
void pfi_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
