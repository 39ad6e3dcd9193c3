/* The client's seccomp program, compiled at build time by gen-bpf from
 * the policy table; see gen-bpf.c. */
#ifndef PFI_POLICY_BPF_H
#define PFI_POLICY_BPF_H

#include <linux/filter.h>

extern const struct sock_filter pfi_client_bpf[];
extern const unsigned short pfi_client_bpf_len;
/* Values known only when the filter is loaded, written in the policy as
 * $pid and $sock.  The build compiles each as a placeholder constant
 * and lists the instructions that hold it, for the client to patch. */
enum pfi_bpf_value {
	PFI_BPF_NONE = 0,
	PFI_BPF_PID,          /* $pid: the client's own pid */
	PFI_BPF_SOCK,         /* $sock: the fd of the call socket */
	PFI_BPF_VALUES
};

struct pfi_bpf_slot {
	unsigned short insn;          /* index into pfi_client_bpf */
	unsigned short value;         /* enum pfi_bpf_value */
};

extern const struct pfi_bpf_slot pfi_client_bpf_slots[];
extern const unsigned short pfi_client_bpf_slots_len;

#endif
