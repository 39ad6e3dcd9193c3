/* One call over a reached server, run inside the sandbox: decode the
 * greeting, hand over stdio, argv and environment, and receive the
 * executor's wait status. */
#ifndef PFI_CALL_H
#define PFI_CALL_H

#include "callerfds.h"
#include "options.h"
#include "problem.h"
#include "protocol.h"
#include "server.h"

/* `st` is the caller's process state, sent if the server takes it;
 * `extra` the caller's fds above 2, passed (and closed here) if the
 * server takes them. */
int pfi_call_run(const struct pfi_options *o, const struct pfi_reached *server,
                 const struct pfi_caller_state *st,
                 struct pfi_caller_fds *extra, int *wait_status,
                 struct problem *p);

#endif
