/* The per-user run directory that holds sockets and locks, found and
 * verified component by component (docs/design.md section 5).  Everything
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

/* The system-wide directory that data/tmpfiles.d/prefork-interp.conf
 * provides (root-owned, sticky, 1777); each user gets UID below it. */
#define PFI_SYSTEM_RUN_DIR "/run/prefork-interp"

/* What the caller will do with the run directory: use it (its own last
 * components are created when missing), or only look in it (--list,
 * --kill: nothing is created). */
enum pfi_rundir_use {
	PFI_RUNDIR_MAKE,
	PFI_RUNDIR_LOOK,
};

/* pfi_rundir_open()'s answer, with PFI_RUNDIR_LOOK, when the run
 * directory does not exist yet: rd->fd is -1 and rd->path names where
 * PFI_RUNDIR_MAKE would make it (so no server can be in it). */
#define PFI_RUNDIR_NONE_YET 1

/* Opens the run directory.  With `override` (--run-dir or the
 * variable), our own subdirectory prefork-interp-UID inside it, so that
 * nothing else in that directory is ever taken for ours.  Otherwise the
 * first usable of /run/user/UID/prefork-interp, HOME/.prefork-interp/
 * HOSTNAME (home from the password database) and
 * /run/prefork-interp/UID.  Our own last components are created mode
 * 0700 (PFI_RUNDIR_MAKE); with PFI_RUNDIR_LOOK the same one is chosen,
 * a candidate where they are missing counting as chosen when they
 * could be made there.
 *
 * Every directory on the way must be owned by root or the user and not
 * writable by group or other, except that a sticky one may be passed
 * through, since then nobody else can rename or remove what the user or
 * root owns in it.  A symlink is followed when the directory holding it
 * passes (in a sticky directory it must itself be owned by root or the
 * user); its target is checked the same way.  The run directory itself
 * must be the user's, mode 0700.  A failure names the path and the
 * problem; the message ends with the fix. */
int pfi_rundir_open(const char *override, enum pfi_rundir_use use,
                    struct pfi_rundir *rd, struct problem *p);
void pfi_rundir_close(struct pfi_rundir *rd);

/* Sockets are bound and reached through rd->via_proc, so that a swapped
 * path cannot redirect them: without /proc no server can be made or
 * reached (the script then runs directly).  0, or negative with p
 * filled. */
int pfi_rundir_reachable(const struct pfi_rundir *rd, struct problem *p);

/* Builds "/proc/self/fd/N/<name>" for calls that take only a path
 * (bind, connect, inotify).  Returns -ENAMETOOLONG if it does not fit. */
int pfi_rundir_entry_path(const struct pfi_rundir *rd, const char *name,
                          char *out, size_t cap);

#endif
