#include "ttyjob.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <termios.h>
#include <unistd.h>

/* tcgetpgrp() answers only for the caller's controlling terminal (ENOTTY
 * for any other terminal, and for pipes and files): exactly the fds on
 * which a standalone run meets job control. */
static int in_background_on(int fd)
{
	pid_t fg = tcgetpgrp(fd);
	return fg >= 0 && fg != getpgrp();
}

int pfi_ttyjob_check(const struct pfi_caller_state *st, struct problem *p)
{
	if (in_background_on(0))
		return problem_fail(p, EXDEV, "the caller is a background "
				    "job of its terminal (stdin): a read there "
				    "stops a standalone run (SIGTTIN), not a "
				    "served call");
	const uint64_t ttou = UINT64_C(1) << (SIGTTOU - 1);
	if ((st->sigign | st->sigblock) & ttou)
		return 0;
	struct termios t;
	for (int fd = 1; fd <= 2; fd++) {
		if (in_background_on(fd) && tcgetattr(fd, &t) == 0 &&
		    (t.c_lflag & TOSTOP))
			return problem_fail(p, EXDEV, "the caller is a "
					    "background job of its terminal "
					    "(fd %d) under 'stty tostop': a "
					    "write there stops a standalone "
					    "run (SIGTTOU), not a served call",
					    fd);
	}
	return 0;
}
