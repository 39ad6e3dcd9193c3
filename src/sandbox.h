/* The sandbox the client enters once it holds its connected, verified
 * call socket and before it decodes anything the server sent
 * (docs/design.md section 5, "Sandbox"; docs/sandbox.md). */
#ifndef PFI_SANDBOX_H
#define PFI_SANDBOX_H

#include "problem.h"

/* Drops every capability (all sets, the bounding set too when we may),
 * sets no-new-privs and installs the seccomp allow-list compiled from
 * policy/client.policy, where $sock is `sock`, the call socket.  After
 * this, the process can only finish the call: anything else kills it. */
int pfi_sandbox_enter(int sock, struct problem *p);

/* Whether this build has the sandbox (for --version). */
int pfi_sandbox_built_in(void);

#endif
