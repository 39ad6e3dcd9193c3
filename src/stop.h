/* --kill and --kill-all: removing servers' sockets and locks (each
 * server's watcher then stops it once its running calls end). */
#ifndef PFI_STOP_H
#define PFI_STOP_H

#include <stddef.h>

#include "problem.h"
#include "rundir.h"

enum pfi_stop_match {
	PFI_STOP_ALL,          /* every server of ours */
	PFI_STOP_IDENT,        /* the one named `what` */
	PFI_STOP_SCRIPT,       /* those whose script part is `what` */
};

/* Stops the matching servers; *stopped says how many went. */
int pfi_stop_servers(const struct pfi_rundir *rd, enum pfi_stop_match match,
                     const char *what, size_t *stopped, struct problem *p);

#endif
