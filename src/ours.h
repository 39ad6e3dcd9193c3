/* Our servers in a run directory: finding the sockets and lock files
 * that are ours and removing them (pre-cleaning, --kill, --kill-all).
 * A file is ours only if its name is one we make (names.h) and it is
 * what we would have made: a socket, or an empty regular file for a
 * lock, owned by us, with one link, writable by nobody else.  Anything
 * else in the directory is left alone, and removing never creates a
 * file. */
#ifndef PFI_OURS_H
#define PFI_OURS_H

#include <sys/types.h>
#include <time.h>

#include "names.h"
#include "problem.h"
#include "rundir.h"

struct pfi_server_entry {
	char ident[PFI_IDENT_BUF];
	int has_socket, has_lock;
	struct timespec used;        /* socket's atime: last call; 0 if none */
	dev_t dev;                   /* the socket's identity */
	ino_t ino;
};

/* Lists every ident that has a socket or a lock of ours, each once,
 * sorted by ident.  The caller frees *out. */
int pfi_ours_list(const struct pfi_rundir *rd, struct pfi_server_entry **out,
                  size_t *n_out, struct problem *p);

/* Sorts entries least recently used first. */
void pfi_ours_sort_by_use(struct pfi_server_entry *list, size_t n);

enum pfi_removal {
	PFI_REMOVE_IF_UNUSED,  /* pre-cleaning: only if its lock is free and
	                        * nobody used it since it was listed */
	PFI_REMOVE_NOW,        /* --kill: wait for its lock (-ESRCH, p
	                        * filled, if its holder is stopped) */
};

/* Removes a listed server's socket (its watcher then stops the server
 * once running calls end) and lock.  Returns 1 if removed, 0 if left
 * (busy, used since, no lock file to hold, or no longer ours), or an
 * error with p filled. */
int pfi_ours_remove(const struct pfi_rundir *rd,
                    const struct pfi_server_entry *e, enum pfi_removal how,
                    struct problem *p);

/* Marks a server as just used, for least-recently-used retirement. */
void pfi_ours_touch(const struct pfi_rundir *rd, const char *sock_name);

#endif
