/* The per-server lock file l<ident>: serialises starting, replacing and
 * removing a server.  Opened relative to the verified run directory,
 * never through a symlink, and checked before it is trusted. */
#ifndef PFI_LOCKFILE_H
#define PFI_LOCKFILE_H

#include "problem.h"
#include "rundir.h"

/* Opens (creating, mode 0600) and locks `name`.  Blocks unless
 * `nonblocking`, in which case -EWOULDBLOCK means someone else holds it.
 * Returns the locked fd (close it to unlock). */
int pfi_lock_take(const struct pfi_rundir *rd, const char *name,
                  int nonblocking, struct problem *p);

#endif
