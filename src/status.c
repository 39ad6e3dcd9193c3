#include "status.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int pfi_status_reproduce(int wait_status, struct problem *p)
{
	if (WIFEXITED(wait_status))
		_exit(WEXITSTATUS(wait_status));
	if (!WIFSIGNALED(wait_status))
		return problem_fail(p, EPROTO, "server reported wait status "
				    "0x%x, which is not an ending",
				    (unsigned)wait_status);

	int sig = WTERMSIG(wait_status);
	struct sigaction dfl;
	sigset_t just_sig;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&just_sig);
	sigaddset(&just_sig, sig);
	/* SIGKILL and SIGSTOP cannot be caught or blocked: these fail
	 * harmlessly for them. */
	sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_UNBLOCK, &just_sig, NULL);
	kill(getpid(), sig);
	return problem_fail(p, EINTR, "executor died of signal %d (%s), but "
			    "that signal did not end this process", sig,
			    strsignal(sig));
}
