/* A server's two entries in the run directory: its socket s<ident> and
 * its lock l<ident>.  The naming rule lives here only, for the client's
 * calls and for pre-cleaning alike; so does removing the socket, which
 * both a failed start and --kill use to stop a server (its watcher sees
 * the socket go and tells the server to quit). */
#ifndef PFI_NAMES_H
#define PFI_NAMES_H

#include "ident.h"
#include "problem.h"
#include "rundir.h"

struct pfi_names {
	char sock[PFI_IDENT_BUF + 1];     /* s<ident> */
	char lock[PFI_IDENT_BUF + 1];     /* l<ident> */
};

/* Fills both names for `ident` (at most PFI_IDENT_MAX characters). */
void pfi_names_init(struct pfi_names *n, const char *ident);

/* The ident part of a run-directory entry that is a server's socket or
 * lock name, or NULL for anything else (".", "..", a stray file, a name
 * too long to be ours). */
const char *pfi_names_ident(const char *entry);

/* Removes the socket if it is there. */
int pfi_names_remove_socket(const struct pfi_rundir *rd,
                            const struct pfi_names *n, struct problem *p);

#endif
