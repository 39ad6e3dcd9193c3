#include "stop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockfile.h"

#include "ours.h"

static int matches(const char *ident, enum pfi_stop_match match,
                   const char *what)
{
	switch (match) {
	case PFI_STOP_ALL:
		return 1;
	case PFI_STOP_IDENT:
		return !strcmp(ident, what);
	case PFI_STOP_SCRIPT:
		return pfi_ident_is_computed(ident) &&
		       !strncmp(ident, what, PFI_IDENT_SCRIPT_LEN);
	}
	return 0;
}

/* A named server's lock name may hold something that is not ours (and
 * so is not listed): say so rather than succeed quietly. */
static int check_named_lock(const struct pfi_rundir *rd, const char *ident,
                            struct problem *p)
{
	struct pfi_names names;
	pfi_names_init(&names, ident);
	int lock = pfi_lock_take(rd, names.lock, PFI_LOCK_EXISTING |
				 PFI_LOCK_UNLESS_STOPPED, p);
	if (lock == -ENOENT)
		return 0;
	if (lock < 0)
		return lock;
	close(lock);
	return 0;
}

int pfi_stop_servers(const struct pfi_rundir *rd, enum pfi_stop_match match,
                     const char *what, size_t *stopped, struct problem *p)
{
	struct pfi_server_entry *list = NULL;
	size_t n = 0;
	int first_error = 0;
	*stopped = 0;
	if (match == PFI_STOP_IDENT &&
	    (first_error = check_named_lock(rd, what, p)) < 0)
		return first_error;
	int r = pfi_ours_list(rd, &list, &n, p);
	if (r < 0)
		return r;
	/* Every match is tried; the first problem is the one reported. */
	struct problem later;
	for (size_t i = 0; i < n; i++) {
		if (!matches(list[i].ident, match, what))
			continue;
		r = pfi_ours_remove(rd, &list[i], PFI_REMOVE_NOW,
				    first_error < 0 ? &later : p);
		if (r > 0)
			++*stopped;
		else if (r < 0 && first_error == 0)
			first_error = r;
	}
	free(list);
	return first_error;
}

int pfi_stop_check_script(const char *script, struct problem *p)
{
	struct stat st;
	if (stat(script, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return problem_fail(p, ENOENT, "--kill: script '%s' "
					    "does not exist", script);
		return problem_errno(p, errno, "--kill: cannot look at "
				     "script '%s'", script);
	}
	if (S_ISDIR(st.st_mode))
		return problem_fail(p, EISDIR, "--kill: '%s' is a directory, "
				    "not a script", script);
	return 0;
}
