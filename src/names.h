/* The names of our files in a run directory: a server's socket
 * s<ident> and its lock l<ident>.  One place builds and recognises them,
 * so that the code that removes files (pre-cleaning, --kill) can never
 * take a name that the code that creates them would not have made.
 *
 * A computed ident is 64 hex digits in three parts (ident.c): the
 * script (16), the server family (16: everything but the values of -E
 * variables) and the whole (32).  --kill SCRIPT matches the first part,
 * the bound on -E variants the first two; a -g ident has no parts. */
#ifndef PFI_NAMES_H
#define PFI_NAMES_H

#include <stddef.h>

#include "options.h"
#include "problem.h"
#include "rundir.h"

#define PFI_IDENT_BUF (PFI_IDENT_MAX + 1)
#define PFI_IDENT_SCRIPT_LEN 16
#define PFI_IDENT_FAMILY_LEN 32     /* script part + family part */

struct pfi_names {
	char sock[PFI_IDENT_BUF + 1];     /* s<ident> */
	char lock[PFI_IDENT_BUF + 1];     /* l<ident> */
};

void pfi_names_init(struct pfi_names *n, const char *ident);

enum pfi_name_kind { PFI_NAME_NONE, PFI_NAME_SOCKET, PFI_NAME_LOCK };

/* Whether `entry` is a name we make; if so copies its ident into
 * `ident` (PFI_IDENT_BUF bytes). */
enum pfi_name_kind pfi_name_parse(const char *entry, char *ident);

/* Whether `ident` is a computed one (64 lowercase hex digits), whose
 * leading parts can be compared. */
int pfi_ident_is_computed(const char *ident);

/* Whether the computed idents a and b share their first `len` digits. */
int pfi_ident_same_prefix(const char *a, const char *b, size_t len);

/* 0 if the entry `name` of the run directory is a socket owned by the
 * user (looked at without following a symlink); -ENOENT if there is
 * none (p untouched); else one line ending in `refusal` and -EPERM. */
int pfi_names_socket_is_ours(const struct pfi_rundir *rd, const char *name,
                             const char *refusal, struct problem *p);

/* Removes the socket if it is there: how both a failed start and --kill
 * stop a server (its watcher sees the socket go and tells it to quit).
 * Anything but a socket of the user's at the name is left, and refused
 * with one line (-EPERM). */
int pfi_names_remove_socket(const struct pfi_rundir *rd,
                            const struct pfi_names *n, struct problem *p);

/* Removes the lock file that `lock_fd` holds locked, unless a socket
 * sits at the server's name: a start that made no server leaves no file
 * behind.  Safe while held: a caller waiting on the removed file finds
 * it gone once it has the lock and opens the name afresh (lockfile.c).
 * Best effort; a lock file left is reused by the next start. */
void pfi_names_drop_lock(const struct pfi_rundir *rd,
                         const struct pfi_names *n, int lock_fd);

#endif
