/* The client's seccomp program, compiled at build time by gen-bpf from
 * the policy table; see gen-bpf.c. */
#ifndef PFI_POLICY_BPF_H
#define PFI_POLICY_BPF_H

#include <linux/filter.h>

extern const struct sock_filter pfi_client_bpf[];
extern const unsigned short pfi_client_bpf_len;
/* Instructions whose constant is the client's own pid, to be patched. */
extern const unsigned short pfi_client_bpf_pid_slots[];
extern const unsigned short pfi_client_bpf_pid_slots_len;

#endif
