/* Running the script without a server, exactly as a standalone run:
 * the interpreter, its arguments, the script and the script's
 * arguments, in our environment, stdio and working directory, with the
 * caller's signal state put back (docs/design.md section 1). */
#ifndef PFI_DIRECT_H
#define PFI_DIRECT_H

#include "options.h"
#include "problem.h"
#include "protocol.h"

/* Whether execvp() would find the interpreter and the kernel run it
 * (0; for a '#!' file, its own interpreter too), or why not (p filled
 * as pfi_direct_exec's failure would): so that a call that cannot be
 * served and cannot run either gets one line, not a warning and then
 * the error. */
int pfi_direct_findable(const struct pfi_options *o, struct problem *p);

/* Execs the interpreter on the script.  Returns only on failure. */
int pfi_direct_exec(const struct pfi_options *o,
                    const struct pfi_caller_state *st, struct problem *p);

#endif
