/* The `signals` extension, client side (docs/protocol.md): while the
 * call runs, signals sent to the client reach the call, and the call's
 * stops and continues become the client's own, so a shell's job
 * control and a caller's kill(1) act on the call as on a standalone
 * run.  Runs inside the sandbox; decoding is protocol.c's. */
#ifndef PFI_RELAY_H
#define PFI_RELAY_H

#include <signal.h>
#include <stddef.h>

#include "problem.h"

struct pfi_relay {
	sigset_t relayed;  /* blocked here, read from sigfd, sent on */
	int sigfd;
};

/* Before the request goes out: blocks the signals to relay (also those
 * the caller ignores: the script may handle them), so that one arriving
 * while the request is being sent waits for the call instead of ending
 * the client. */
int pfi_relay_prepare(struct pfi_relay *r, struct problem *p);

/* After the request: relays signals to the call on `fd` and follows
 * its stops and continues until the server reports the final wait
 * status, stored in *wait_status. */
int pfi_relay_run(struct pfi_relay *r, int fd, int *wait_status,
                  struct problem *p);

/* The server's connection ended with `have` bytes of a status word:
 * -EPROTO, p saying what that means for the call. */
int pfi_status_cut_short(size_t have, struct problem *p);

#endif
