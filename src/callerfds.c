#include "callerfds.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

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

void pfi_caller_fds_close(struct pfi_caller_fds *fds)
{
	for (size_t i = 0; i < fds->n; i++)
		close(fds->fd[i]);
	fds->n = 0;
}
