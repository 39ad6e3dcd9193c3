#include "server.h"

#include <errno.h>
#include <unistd.h>

#include "lockfile.h"
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

/* Returns 1 with *out filled if a live server answered, else 0. */
static int try_existing(const struct pfi_rundir *rd, const char *sock,
                        struct pfi_reached *out, struct problem *p)
{
	int fd = pfi_wire_connect(rd, sock, p);
	if (fd == -ENOENT || fd == -ECONNREFUSED)
		return 0;
	if (fd < 0)
		return fd;
	int r = read_head(fd, out, p);
	if (r <= 0)
		close(fd);
	else
		pfi_ours_touch(rd, sock);
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
	    (r = try_existing(rd, names->sock, out, p)) != 0)
		return r < 0 ? r : 0;

	if ((r = pfi_preclean(rd, names->sock + 1 /* the ident */, p)) < 0)
		return r;
	int lock = pfi_lock_take(rd, names->lock, 0, p);
	if (lock < 0)
		return lock;
	/* Someone may have started a server while we waited for the lock. */
	r = 0;
	if (o->mode == PFI_MODE_NORMAL)
		r = try_existing(rd, names->sock, out, p);
	if (r == 0)
		r = start_fresh(o, rd, names, out, setup_status, p);
	else if (r > 0)
		r = 0;
	close(lock);
	return r;
}
