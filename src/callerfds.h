/* The caller's open fds above 2.  A standalone script inherits every
 * open fd of its caller (`script <(cmd)` names /dev/fd/63, a web
 * server's CGI child holds fds of its own); a call gets them too,
 * through the `extra-fds` extension (docs/protocol.md). */
#ifndef PFI_CALLERFDS_H
#define PFI_CALLERFDS_H

#include <stddef.h>

#include "problem.h"
#include "protocol.h"

struct pfi_caller_fds {
	int fd[PFI_EXTRA_FDS_MAX];   /* ascending, each >= 3 */
	size_t n;
};

/* Lists them.  Called first thing in main(), before the client opens
 * anything: right after exec every open fd is the caller's (the
 * close-on-exec ones are gone).  -E2BIG with p filled for more than a
 * call carries, another negative code if /proc/self/fd cannot be read:
 * either way the script is to run directly, where it gets them all. */
int pfi_caller_fds_collect(struct pfi_caller_fds *out, struct problem *p);

/* 0 if a call can carry them, else -EXDEV with p saying which one cannot
 * be (the script is then to run directly, where it has them all); so
 * too for a caller whose hard limit on open files is below
 * PFI_SERVER_MIN_NOFILE, whatever its fds:
 *   - one at or above the caller's hard limit on open files (st), which
 *     it opened before lowering the limit: a standalone run uses it, but
 *     no server, which has at most that hard limit, can place it there;
 *   - so many that a server could not hold them all at once beside
 *     the PFI_EXTRA_FDS_SERVER_ROOM numbers it needs of its own, under
 *     the caller's hard limit on open files (which the server shares);
 *   - one the kernel refuses to pass (an io_uring instance): tried on a
 *     socket pair of our own, before any server is involved. */
int pfi_caller_fds_check(const struct pfi_caller_fds *fds,
                         const struct pfi_caller_state *st, struct problem *p);

/* Closes the client's copies once they went to the call, so that the
 * call holds them alone (a reader of a pipe among them sees end of
 * file when the script closes its end, not when the client exits). */
void pfi_caller_fds_close(struct pfi_caller_fds *fds);

#endif
