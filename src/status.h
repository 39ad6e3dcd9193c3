/* Reproducing the executor's wait status as our own, so the caller sees
 * exactly what a standalone run would have given it. */
#ifndef PFI_STATUS_H
#define PFI_STATUS_H

#include "problem.h"

/* Exits with the status's exit code, or dies of the status's signal
 * (after resetting its disposition and unblocking it).  A core dump is
 * not repeated: the core limit is set to 0 first, so the caller sees the
 * same signal without a core file of ours.  Returns only on failure. */
int pfi_status_reproduce(int wait_status, struct problem *p);

#endif
