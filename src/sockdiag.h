/* Which unix socket listens on a socket file: asked of the kernel
 * through NETLINK_SOCK_DIAG, which reports for each listening socket
 * its own inode (socket:[INO] in /proc/PID/fd) and the device and inode
 * of the file it is bound to.  /proc/net/unix gives only the path it
 * was bound under, and ours are bound through /proc/self/fd/N/NAME:
 * the directory is lost, and the same name in another run directory
 * (another one of ours, another user's under -g) cannot be told apart. */
#ifndef PFI_SOCKDIAG_H
#define PFI_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "problem.h"

/* One listening unix socket bound to a file. */
struct pfi_sockdiag_listener {
	uint32_t sock_ino;   /* the socket's inode */
	uint32_t file_dev;   /* the bound file's filesystem as the kernel
	                      * keeps it (MAJOR << 20 | MINOR) */
	uint32_t file_ino;   /* the bound file's inode: its low 32 bits,
	                      * all the kernel reports */
	const char *name;    /* the path it was bound under, name_len bytes,
	                      * not NUL-terminated; valid during the call */
	size_t name_len;
};

typedef void (*pfi_sockdiag_fn)(const struct pfi_sockdiag_listener *l,
                                void *arg);

/* Pure: one datagram of the kernel's answer to dump request `seq`.
 * Calls fn for each listening socket bound to a file (one that has a
 * device and inode).  Returns 1 once the dump is done, 0 if more
 * datagrams follow, or -errno: the kernel's error (NLMSG_ERROR), or
 * -EPROTO for anything malformed or cut short. */
int pfi_sockdiag_parse(const void *buf, size_t len, uint32_t seq,
                       pfi_sockdiag_fn fn, void *arg);

/* Pure: whether l is bound to the file with inode `ino` on the
 * filesystem `dev` (a dev_t as stat() or mountinfo give it). */
int pfi_sockdiag_same_file(const struct pfi_sockdiag_listener *l, dev_t dev,
                           ino_t ino);

/* Asks the kernel for every listening unix socket of this network
 * namespace and calls fn for each bound to a file.  Returns 0, or
 * -errno with p saying why (sock_diag missing or refused: EPERM under a
 * filter, EPROTONOSUPPORT without the unix_diag module). */
int pfi_sockdiag_listeners(pfi_sockdiag_fn fn, void *arg, struct problem *p);

#endif
