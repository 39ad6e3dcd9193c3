#include "direct.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int pfi_direct_exec(const struct pfi_options *o, struct problem *p)
{
	const char **argv = pfi_script_argv(o);
	if (!argv)
		return problem_errno(p, ENOMEM, "running '%s'", o->script);
	execvp(o->interp, (char *const *)argv);
	int err = errno;
	free(argv);
	return problem_errno(p, err, "cannot run interpreter '%s'", o->interp);
}
