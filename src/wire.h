/* Socket I/O for a call: connecting with identity checks, moving raw
 * bytes and passing fds.  Decoding is protocol.c's job, not this one's. */
#ifndef PFI_WIRE_H
#define PFI_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "problem.h"
#include "rundir.h"

/* Connects to the server socket `name` in the run directory.  Returns
 * the connected fd, or -ENOENT / -ECONNREFUSED (no live server: quietly,
 * p untouched) or another negative code with p filled.  The socket must
 * be a socket owned by us, and the peer (SO_PEERCRED) must run as our
 * effective uid (else -EPERM) with our gid and groups (else -EXDEV). */
int pfi_wire_connect(const struct pfi_rundir *rd, const char *name,
                     struct problem *p);

/* Checks that the process at the other end of `fd` runs as our uid. */
int pfi_wire_check_peer(int fd, const char *what, struct problem *p);

/* Checks that the process at the other end of `fd` has our effective
 * gid and our supplementary groups (SO_PEERCRED, SO_PEERGROUPS); a
 * server that differs returns -EXDEV: the caller then runs the script
 * directly rather than with someone else's groups. */
int pfi_wire_check_peer_groups(int fd, const char *what, struct problem *p);

/* Something to check while a read waits: called every `every_ms` in
 * which nothing came; a negative return ends the wait with it. */
struct pfi_wire_idle {
	int every_ms;
	int (*check)(void *ctx, struct problem *p);
	void *ctx;
};

/* Reads up to `len` bytes, stopping early only at EOF (ECONNRESET counts
 * as EOF).  With watch_caller it also watches fds 1 and 2 while waiting:
 * once the caller is gone (POLLERR/POLLHUP there), a server that says
 * nothing for two seconds more is given up on with -EPIPE, so that it
 * cannot keep us forever once nobody reads our output (one that
 * answers goes on: the call meets the closed pipe itself, as a
 * standalone run would; before the greeting, server.c then runs the
 * script directly).  `idle` (or NULL) is checked meanwhile. */
int pfi_wire_read(int fd, uint8_t *buf, size_t len, size_t *got,
                  int watch_caller, const struct pfi_wire_idle *idle,
                  struct problem *p);

int pfi_wire_write_all(int fd, const void *buf, size_t len,
                       struct problem *p);

/* Sends fds 0, 1, 2, each attached to a one-byte message. */
int pfi_wire_send_stdio(int fd, struct problem *p);

/* Sends `payload` attached to a one-byte message on `via`. */
int pfi_wire_send_fd(int via, int payload, struct problem *p);

/* One such message: sendmsg(via, one byte + SCM_RIGHTS `payload`,
 * MSG_NOSIGNAL), its result as is. */
ssize_t pfi_wire_sendmsg_fd(int via, int payload);

/* The same, tried again while the kernel refuses it for the user's fds
 * in flight (ETOOMANYREFS), for PFI_WIRE_INFLIGHT_WAIT_MS at most: a
 * busy moment of many calls passing fds at once, which passes. */
#define PFI_WIRE_INFLIGHT_WAIT_MS 10000
ssize_t pfi_wire_sendmsg_fd_waiting(int via, int payload);

#endif
