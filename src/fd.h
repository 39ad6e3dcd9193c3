/* Closing fds on every way out of a function: a variable declared
 *   AUTO_CLOSE int fd = -1;        or   AUTO_CLOSE_PAIR int p[2] = { -1, -1 };
 * is closed when it goes out of scope, unless it was handed on with
 * pfi_fd_take() or closed early with pfi_fd_close(). */
#ifndef PFI_FD_H
#define PFI_FD_H

#include <unistd.h>

static inline void pfi_fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static inline void pfi_fd_close_pair(int (*pair)[2])
{
	pfi_fd_close(&(*pair)[0]);
	pfi_fd_close(&(*pair)[1]);
}

/* The fd, now owned by the caller: the variable no longer closes it. */
static inline int pfi_fd_take(int *fd)
{
	int taken = *fd;
	*fd = -1;
	return taken;
}

/* Closes fds first..last (last may be ~0U): close_range(2) where the
 * kernel has it (5.9), else one by one up to the fd limit, so that no
 * fd of the caller's survives on an older kernel either. */
static inline void pfi_fd_close_range(unsigned first, unsigned last)
{
	if (first > last || close_range(first, last, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	unsigned top = max > 0 && (unsigned long)max - 1 < last
		       ? (unsigned)(max - 1) : last;
	for (unsigned fd = first; fd <= top && fd >= first; fd++)
		close((int)fd);
}

#define AUTO_CLOSE __attribute__((cleanup(pfi_fd_close)))
#define AUTO_CLOSE_PAIR __attribute__((cleanup(pfi_fd_close_pair)))

#endif
