/* The sandbox the client enters once it holds its connected, verified
 * call socket and before it decodes anything the server sent
 * (DESIGN.md section 5, "Sandbox"; docs/sandbox.md). */
#ifndef PFI_SANDBOX_H
#define PFI_SANDBOX_H

#include "problem.h"

/* Drops every capability (all sets, the bounding set too when we may),
 * sets no-new-privs and installs the seccomp allow-list compiled from
 * policy/client.policy.  After this, the process can only finish the
 * call: anything else kills it. */
int pfi_sandbox_enter(struct problem *p);

/* Whether this build has the sandbox (for --version). */
int pfi_sandbox_built_in(void);

/* Test hooks exist only in the non-installed prefork-interp-testhooks
 * executable (built with -DPFI_TEST_HOOKS=1).  PFI_TEST_HOOK("where")
 * does what $PFI_TEST_HOOK asks if it names "where"; in the installed
 * client it compiles to nothing. */
#if defined(PFI_TEST_HOOKS) && PFI_TEST_HOOKS
void pfi_test_hook(const char *where);
#define PFI_TEST_HOOK(where) pfi_test_hook(where)
#else
#define PFI_TEST_HOOK(where) ((void)0)
#endif

#endif
