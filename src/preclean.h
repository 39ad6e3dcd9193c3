/* Keeps the run directory bounded before a new server starts: at most
 * PFI_MAX_SERVERS_KEPT servers in all, and at most PFI_MAX_VARIANTS of
 * one family (servers that differ only by the values of -E variables:
 * a value a remote party controls, such as an HTTP header in CGI, must
 * not create servers without end).  The least recently used go first,
 * each under its own lock, so that a server being started or replaced
 * right now is left alone.  Only our own files are touched (ours.h). */
#ifndef PFI_PRECLEAN_H
#define PFI_PRECLEAN_H

#include "names.h"
#include "problem.h"
#include "rundir.h"

#define PFI_MAX_SERVERS_KEPT 100
#define PFI_MAX_VARIANTS 8

/* `starting` is the ident of the server about to start. */
int pfi_preclean(const struct pfi_rundir *rd, const char *starting,
                 struct problem *p);

#endif
