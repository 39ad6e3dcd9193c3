/* The client's own children, the setup and the watcher, and a caller
 * that ignores SIGCHLD (some daemons do, and exec keeps it): the kernel
 * would reap those children at once, and every wait for one would fail
 * with ECHILD, so the client would never learn how its setup went. */
#ifndef PFI_CHILDSIG_H
#define PFI_CHILDSIG_H

#include "problem.h"
#include "protocol.h"

/* Right after the caller's state is read: if the caller ignores SIGCHLD,
 * puts the default disposition in its place (which discards the signal
 * too, but keeps the children's statuses) and remembers it. */
int pfi_childsig_take(const struct pfi_caller_state *caller,
                      struct problem *p);

/* In a child about to exec the interpreter for the caller: gives the
 * caller's disposition back, as a standalone run would have it. */
void pfi_childsig_give_back(void);

#endif
