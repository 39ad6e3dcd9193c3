#include "nocore.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int pfi_no_core_dump(struct problem *p)
{
	/* The hard limit too: without CAP_SYS_RESOURCE (the sandbox
	 * drops it) nothing can raise it again.  The caller's own limits
	 * were read at start-up, for the call (caller-state). */
	const struct rlimit none = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return problem_errno(p, errno, "cannot set the core limit "
				     "to 0");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return problem_errno(p, errno, "cannot make this process "
				     "undumpable");
	return 0;
}
