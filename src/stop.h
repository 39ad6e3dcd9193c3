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

/* For --kill SCRIPT that stopped nothing: 0 if SCRIPT names a file (it
 * merely has no server), else -errno with p naming the script and why
 * it cannot be one (it does not exist, it is a directory). */
int pfi_stop_check_script(const char *script, struct problem *p);

#endif
