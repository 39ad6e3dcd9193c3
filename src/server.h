/* Reaching a live server: connect to the existing one, or start a fresh
 * one under the lock (docs/design.md section 4).  Only raw bytes are read
 * here; decoding happens later, inside the sandbox. */
#ifndef PFI_SERVER_H
#define PFI_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "names.h"
#include "options.h"
#include "problem.h"
#include "protocol.h"
#include "rundir.h"

/* A connected, credential-checked call socket, with the first bytes of
 * the greeting read raw (at least one: EOF meant a stale server). */
struct pfi_reached {
	int fd;
	uint8_t head[PFI_GREETING_HEAD];
	size_t head_len;
};

/* Returns 0 with *out filled, -ECHILD if the script's setup failed
 * (*setup_status says how), -EXDEV if no server can serve this call
 * and the script is to run directly (p says why: a server of other
 * credentials under a -g name, or a stopped caller starting the
 * server), or another error with p filled. */
int pfi_server_reach(const struct pfi_options *o, const struct pfi_rundir *rd,
                     const struct pfi_names *names, struct pfi_reached *out,
                     int *setup_status, struct problem *p);

#endif
