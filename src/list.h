/* --list: this user's servers in the run directory, one line each.
 * What the client cannot know from the run directory it reads from the
 * kernel and /proc: the inode of the socket listening on the socket
 * file (sock_diag, by the file's device and inode: src/sockdiag.h; the
 * name alone is the same in other run directories), the process of
 * ours holding it whose parent does not (the server), its start time, working directory, title (the
 * module's process title shows the script, never call arguments) and
 * the memory of it and its children (PSS).  Idle time is the time since
 * the last call (clients mark the socket on each connection).  Calls
 * served only the server knows: the column shows the count its title
 * states as "N calls" (for example "SCRIPT [prefork server, 12 calls]"),
 * else "-". */
#ifndef PFI_LIST_H
#define PFI_LIST_H

#include <stdio.h>

#include "problem.h"
#include "rundir.h"

int pfi_list_servers(const struct pfi_rundir *rd, FILE *out,
                     struct problem *p);

#endif
