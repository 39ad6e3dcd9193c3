/* Reproducing the executor's wait status as our own, so the caller sees
 * exactly what a standalone run would have given it. */
#ifndef PFI_STATUS_H
#define PFI_STATUS_H

#include "problem.h"

/* Exits with the status's exit code, or dies of the status's signal
 * (after resetting its disposition and unblocking it).  The executor's
 * core dump (if any) is the crash's: call pfi_no_core_dump() first, so
 * that the caller sees the same signal without a second core file of
 * ours.  Returns only on failure. */
int pfi_status_reproduce(int wait_status, struct problem *p);

#endif
