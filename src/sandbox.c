/* Capabilities off, no-new-privs on, then a seccomp allow-list: from
 * here on the client only decodes what the server sent, passes its
 * stdio, and reproduces the status.  The list itself is reviewable
 * text in policy/client.policy, checked by policy/gen-policy.c and
 * compiled to a BPF program at build time by policy/gen-bpf.c. */
#include "sandbox.h"

#include <errno.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"

#if PFI_SANDBOX
#include <cap-ng.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <string.h>

#include "policy-bpf.h"
#endif

int pfi_sandbox_built_in(void)
{
	return PFI_SANDBOX;
}

#if PFI_SANDBOX

/* 1 if the effective, permitted and inheritable sets are all empty
 * (which leaves the ambient set empty too), 0 if not, <0 on error. */
static int holds_no_capabilities(struct problem *p)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return problem_errno(p, errno, "cannot check capabilities");
	for (unsigned i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective || data[i].permitted ||
		    data[i].inheritable)
			return 0;
	return 1;
}

/* Whatever we hold is dropped: effective, permitted, inheritable and
 * ambient always, the bounding set too if we hold CAP_SETPCAP (root
 * does).  Then we check with the kernel that nothing is left. */
static int drop_capabilities(struct problem *p)
{
	/* The usual case, an unprivileged caller, has nothing to drop:
	 * ambient capabilities cannot outlive permitted ones, and without
	 * CAP_SETPCAP the bounding set cannot be changed (no-new-privs,
	 * set next, keeps execve from using it). One capget() says so,
	 * where libcap-ng would read /proc/self/status several times. */
	int none = holds_no_capabilities(p);
	if (none != 0)
		return none < 0 ? none : 0;

	if (capng_get_caps_process() < 0)
		return problem_fail(p, EPERM, "cannot read this process's "
				    "capabilities");
	int may_bound = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	int r = capng_apply(may_bound ? CAPNG_SELECT_ALL
				      : CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT);
	if (r < 0)
		return problem_fail(p, EPERM, "cannot drop capabilities "
				    "(libcap-ng error %d)", r);
	/* Older kernels lack ambient capabilities: EINVAL is fine. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return problem_errno(p, errno, "cannot clear ambient "
				     "capabilities");

	/* Ambient capabilities cannot outlive permitted ones, so empty
	 * effective, permitted and inheritable sets mean none at all. */
	int gone = holds_no_capabilities(p);
	if (gone < 0)
		return gone;
	if (!gone)
		return problem_fail(p, EPERM, "capabilities are left after "
				    "dropping them all");
	return 0;
}

/* Loads the program compiled at build time from policy/client.policy
 * (policy/gen-bpf.c), with our own pid and the call socket's fd patched
 * in where the policy compares with $pid and $sock. */
static int install_filter(int sock, struct problem *p)
{
	struct sock_filter prog[pfi_client_bpf_len];
	uint32_t value[PFI_BPF_VALUES] = {
		[PFI_BPF_PID] = (uint32_t)getpid(),
		[PFI_BPF_SOCK] = (uint32_t)sock,
	};

	memcpy(prog, pfi_client_bpf, sizeof prog);
	for (unsigned i = 0; i < pfi_client_bpf_slots_len; i++)
		prog[pfi_client_bpf_slots[i].insn].k =
			value[pfi_client_bpf_slots[i].value];
	struct sock_fprog fprog = { .len = pfi_client_bpf_len,
				    .filter = prog };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return problem_errno(p, errno, "cannot install the seccomp "
				     "filter");
	return 0;
}

int pfi_sandbox_enter(int sock, struct problem *p)
{
	int r;
	if ((r = drop_capabilities(p)) < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return problem_errno(p, errno, "cannot set no-new-privs");
	return install_filter(sock, p);
}

#else /* !PFI_SANDBOX: a debugging build, says so in --version */

int pfi_sandbox_enter(int sock, struct problem *p)
{
	(void)sock;
	(void)p;
	return 0;
}

#endif
