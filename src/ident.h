/* The server's name: which invocations may share one warm server. */
#ifndef PFI_IDENT_H
#define PFI_IDENT_H

#include "options.h"
#include "problem.h"

#define PFI_IDENT_BUF (PFI_IDENT_MAX + 1)

/* Hex SHA-256 over: a version byte, uname(), device and inode of "."
 * and "/", the interpreter and its arguments, the script, and the -E /
 * -G items in order; or the -g value if one was given. */
int pfi_ident_compute(const struct pfi_options *o, char out[PFI_IDENT_BUF],
                      struct problem *p);

#endif
