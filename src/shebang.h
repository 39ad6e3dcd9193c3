/* A '#!' line longer than the kernel reads.  Linux looks for the line
 * in the first bytes of a script only (BINPRM_BUF_SIZE: 256 since 5.1,
 * 128 before) and silently passes on what fits: the client then gets
 * its one combined argument cut short, which may still parse (an
 * interpreter argument such as -I/srv/app/lib lost, or cut to another
 * path).  The client says so instead of acting on it. */
#ifndef PFI_SHEBANG_H
#define PFI_SHEBANG_H

#include <stddef.h>

#include "problem.h"

/* Whether `arg` is the argument the kernel passes for the '#!' line at
 * the start of `head` (`len` bytes of the script) when it reads only
 * `buf_size` bytes, and that line has more than blanks beyond the cut:
 * 1 if so, else 0.  Pure (the unit tests call it). */
int pfi_shebang_was_cut(const char *head, size_t len, size_t buf_size,
                        const char *arg);

/* Looks at the start of `script` (only a regular file, never waiting):
 * -E2BIG with p filled if the kernel cut its '#!' line into `arg`,
 * else 0 (also when the file cannot be read: nothing to say then). */
int pfi_shebang_check(const char *script, const char *arg,
                      struct problem *p);

#endif
