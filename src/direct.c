#include "direct.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* 0 if `path` names an executable regular file, else -errno. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

int pfi_direct_findable(const struct pfi_options *o, struct problem *p)
{
	const char *name = o->interp;
	int r = -ENOENT;
	if (strchr(name, '/')) {
		r = executable(name);
	} else {
		/* execvp()'s search: $PATH, or glibc's default without it;
		 * a directory where it is not executable does not end it. */
		const char *path = getenv("PATH");
		if (!path)
			path = "/bin:/usr/bin";
		for (const char *dir = path;; dir++) {
			size_t len = strcspn(dir, ":");
			char full[PATH_MAX];
			int n = snprintf(full, sizeof full, "%.*s%s%s", (int)len,
					 dir, len ? "/" : "", name);
			int here = n < (int)sizeof full ? executable(full)
							: -ENAMETOOLONG;
			if (here == 0 || here == -EACCES)
				r = here;
			if (r == 0)
				break;
			dir += len;
			if (!*dir)
				break;
		}
	}
	if (r < 0)
		return problem_errno(p, -r, "cannot run interpreter '%s'", name);
	return 0;
}
