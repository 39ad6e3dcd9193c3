#include "forkfail.h"

#include <errno.h>
#include <string.h>

int pfi_fork_temporary(int err)
{
	return err == EAGAIN || err == ENOMEM;
}

int pfi_fork_failed(struct problem *p, int err, const char *what)
{
	if (!pfi_fork_temporary(err))
		return problem_errno(p, err, "cannot fork %s", what);
	return problem_fail(p, EXDEV, "cannot fork %s: %s (no new process "
			    "can be made now)", what, strerror(err));
}
