#include "sandbox.h"

#include <errno.h>
#include <sys/prctl.h>

#include "config.h"

int pfi_sandbox_built_in(void)
{
	return PFI_SANDBOX;
}

int pfi_sandbox_enter(struct problem *p)
{
	if (!PFI_SANDBOX)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return problem_errno(p, errno, "cannot set no-new-privs");
	return 0;
}
