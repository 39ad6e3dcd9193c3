#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "lockfile.h"
#include "lockholder.h"
#include "ours.h"
#include "preclean.h"
#include "spawn.h"
#include "wire.h"

/* Reads the raw greeting head.  Returns 1 if a server answered, 0 if
 * it hung up first (stale: it may have quit to reload). */
static int read_head(int fd, struct pfi_reached *out, struct problem *p)
{
	int r = pfi_wire_read(fd, out->head, sizeof out->head, &out->head_len,
			      1, p);
	if (r < 0)
		return r;
	if (out->head_len == 0)
		return 0;
	out->fd = fd;
	return 1;
}

/* Waits until the server's first bytes (or its hang-up, or the caller's)
 * can be read.  The socket is bound before the script's initialisation
 * runs, and answers only once it is done: if the caller starting it
 * (the lock's holder) is stopped meanwhile, a standalone run would not
 * wait, so neither does this one (-ESRCH, p filled). */
static int await_greeting(int fd, const struct pfi_rundir *rd,
                          const char *lock, struct problem *p)
{
	struct pfi_lockholder_watch holder = { 0 };
	/* events 0: only errors and hang-ups are reported */
	struct pollfd fds[3] = { { .fd = fd, .events = POLLIN },
				 { .fd = 1 }, { .fd = 2 } };
	for (;;) {
		int n = poll(fds, 3, PFI_LOCKHOLDER_LOOK_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fds[0].revents ||
		    ((fds[1].revents | fds[2].revents) & (POLLERR | POLLHUP)))
			return 0;       /* read_head() meets what came */
		if (n > 0) {
			/* only POLLNVAL: a closed fd 1 or 2 has nothing to
			 * report (main() fills them, but never spin on it) */
			for (int i = 1; i < 3; i++)
				if (fds[i].revents & POLLNVAL)
					fds[i].fd = -1;
			continue;
		}
		int lock_fd = openat(rd->fd, lock, O_PATH | O_NOFOLLOW |
				     O_CLOEXEC);
		if (lock_fd < 0)
			continue;       /* no lock file: nobody is starting */
		pid_t stopped = pfi_lockholder_look(&holder, lock_fd);
		close(lock_fd);
		if (stopped)
			return pfi_lockholder_give_up(stopped, rd->path, lock,
						      p);
	}
}

/* Returns 1 with *out filled if a live server answered, else 0. */
static int try_existing(const struct pfi_rundir *rd,
                        const struct pfi_names *names,
                        struct pfi_reached *out, struct problem *p)
{
	int fd = pfi_wire_connect(rd, names->sock, p);
	if (fd == -ENOENT || fd == -ECONNREFUSED)
		return 0;
	if (fd < 0)
		return fd;
	int r = await_greeting(fd, rd, names->lock, p);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = read_head(fd, out, p);
	if (r <= 0)
		close(fd);
	else
		pfi_ours_touch(rd, names->sock);
	return r;
}

static int start_fresh(const struct pfi_options *o, const struct pfi_rundir *rd,
                       const struct pfi_names *names, struct pfi_reached *out,
                       int *setup_status, struct problem *p)
{
	int fd = pfi_spawn_server(o, rd, names, setup_status, p);
	if (fd < 0)
		return fd;
	int r = read_head(fd, out, p);
	if (r > 0)
		return 0;
	close(fd);
	struct problem ignored;
	pfi_names_remove_socket(rd, names, &ignored);
	if (r == 0)
		r = problem_fail(p, EPROTO, "'%s' finished its setup without "
				 "starting a server: does it call "
				 "prefork_initialisation_complete()?",
				 o->script);
	return r;
}

int pfi_server_reach(const struct pfi_options *o, const struct pfi_rundir *rd,
                     const struct pfi_names *names, struct pfi_reached *out,
                     int *setup_status, struct problem *p)
{
	int r;
	out->fd = -1;
	*setup_status = 0;
	if (o->mode == PFI_MODE_NORMAL &&
	    (r = try_existing(rd, names, out, p)) != 0)
		return r == -ESRCH ? -EXDEV : r < 0 ? r : 0;

	if ((r = pfi_preclean(rd, names->sock + 1 /* the ident */, p)) < 0)
		return r;
	int lock = pfi_lock_take(rd, names->lock, PFI_LOCK_UNLESS_STOPPED, p);
	/* The caller starting the server is stopped (Ctrl-Z during the
	 * script's initialisation): the script is to run directly. */
	if (lock == -ESRCH)
		return -EXDEV;
	if (lock < 0)
		return lock;
	/* Someone may have started a server while we waited for the lock. */
	r = 0;
	if (o->mode == PFI_MODE_NORMAL)
		r = try_existing(rd, names, out, p);
	if (r == 0)
		r = start_fresh(o, rd, names, out, setup_status, p);
	else if (r > 0)
		r = 0;
	close(lock);
	return r;
}
