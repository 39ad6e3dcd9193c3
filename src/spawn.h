/* Starting a fresh server: the listening socket, the watcher, and the
 * setup process (the interpreter running the script's initialisation,
 * told its fds through PREFORK_INTERP).  Called with the lock held. */
#ifndef PFI_SPAWN_H
#define PFI_SPAWN_H

#include "names.h"
#include "options.h"
#include "problem.h"
#include "rundir.h"

/* Replaces whatever is at the socket's name with a new listening socket and
 * runs the setup.  On success returns our end of the first call's
 * socket.  If the setup ended unsuccessfully, returns -ECHILD with
 * *setup_status holding its wait status (its own messages went to our
 * stderr).  On any failure the socket is removed again, which also
 * stops the watcher. */
int pfi_spawn_server(const struct pfi_options *o, const struct pfi_rundir *rd,
                     const struct pfi_names *names, int *setup_status,
                     struct problem *p);

#endif
