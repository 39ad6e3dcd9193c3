/* Test hooks exist only in the non-installed prefork-interp-testhooks
 * executable (built with -DPFI_TEST_HOOKS=1; docs/sandbox.md, "Test
 * hooks").  PFI_TEST_HOOK("where", sock) does what $PFI_TEST_HOOK
 * asks if it names "where" (sock: the call socket, for the actions on
 * it); in the installed client it compiles to nothing. */
#ifndef PFI_TESTHOOK_H
#define PFI_TESTHOOK_H

#if defined(PFI_TEST_HOOKS) && PFI_TEST_HOOKS
void pfi_test_hook(const char *where, int sock);
#define PFI_TEST_HOOK(where, sock) pfi_test_hook(where, sock)
#else
#define PFI_TEST_HOOK(where, sock) ((void)0)
#endif

#endif
