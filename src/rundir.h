/* The per-user run directory that holds sockets and locks, found and
 * verified component by component (DESIGN.md section 5).  Everything
 * after this works relative to the verified directory fd, so nobody can
 * swap a path component between the check and the use. */
#ifndef PFI_RUNDIR_H
#define PFI_RUNDIR_H

#include <limits.h>
#include <stddef.h>

#include "problem.h"

struct pfi_rundir {
	int fd;                       /* O_DIRECTORY, verified */
	char path[PATH_MAX];          /* for messages */
	char via_proc[40];            /* "/proc/self/fd/N": paths through fd */
};

/* Environment variable naming an explicit run directory. */
#define PFI_RUN_DIR_ENV "PREFORK_INTERP_RUN_DIR"

/* Opens the run directory: `override` if non-NULL, else
 * /run/user/UID/prefork-interp when /run/user/UID exists, else
 * ~/.prefork-interp/HOSTNAME (home from the password database).  The
 * last component(s) are created mode 0700 when missing.  Every
 * component must be owned by root or the user and not writable by group
 * or other; the run directory itself must be the user's, mode 0700, not
 * a symlink.  Anything else fails with a message naming the path. */
int pfi_rundir_open(const char *override, struct pfi_rundir *rd,
                    struct problem *p);
void pfi_rundir_close(struct pfi_rundir *rd);

/* Builds "/proc/self/fd/N/<name>" for calls that take only a path
 * (bind, connect, inotify).  Returns -ENAMETOOLONG if it does not fit. */
int pfi_rundir_entry_path(const struct pfi_rundir *rd, const char *name,
                          char *out, size_t cap);

#endif
