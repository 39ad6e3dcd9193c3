/* The caller's credentials that decide what a call may do: they select
 * the server (src/ident.c), so callers that differ never share one
 * (SECURITY.md, "Credentials"; docs/protocol.md). */
#ifndef PFI_CREDS_H
#define PFI_CREDS_H

#include <stdint.h>
#include <sys/types.h>

#include "problem.h"
#include "procstatus.h"

#define PFI_GROUPS_MAX 65536           /* the kernel's NGROUPS_MAX */

struct pfi_creds {
	uid_t uid[4];                  /* real, effective, saved, fs */
	gid_t gid[4];
	size_t n_groups;
	gid_t *groups;                 /* as getgroups() has them (sorted) */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs;
	int securebits;
	int seccomp;                   /* 0 none, 1 strict, 2 filter */
};

/* Reads this process's credentials, from `ps` where it has them, else
 * from the kernel directly. */
int pfi_creds_collect(struct pfi_creds *c, const struct pfi_proc_status *ps,
                      struct problem *p);
void pfi_creds_free(struct pfi_creds *c);

/* The bytes that go into the ident: every field, fixed order and widths. */
typedef void pfi_creds_sink(void *ctx, const void *data, size_t len);
void pfi_creds_feed(const struct pfi_creds *c, pfi_creds_sink *sink,
                    void *ctx);

#endif
