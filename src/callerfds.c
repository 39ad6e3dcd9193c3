#include "callerfds.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/* A name in /proc/self/fd as an fd number, or -1. */
static int fd_number(const char *name)
{
	char *end;
	errno = 0;
	long v = strtol(name, &end, 10);
	if (errno || end == name || *end || v < 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

static void insert_sorted(struct pfi_caller_fds *out, int fd)
{
	size_t i = out->n++;
	for (; i > 0 && out->fd[i - 1] > fd; i--)
		out->fd[i] = out->fd[i - 1];
	out->fd[i] = fd;
}

int pfi_caller_fds_collect(struct pfi_caller_fds *out, struct problem *p)
{
	out->n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return problem_errno(p, errno, "cannot list the caller's open "
				     "fds (/proc/self/fd)");
	size_t total = 0;
	int own = dirfd(d), r = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		int fd = fd_number(e->d_name);
		if (fd < PFI_EXTRA_FD_MIN || fd == own)
			continue;
		if (++total <= PFI_EXTRA_FDS_MAX)
			insert_sorted(out, fd);
	}
	if (errno)
		r = problem_errno(p, errno, "cannot list the caller's open fds "
				  "(/proc/self/fd)");
	closedir(d);
	if (r == 0 && total > PFI_EXTRA_FDS_MAX)
		r = problem_fail(p, E2BIG, "the caller has %zu open fds above "
				 "2, more than the %d a call carries", total,
				 PFI_EXTRA_FDS_MAX);
	if (r < 0)
		out->n = 0;
	return r;
}

/* Whether the kernel passes each of them on a unix socket: sent on a
 * socket pair of our own and read back at once without room for the
 * fd, which the kernel then drops, so that the try holds at most one of
 * the user's fds in flight (a count the kernel limits). */
static int check_passable(const struct pfi_caller_fds *fds, struct problem *p)
{
	int pair[2], r = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return problem_errno(p, errno, "cannot try passing the "
				     "caller's fds");
	for (size_t i = 0; r == 0 && i < fds->n; i++) {
		ssize_t n;
		char byte;
		do
			n = pfi_wire_sendmsg_fd_waiting(pair[0], fds->fd[i]);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			r = problem_errno(p, n < 0 ? errno : EIO, "the caller's "
					  "fd %d cannot be passed to a server",
					  fds->fd[i]);
		else if (recv(pair[1], &byte, 1, 0) != 1)
			r = problem_errno(p, errno, "cannot try passing the "
					  "caller's fds");
	}
	close(pair[0]);
	close(pair[1]);
	return r < 0 ? -EXDEV : 0;
}

int pfi_caller_fds_check(const struct pfi_caller_fds *fds,
                         const struct pfi_caller_state *st, struct problem *p)
{
	uint64_t hard = st->rlimit[RLIMIT_NOFILE].hard;
	if (hard < PFI_SERVER_MIN_NOFILE)
		return problem_fail(p, EXDEV, "the caller's hard limit of "
				    "%llu open files is below the %d a server "
				    "needs", (unsigned long long)hard,
				    PFI_SERVER_MIN_NOFILE);
	/* (ascending: the last is the largest) */
	if (fds->n > 0 && hard != PFI_RLIM_INF &&
	    (uint64_t)fds->fd[fds->n - 1] >= hard)
		return problem_fail(p, EXDEV, "the caller's fd %d is at or "
				    "above its hard limit of %llu open files, "
				    "where no server can place it",
				    fds->fd[fds->n - 1],
				    (unsigned long long)hard);
	/* The executor holds them all at once, beside its own numbers,
	 * before it can place any: short of room it could only hang up. */
	if (fds->n > 0 && hard != PFI_RLIM_INF &&
	    3 + fds->n + PFI_EXTRA_FDS_SERVER_ROOM > hard)
		return problem_fail(p, EXDEV, "the caller's %zu open fds "
				    "above 2 leave a server too few numbers "
				    "to take them under its hard limit of "
				    "%llu open files (it needs %d of its own)",
				    fds->n, (unsigned long long)hard,
				    PFI_EXTRA_FDS_SERVER_ROOM);
	return fds->n > 0 ? check_passable(fds, p) : 0;
}

void pfi_caller_fds_close(struct pfi_caller_fds *fds)
{
	for (size_t i = 0; i < fds->n; i++)
		close(fds->fd[i]);
	fds->n = 0;
}
