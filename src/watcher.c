#include "watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"
#include "forkfail.h"
#include "proctitle.h"

#define WATCH_DIRFD 3
/* Exit status of the watcher's first child when its own fork failed
 * for want of resources (pfi_fork_temporary). */
#define WATCHER_NO_PROCESS 75

/* Whether our socket is still the one at the path. */
static int socket_still_ours(const struct pfi_watch *w)
{
	struct stat st;
	if (fstatat(WATCH_DIRFD, w->sock_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return st.st_dev == w->dev && st.st_ino == w->ino;
}

/* Messages written here reach the server's log (WATCHE). */
static void __attribute__((noreturn)) watch_fail(const char *what)
{
	dprintf(1, "%s: %s\n", what, strerror(errno));
	_exit(1);
}

/* Without inotify (its per-user limit of instances reached, 128 by
 * default, two per server) the socket is looked at this often instead:
 * failing would make the server quit after every call (a message on
 * WATCHE means quit), so that no call would ever be served warm. */
#define WATCH_POLL_MS 500

/* An inotify descriptor woken by changes in the run directory, or -1. */
static int watch_dir(void)
{
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		return -1;
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/self/fd/%d", WATCH_DIRFD);
	if (inotify_add_watch(ifd, dir, IN_DELETE | IN_MOVED_FROM |
			      IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF |
			      IN_MOVE_SELF | IN_ONLYDIR) < 0) {
		close(ifd);
		return -1;
	}
	return ifd;
}

static void __attribute__((noreturn)) watch_loop(const struct pfi_watch *w)
{
	int ifd = watch_dir();

	/* With the watch in place any later change wakes us (without it,
	 * the timeout); one that came before it is caught by this first
	 * check. */
	for (;;) {
		if (!socket_still_ours(w))
			_exit(0);
		struct pollfd fds[2] = { { .fd = 0, .events = POLLIN },
					 { .fd = ifd, .events = POLLIN } };
		if (poll(fds, ifd >= 0 ? 2 : 1,
			 ifd >= 0 ? -1 : WATCH_POLL_MS) < 0) {
			if (errno == EINTR)
				continue;
			watch_fail("poll");
		}
		if (fds[0].revents)
			_exit(0);          /* the server has gone */
		char events[4096];
		while (ifd >= 0 && read(ifd, events, sizeof events) > 0)
			;
	}
}

int pfi_watcher_start(const struct pfi_watch *w, struct problem *p)
{
	pid_t child = fork();
	if (child < 0)
		return pfi_fork_failed(p, errno, "the watcher");
	if (child == 0) {
		if (dup2(w->stdin_fd, 0) < 0 || dup2(w->out_fd, 1) < 0 ||
		    dup2(w->out_fd, 2) < 0 ||
		    dup2(w->rd->fd, WATCH_DIRFD) < 0)
			_exit(127);
		pfi_fd_close_range(WATCH_DIRFD + 1, ~0U);
		if (chdir("/") < 0)
			_exit(127);
		pid_t daemon = fork();
		if (daemon != 0)
			_exit(daemon >= 0 ? 0 : pfi_fork_temporary(errno)
				? WATCHER_NO_PROCESS : 127);
		setsid();
		/* The script names the server; nothing of the caller's
		 * command line (arguments may be secrets) stays visible. */
		char title[4096 + 64];
		snprintf(title, sizeof title, "prefork-interp: watcher for %s",
			 w->script);
		pfi_proctitle_set(title);
		watch_loop(w);
	}

	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return problem_errno(p, errno, "waiting for the watcher");
	if (WIFEXITED(status) && WEXITSTATUS(status) == WATCHER_NO_PROCESS)
		return pfi_fork_failed(p, EAGAIN, "the watcher");
	if (status != 0)
		return problem_fail(p, EIO, "could not start the socket "
				    "watcher (status 0x%x)", (unsigned)status);
	return 0;
}
