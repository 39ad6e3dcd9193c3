#include "childsig.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>

static int callers_ignored;

int pfi_childsig_take(const struct pfi_caller_state *caller,
                      struct problem *p)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	if (!(caller->sigign & (1ull << (SIGCHLD - 1))))
		return 0;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, NULL) < 0)
		return problem_errno(p, errno, "cannot reset SIGCHLD");
	callers_ignored = 1;
	return 0;
}

void pfi_childsig_give_back(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigemptyset(&ign.sa_mask);
	if (callers_ignored)
		sigaction(SIGCHLD, &ign, NULL);
}
