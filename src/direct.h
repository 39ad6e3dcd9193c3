/* Running the script without a server, exactly as a standalone run
 * would: for callers no shared server can serve as themselves
 * (DESIGN.md section 4a; SECURITY.md, "Credentials"). */
#ifndef PFI_DIRECT_H
#define PFI_DIRECT_H

#include "options.h"
#include "problem.h"
#include "protocol.h"

/* Says why on stderr (one line, `why` is p->msg), puts back the
 * caller's signal state and execs the interpreter on the script.
 * Returns only if that exec failed, with p filled. */
int pfi_run_directly(const struct pfi_options *o,
                     const struct pfi_caller_state *st, struct problem *p);

#endif
