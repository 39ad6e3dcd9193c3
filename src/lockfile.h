/* The per-server lock file l<ident>: serialises starting, replacing and
 * removing a server.  Opened relative to the verified run directory,
 * never through a symlink, and checked before it is trusted. */
#ifndef PFI_LOCKFILE_H
#define PFI_LOCKFILE_H

#include "problem.h"
#include "rundir.h"

#define PFI_LOCK_NONBLOCK 1   /* -EWOULDBLOCK if someone else holds it */
#define PFI_LOCK_EXISTING 2   /* never create it: -ENOENT (p untouched)
                               * if missing; cleaning creates nothing */
#define PFI_LOCK_UNLESS_STOPPED 4 /* blocks, but -ESRCH (p filled) once
                               * the holder is seen stopped
                               * (src/lockholder.h) */

/* Opens (creating, mode 0600, unless PFI_LOCK_EXISTING) and locks
 * `name`; blocks unless PFI_LOCK_NONBLOCK.  Returns the locked fd
 * (close it to unlock). */
int pfi_lock_take(const struct pfi_rundir *rd, const char *name,
                  unsigned flags, struct problem *p);

#endif
