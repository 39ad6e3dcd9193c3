/* The server's name: which invocations may share one warm server. */
#ifndef PFI_IDENT_H
#define PFI_IDENT_H

#include "confinement.h"
#include "creds.h"
#include "names.h"
#include "options.h"
#include "problem.h"
#include "protocol.h"

/* The -g value if one was given (the server's uid, gid and groups are
 * then compared at connect, src/wire.c); else 64 hex digits, three SHA-256
 * hashes cut short and joined (names.h says why):
 *   script (16): a version byte, uname(), the device and inode of the
 *     directory holding the script and the script's file name, so
 *     every spelling of one path names one server;
 *   family (16): the script part's inputs and the device and inode of
 *     "." (through /proc/self/cwd when "." cannot be searched) and "/",
 *     the interpreter and its arguments, the -G items and the names of
 *     the -E variables, in order, -L, the caller's credentials
 *     (src/creds.h), hard limits, niceness and confinement
 *     (src/confinement.h);
 *   whole (32): the family's inputs and the -E variables' values.
 * Fails (-errno, p filled) only if the script's directory or the
 * working directory cannot be identified. */
int pfi_ident_compute(const struct pfi_options *o, const struct pfi_creds *creds,
                      const struct pfi_caller_state *cs,
                      const struct pfi_confinement *conf,
                      char out[PFI_IDENT_BUF], struct problem *p);

/* The script part alone (PFI_IDENT_SCRIPT_LEN digits and a NUL), for
 * --kill SCRIPT from any directory. */
int pfi_ident_script_part(const char *script,
                          char out[PFI_IDENT_SCRIPT_LEN + 1],
                          struct problem *p);

#endif
