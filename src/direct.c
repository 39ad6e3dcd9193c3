#include "direct.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "callerstate.h"

int pfi_direct_exec(const struct pfi_options *o,
                    const struct pfi_caller_state *st, struct problem *p)
{
	const char **argv = pfi_script_argv(o);
	if (!argv)
		return problem_errno(p, ENOMEM, "running '%s'", o->script);
	pfi_caller_state_restore_signals(st);
	execvp(o->interp, (char *const *)argv);
	int err = errno;
	free(argv);
	return problem_errno(p, err, "cannot run interpreter '%s'", o->interp);
}
