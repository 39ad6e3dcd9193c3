/* Keeps the run directory bounded: when it holds more than
 * PFI_MAX_SERVERS_KEPT servers, the least recently used are removed
 * (socket and lock), each under its own lock so that a server being
 * started right now is left alone. */
#ifndef PFI_PRECLEAN_H
#define PFI_PRECLEAN_H

#include "problem.h"
#include "rundir.h"

#define PFI_MAX_SERVERS_KEPT 100

int pfi_preclean(const struct pfi_rundir *rd, struct problem *p);

#endif
