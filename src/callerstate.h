/* The caller's process state (umask, limits, ignored and blocked
 * signals, niceness), taken once at start-up before the client changes
 * any of it, so that a call can run with it (docs/protocol.md). */
#ifndef PFI_CALLERSTATE_H
#define PFI_CALLERSTATE_H

#include "problem.h"
#include "procstatus.h"
#include "protocol.h"

/* Reads the state of this process as the caller left it, from `ps`
 * where it has it, else from the kernel directly. */
int pfi_caller_state_collect(struct pfi_caller_state *st,
                             const struct pfi_proc_status *ps,
                             struct problem *p);

/* Puts back the caller's ignored and blocked signals (every other
 * disposition to default), as before an exec of the interpreter. */
void pfi_caller_state_restore_signals(const struct pfi_caller_state *st);

#endif
