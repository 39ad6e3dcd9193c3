/* Where and under what the caller runs, beyond its credentials: its
 * namespaces, control groups, security label, CPUs, NUMA memory
 * policy, scheduling, I/O priority, OOM score adjustment, timer slack,
 * personality and the
 * inherited per-process switches (memory-deny-write-execute, THP and
 * KSM opt-outs, speculation mitigations).
 *
 * A call runs in a process forked from the server and inherits all of
 * these from the server; a server cannot move a call into its caller's
 * namespaces or control group, nor under its security label, and a
 * process confined by any of them must not have its script run outside
 * them.  So, like the credentials, they select the server (src/ident.c):
 * a caller that differs in any of them gets a server of its own,
 * started by such a caller and so running with exactly its values
 * (docs/protocol.md, "What selects the server"). */
#ifndef PFI_CONFINEMENT_H
#define PFI_CONFINEMENT_H

#include <stddef.h>

#include "problem.h"

/* The items as "key=LEN:value\n", unambiguous whatever the values hold
 * (a control group file has several lines). */
struct pfi_confinement {
	char *text;
	size_t len, cap;
};

/* Reads this process's values.  What the kernel does not have or will
 * not show (an older kernel's missing namespace, no security module)
 * becomes an item of its own saying so: such a caller still gets a
 * server, shared only with callers that see the same.  Fails only
 * without memory. */
int pfi_confinement_collect(struct pfi_confinement *c, struct problem *p);

/* Appends one item (pure; for collect and the unit tests). */
int pfi_confinement_add(struct pfi_confinement *c, const char *key,
                        const char *value, size_t len);

void pfi_confinement_free(struct pfi_confinement *c);

#endif
