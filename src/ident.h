/* The server's name: which invocations may share one warm server. */
#ifndef PFI_IDENT_H
#define PFI_IDENT_H

#include "creds.h"
#include "options.h"
#include "problem.h"
#include "protocol.h"

#define PFI_IDENT_BUF (PFI_IDENT_MAX + 1)

/* Hex SHA-256 over: a version byte, uname(), device and inode of "."
 * and "/", the interpreter and its arguments, the script, the -E / -G
 * items in order, the caller's credentials, hard limits and niceness; or the -g value if one
 * was given (the server's uid, gid and groups are then compared at
 * connect, src/wire.c). */
int pfi_ident_compute(const struct pfi_options *o, const struct pfi_creds *creds,
                      const struct pfi_caller_state *st,
                      char out[PFI_IDENT_BUF], struct problem *p);

#endif
