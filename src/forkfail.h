/* A process the client needs (the watcher, the setup) that cannot be
 * made for want of resources: the user's process limit, the system's,
 * memory.  A standalone run needs no new process (the client becomes
 * the interpreter), so the caller's script still runs, directly
 * (docs/design.md section 1): such a failure is -EXDEV, "no server can
 * serve this call", not an error of the call. */
#ifndef PFI_FORKFAIL_H
#define PFI_FORKFAIL_H

#include "problem.h"

/* Whether fork()'s errno says "not now, for want of resources". */
int pfi_fork_temporary(int err);

/* Records that fork() for `what` failed with err; returns -EXDEV if the
 * failure is one of resources (pfi_fork_temporary), else -err. */
int pfi_fork_failed(struct problem *p, int err, const char *what);

#endif
