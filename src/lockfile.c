#include "lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int lock_once(const struct pfi_rundir *rd, const char *name,
                     unsigned flags, struct problem *p)
{
	int create = (flags & PFI_LOCK_EXISTING) ? 0 : O_CREAT;
	int fd = openat(rd->fd, name, O_RDWR | create | O_NOFOLLOW |
			O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		if (errno == ENOENT && !create)
			return -ENOENT;
		if (errno == ELOOP)
			return problem_fail(p, ELOOP,
				"lock file '%s/%s' is a symlink; refusing",
				rd->path, name);
		return problem_errno(p, errno, "cannot open lock file '%s/%s'",
				     rd->path, name);
	}

	/* O_NONBLOCK above only keeps a planted FIFO from hanging us; the
	 * checks below then refuse anything that is not our plain file. */
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = problem_errno(p, errno, "cannot stat lock file '%s/%s'",
				  rd->path, name);
	else if (!S_ISREG(st.st_mode))
		r = problem_fail(p, EPERM, "lock file '%s/%s' is not a "
				 "regular file; refusing", rd->path, name);
	else if (st.st_uid != geteuid())
		r = problem_fail(p, EPERM, "lock file '%s/%s' is owned by uid "
				 "%u; refusing", rd->path, name,
				 (unsigned)st.st_uid);
	else if (st.st_nlink != 1)
		r = problem_fail(p, EPERM, "lock file '%s/%s' has %u links; "
				 "refusing", rd->path, name,
				 (unsigned)st.st_nlink);
	else if (st.st_mode & 0022)
		r = problem_fail(p, EPERM, "lock file '%s/%s' is writable by "
				 "others (mode %04o); refusing", rd->path, name,
				 (unsigned)(st.st_mode & 07777));
	if (r < 0) {
		close(fd);
		return r;
	}

	int nonblocking = (flags & PFI_LOCK_NONBLOCK) != 0;
	int op = LOCK_EX | (nonblocking ? LOCK_NB : 0);
	while (flock(fd, op) < 0) {
		int err = errno;
		if (err == EINTR)
			continue;
		close(fd);
		if (err == EWOULDBLOCK && nonblocking)
			return -EWOULDBLOCK;
		return problem_errno(p, err, "cannot lock '%s/%s'", rd->path,
				     name);
	}

	/* Whoever held the lock before us may have removed the file (stale
	 * cleanup): a lock on an unlinked file excludes nobody. */
	struct stat now;
	if (fstatat(rd->fd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
	    now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

int pfi_lock_take(const struct pfi_rundir *rd, const char *name,
                  unsigned flags, struct problem *p)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int r = lock_once(rd, name, flags, p);
		if (r != -EAGAIN)
			return r;
	}
	return problem_fail(p, EAGAIN, "lock file '%s/%s' keeps being "
			    "replaced", rd->path, name);
}
