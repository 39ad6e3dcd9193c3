/* The client never dumps core once it has reached a server. */
#ifndef PFI_NOCORE_H
#define PFI_NOCORE_H

#include "problem.h"

/* Sets both core limits to 0 and makes the process undumpable, for
 * good: called before the sandbox, which then allows neither
 * setrlimit nor prctl.  A signal death the client reproduces (the
 * executor's, or the setup's) is then not followed by a second, bogus
 * core file of ours, not even through a core_pattern pipe, which
 * ignores RLIMIT_CORE; and a client compromised behind the filter
 * cannot have the kernel write its memory to a file (./core) by
 * raising its limit and crashing. */
int pfi_no_core_dump(struct problem *p);

#endif
