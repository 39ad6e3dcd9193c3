#include "ttyjob.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
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

/* What an fd above 2 was opened for (stdin counts as read whatever its
 * mode, as a script reads it; stdout and stderr as written). */
static int opened_for(int fd, int acc)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return 0;
	return (fl & O_ACCMODE) == O_RDWR || (fl & O_ACCMODE) == acc;
}

static int tostop_on(int fd)
{
	struct termios t;
	return tcgetattr(fd, &t) == 0 && (t.c_lflag & TOSTOP);
}

static int stops_reading(int fd, struct problem *p)
{
	char where[24] = "stdin";
	if (fd > 0)
		snprintf(where, sizeof where, "fd %d", fd);
	return problem_fail(p, EXDEV, "the caller is a background job of its "
			    "terminal (%s): a read there stops a standalone "
			    "run (SIGTTIN), not a served call", where);
}

static int stops_writing(int fd, struct problem *p)
{
	return problem_fail(p, EXDEV, "the caller is a background job of its "
			    "terminal (fd %d) under 'stty tostop': a write "
			    "there stops a standalone run (SIGTTOU), not a "
			    "served call", fd);
}

int pfi_ttyjob_check(const struct pfi_caller_state *st,
                     const struct pfi_caller_fds *extra, struct problem *p)
{
	const uint64_t ttou = UINT64_C(1) << (SIGTTOU - 1);
	const int writes_stop = !((st->sigign | st->sigblock) & ttou);

	if (in_background_on(0))
		return stops_reading(0, p);
	for (size_t i = 0; i < extra->n; i++) {
		int fd = extra->fd[i];
		if (in_background_on(fd) && opened_for(fd, O_RDONLY))
			return stops_reading(fd, p);
	}
	if (!writes_stop)
		return 0;
	for (int fd = 1; fd <= 2; fd++)
		if (in_background_on(fd) && tostop_on(fd))
			return stops_writing(fd, p);
	for (size_t i = 0; i < extra->n; i++) {
		int fd = extra->fd[i];
		if (in_background_on(fd) && opened_for(fd, O_WRONLY) &&
		    tostop_on(fd))
			return stops_writing(fd, p);
	}
	return 0;
}
