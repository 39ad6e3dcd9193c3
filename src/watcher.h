/* The watcher: a small daemon that outlives the client which started a
 * server.  It tells the server to quit (by exiting, which closes the
 * server's WATCHE pipe) when the socket path is removed or replaced, and
 * exits by itself when the server goes away (EOF on its stdin, the
 * server's WATCHI). */
#ifndef PFI_WATCHER_H
#define PFI_WATCHER_H

#include <sys/types.h>

#include "problem.h"
#include "rundir.h"

struct pfi_watch {
	const struct pfi_rundir *rd;
	const char *sock_name;
	const char *script;       /* as the client was given it: for the title */
	dev_t dev;                /* identity of the socket we bound */
	ino_t ino;
	int stdin_fd;             /* read end of the WATCHI pipe */
	int out_fd;               /* write end of the WATCHE pipe */
};

/* Forks the watcher, which daemonises (second fork, setsid).  Returns
 * once the intermediate child has been reaped. */
int pfi_watcher_start(const struct pfi_watch *w, struct problem *p);

#endif
