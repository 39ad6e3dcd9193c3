/* The shape of a seccomp allow-list table.  The table is generated at
 * build time from policy/<name>.policy by gen-policy.c and compiled into
 * the BPF program the client loads by gen-bpf.c; the client itself
 * carries only that program. */
#ifndef PFI_POLICY_H
#define PFI_POLICY_H

#include <stddef.h>
#include <seccomp.h>

#include "policy-bpf.h"

#define PFI_POLICY_MAX_CONDS 6

struct pfi_policy_cond {
	unsigned arg;                 /* 0..5 */
	enum scmp_compare op;         /* SCMP_CMP_EQ or SCMP_CMP_MASKED_EQ */
	enum pfi_bpf_value load_time; /* if not NONE, compare with this value
	                                 instead of `value` */
	scmp_datum_t mask;            /* for SCMP_CMP_MASKED_EQ */
	scmp_datum_t value;
};

struct pfi_policy_rule {
	const char *name;             /* as written in the policy */
	int nr;                       /* SCMP_SYS(name) for the build's arch */
	unsigned line;                /* line in the policy file */
	unsigned nconds;
	struct pfi_policy_cond conds[PFI_POLICY_MAX_CONDS];
};

extern const struct pfi_policy_rule pfi_client_policy[];
extern const size_t pfi_client_policy_len;

#endif
