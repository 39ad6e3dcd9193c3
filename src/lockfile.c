#include "lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lockholder.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An inotify descriptor woken when a holder of the file open on fd
 * closes it (every holder opens it for writing), or -1 without inotify
 * (its per-user limit reached): then the tries are timed instead. */
static int watch_closes(int fd)
{
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in >= 0 && inotify_add_watch(in, self, IN_CLOSE_WRITE) < 0) {
		close(in);
		in = -1;
	}
	return in;
}

/* Waits for the lock on fd while its holder is not stopped.  flock()
 * cannot time out, so the wait is LOCK_NB tries, each after the holder
 * may have closed the file, with a look at the holder in between. */
static int wait_unless_stopped(int fd, const struct pfi_rundir *rd,
                               const char *name, struct problem *p)
{
	struct pollfd pfd = { .fd = -2, .events = POLLIN };
	struct pfi_lockholder_watch holder = { 0 };
	long long next_look = 0;
	int soon = 0, r = 0;

	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			r = problem_errno(p, errno, "cannot lock '%s/%s'",
					  rd->path, name);
			break;
		}
		if (pfd.fd == -2) {     /* held: only now worth watching */
			pfd.fd = watch_closes(fd);
			next_look = now_ms() + PFI_LOCKHOLDER_LOOK_MS;
			continue;       /* (it may have gone meanwhile) */
		}
		/* The close is reported before the kernel drops the lock
		 * (fsnotify_close() comes first in __fput()): after a wake,
		 * a few tries 1 ms apart. */
		long long wait = next_look - now_ms();
		int in = pfd.fd >= 0;
		int timeout = !in ? 10 : soon > 0 ? 1 : (int)wait;
		if (wait > 0 && poll(&pfd, in, timeout) > 0) {
			char events[4096];
			while (read(pfd.fd, events, sizeof events) > 0)
				;
			soon = 5;
			continue;
		}
		if (soon > 0)
			soon--;
		if (now_ms() < next_look)
			continue;
		next_look = now_ms() + PFI_LOCKHOLDER_LOOK_MS;
		pid_t stopped = pfi_lockholder_look(&holder, fd);
		if (stopped) {
			r = pfi_lockholder_give_up(stopped, rd->path, name, p);
			break;
		}
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
	return r;
}

/* flock() as asked: blocking, or -EWOULDBLOCK (p untouched) if held. */
static int lock_plain(int fd, unsigned flags, const struct pfi_rundir *rd,
                      const char *name, struct problem *p)
{
	int nonblocking = (flags & PFI_LOCK_NONBLOCK) != 0;
	while (flock(fd, LOCK_EX | (nonblocking ? LOCK_NB : 0)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK && nonblocking)
			return -EWOULDBLOCK;
		return problem_errno(p, errno, "cannot lock '%s/%s'", rd->path,
				     name);
	}
	return 0;
}

static int lock_once(const struct pfi_rundir *rd, const char *name,
                     unsigned flags, struct problem *p)
{
	int create = (flags & PFI_LOCK_EXISTING) ? 0 : O_CREAT;
	/* Mode 0600 whatever the caller's umask: a lock made read-only
	 * (umask 0277) could not be opened again by the next caller. */
	mode_t old_umask = umask(077);
	int fd = openat(rd->fd, name, O_RDWR | create | O_NOFOLLOW |
			O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	int err = errno;
	umask(old_umask);
	if (fd < 0) {
		if (err == ENOENT && !create)
			return -ENOENT;
		if (err == ELOOP)
			return problem_fail(p, ELOOP,
				"lock file '%s/%s' is a symlink; refusing",
				rd->path, name);
		return problem_errno(p, err, "cannot open lock file '%s/%s'",
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

	if (flags & PFI_LOCK_UNLESS_STOPPED)
		r = wait_unless_stopped(fd, rd, name, p);
	else
		r = lock_plain(fd, flags, rd, name, p);
	if (r < 0) {
		close(fd);
		return r;
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
