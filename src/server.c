#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "lockfile.h"
#include "lockholder.h"
#include "ours.h"
#include "preclean.h"
#include "protocol.h"
#include "spawn.h"
#include "wire.h"

/* Reads the raw greeting head (idle: checked while it does not come).
 * Returns 1 if a server answered, 0 if it hung up first (stale: it may
 * have quit to reload), -EXDEV if it declined the call (PFI_DECLINED:
 * it could make no process for it, and nothing of the call ran). */
static int read_head(int fd, const struct pfi_wire_idle *idle,
                     struct pfi_reached *out, struct problem *p)
{
	int r = pfi_wire_read(fd, out->head, sizeof out->head, &out->head_len,
			      1, idle, p);
	if (r < 0)
		return r;
	if (out->head_len == 0)
		return 0;
	if (pfi_greeting_head_declined(out->head, out->head_len))
		return problem_fail(p, EXDEV, "its server could make no "
				    "process for the call now (the server's "
				    "messages say why)");
	out->fd = fd;
	return 1;
}

/* The server being waited for answers only once its initialisation is
 * done (its socket is bound first): if the caller starting it (the
 * lock's holder) is stopped meanwhile, a standalone run would not wait,
 * so neither does this one (-ESRCH, p filled). */
struct starter {
	const struct pfi_rundir *rd;
	const char *lock;
	struct pfi_lockholder_watch holder;
};

static int starter_not_stopped(void *ctx, struct problem *p)
{
	struct starter *s = ctx;
	int lock_fd = openat(s->rd->fd, s->lock, O_PATH | O_NOFOLLOW |
			     O_CLOEXEC);
	if (lock_fd < 0)
		return 0;       /* no lock file: nobody is starting */
	pid_t stopped = pfi_lockholder_look(&s->holder, lock_fd);
	close(lock_fd);
	return stopped ? pfi_lockholder_give_up(stopped, s->rd->path, s->lock,
						p)
		       : 0;
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
	struct starter starter = { .rd = rd, .lock = names->lock };
	const struct pfi_wire_idle idle = {
		PFI_LOCKHOLDER_LOOK_MS, starter_not_stopped, &starter };
	int r = read_head(fd, &idle, out, p);
	/* A server silent once the caller has gone: nothing of the call
	 * has reached it, and a standalone run would run to its end (and
	 * meet the closed output itself), so the script runs directly. */
	if (r == -EPIPE)
		r = -EXDEV;
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
	int r = read_head(fd, NULL, out, p);
	if (r > 0)
		return 0;
	close(fd);
	/* Declined: by the new server, which stays, or by its setup,
	 * which could make no server (its socket then answers no one, and
	 * the next caller starts afresh). */
	if (r == -EXDEV)
		return r;
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
	/* No server was made (a declining setup's socket stays: see
	 * start_fresh). */
	if (r < 0 && r != -EXDEV)
		pfi_names_drop_lock(rd, names, lock);
	close(lock);
	return r;
}
