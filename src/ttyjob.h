/* A caller that is a background job of its own terminal: reading that
 * terminal (or writing it under `stty tostop`) stops a standalone run
 * with SIGTTIN (SIGTTOU), or fails with EIO in an orphaned group.  An
 * executor is in its server's session, where that terminal is nobody's
 * controlling terminal, so it would read the line typed for the shell
 * instead: such a call cannot be the caller's standalone run, and the
 * script runs directly (docs/design.md section 1). */
#ifndef PFI_TTYJOB_H
#define PFI_TTYJOB_H

#include "callerfds.h"
#include "problem.h"
#include "protocol.h"

/* 0, or -EXDEV with p saying which fd is the caller's controlling
 * terminal while its process group is in the background: stdin always
 * (a read stops with SIGTTIN, or fails with EIO where that is ignored or
 * blocked; a call's read would succeed) and any of the caller's fds
 * above 2 (`extra`) open for reading; stdout, stderr and such fds open
 * for writing under `tostop` when the caller (st) neither ignores nor
 * blocks SIGTTOU (else a standalone write goes through, as a call's
 * does). */
int pfi_ttyjob_check(const struct pfi_caller_state *st,
                     const struct pfi_caller_fds *extra, struct problem *p);

#endif
