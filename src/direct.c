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

/* The kernel follows at most this many '#!' lines in one exec. */
#define SHEBANG_DEPTH 4

static int executable_at_depth(const char *path, int depth);

/* For a file that begins with '#!', whether the interpreter its line
 * names can run (as the kernel would: the first word after '#!', not
 * looked up in $PATH); 0 for any other file or one we cannot read (the
 * exec itself then says). */
static int shebang_runs(const char *path, int depth)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[256];
	size_t n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = '\0';
	if (n < 2 || line[0] != '#' || line[1] != '!')
		return 0;
	if (!memchr(line, '\n', n))
		return 0;       /* longer than we read: not ours to judge */
	char *interp = line + 2 + strspn(line + 2, " \t");
	interp[strcspn(interp, " \t\n")] = '\0';
	if (!*interp)
		return 0;
	if (depth >= SHEBANG_DEPTH)
		return -ELOOP;
	return executable_at_depth(interp, depth + 1);
}

/* 0 if `path` names an executable regular file (and, for a '#!' file,
 * its interpreter is one), else -errno as exec would give. */
static int executable_at_depth(const char *path, int depth)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return -EACCES;
	return shebang_runs(path, depth);
}

static int executable(const char *path)
{
	return executable_at_depth(path, 0);
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
