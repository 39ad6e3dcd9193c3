#include "direct.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

const char **pfi_standalone_argv(const struct pfi_options *o)
{
	size_t n = 0, argc = 1 + o->n_interp_args + 1;
	for (char *const *a = o->script_args; *a; a++)
		argc++;
	const char **argv = calloc(argc + 1, sizeof *argv);
	if (!argv)
		return NULL;
	argv[n++] = o->interp;
	for (size_t i = 0; i < o->n_interp_args; i++)
		argv[n++] = o->interp_args[i];
	argv[n++] = o->script;
	for (char *const *a = o->script_args; *a; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	return argv;
}

int pfi_direct_exec(const struct pfi_options *o, struct problem *p)
{
	const char **argv = pfi_standalone_argv(o);
	if (!argv)
		return problem_errno(p, ENOMEM, "running '%s'", o->script);
	execvp(o->interp, (char *const *)argv);
	int err = errno;
	free(argv);
	return problem_errno(p, err, "cannot run interpreter '%s'", o->interp);
}
