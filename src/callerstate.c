#include "callerstate.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

_Static_assert(RLIMIT_NLIMITS == PFI_RLIMIT_COUNT,
	       "the caller-state block must carry every resource limit");

static uint64_t limit_value(rlim_t v)
{
	return v == RLIM_INFINITY ? PFI_RLIM_INF : (uint64_t)v;
}

/* Umask, SigIgn and SigBlk from /proc/self/status; 0 if all were there. */
static int from_proc_status(struct pfi_caller_state *st,
                            const struct pfi_proc_status *ps)
{
	size_t n;
	unsigned m;
	const char *u = pfi_proc_status_field(ps, "Umask", &n);
	if (!u || pfi_umask_decode(u, n, &m) < 0)
		return -ENOENT;
	if (pfi_proc_status_hex64(ps, "SigIgn", &st->sigign) < 0 ||
	    pfi_proc_status_hex64(ps, "SigBlk", &st->sigblock) < 0)
		return -ENOENT;
	st->umask = m;
	return 0;
}

static int signals_from_kernel(struct pfi_caller_state *st, struct problem *p)
{
	mode_t m = umask(0);
	umask(m);
	st->umask = m & 0777;
	st->sigign = st->sigblock = 0;
	sigset_t blocked;
	if (sigprocmask(SIG_BLOCK, NULL, &blocked) < 0)
		return problem_errno(p, errno, "cannot read the signal mask");
	for (int sig = 1; sig <= 64; sig++) {
		struct sigaction sa;
		/* glibc keeps two real-time signals for itself and refuses
		 * to report on them. */
		if (sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler == SIG_IGN)
			st->sigign |= 1ull << (sig - 1);
		if (sigismember(&blocked, sig) == 1)
			st->sigblock |= 1ull << (sig - 1);
	}
	return 0;
}

int pfi_caller_state_collect(struct pfi_caller_state *st,
                             const struct pfi_proc_status *ps,
                             struct problem *p)
{
	memset(st, 0, sizeof *st);
	int r;
	if (from_proc_status(st, ps) < 0 &&
	    (r = signals_from_kernel(st, p)) < 0)
		return r;

	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	if (nice == -1 && errno)
		return problem_errno(p, errno, "cannot read our niceness");
	st->nice = nice;

	for (int i = 0; i < PFI_RLIMIT_COUNT; i++) {
		struct rlimit rl;
		if (getrlimit((__rlimit_resource_t)i, &rl) < 0)
			return problem_errno(p, errno, "cannot read resource "
					     "limit %s", pfi_rlimit_names[i]);
		st->rlimit[i].soft = limit_value(rl.rlim_cur);
		st->rlimit[i].hard = limit_value(rl.rlim_max);
	}

	return 0;
}

void pfi_caller_state_restore_signals(const struct pfi_caller_state *st)
{
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = st->sigign & (1ull << (sig - 1)) ? SIG_IGN
								 : SIG_DFL;
		sigaction(sig, &sa, NULL);   /* glibc's own two refuse */
	}
	sigset_t blocked;
	sigemptyset(&blocked);
	for (int sig = 1; sig <= 64; sig++)
		if (st->sigblock & (1ull << (sig - 1)))
			sigaddset(&blocked, sig);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
}
