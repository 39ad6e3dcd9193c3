#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "names.h"

static int peer_cred(int fd, const char *what, struct ucred *cred,
                     struct problem *p)
{
	socklen_t len = sizeof *cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return problem_errno(p, errno, "cannot read the credentials "
				     "of %s", what);
	return 0;
}

int pfi_wire_check_peer(int fd, const char *what, struct problem *p)
{
	struct ucred cred;
	int r = peer_cred(fd, what, &cred, p);
	if (r < 0)
		return r;
	if (cred.uid != geteuid())
		return problem_fail(p, EPERM, "%s runs as uid %u, not as you "
				    "(uid %u); refusing to talk to it", what,
				    (unsigned)cred.uid, (unsigned)geteuid());
	return 0;
}

/* The groups of the process that made the socket at the other end
 * (for a server: its listening socket, made by the client that started
 * it, with the credentials the server runs with). */
static int peer_groups(int fd, gid_t **groups, size_t *n, struct problem *p)
{
	socklen_t len = 64 * sizeof(gid_t);
	for (;;) {
		gid_t *buf = malloc(len ? len : 1);
		if (!buf)
			return problem_errno(p, ENOMEM, "reading the server's "
					     "groups");
		socklen_t got = len;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &got) == 0) {
			*groups = buf;
			*n = got / sizeof(gid_t);
			return 0;
		}
		int err = errno;
		free(buf);
		/* ERANGE: got says how much is needed */
		if (err != ERANGE || got <= len)
			return problem_errno(p, err, "cannot read the groups "
					     "of the server");
		len = got;
	}
}

/* Whether two sorted supplementary-group lists grant the same access
 * for a process whose gid is `gid`: a listed group equal to the gid
 * adds nothing (Perl's $) = "G G", for one, lists it). */
static int same_groups(gid_t gid, const gid_t *a, size_t na, const gid_t *b,
                       size_t nb)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < na && a[i] == gid)
			i++;
		while (j < nb && b[j] == gid)
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		if (a[i++] != b[j++])
			return 0;
	}
}

int pfi_wire_check_peer_groups(int fd, const char *what, struct problem *p)
{
	struct ucred cred;
	gid_t *theirs = NULL, *ours = NULL;
	size_t n_theirs = 0;
	int r = peer_cred(fd, what, &cred, p);
	if (r == 0)
		r = peer_groups(fd, &theirs, &n_theirs, p);
	if (r < 0)
		return r;
	int n_ours = getgroups(0, NULL);
	if (n_ours >= 0 && (ours = calloc((size_t)n_ours + 1, sizeof *ours)))
		n_ours = getgroups(n_ours, ours);
	if (n_ours < 0 || !ours) {
		r = problem_errno(p, n_ours < 0 ? errno : ENOMEM,
				  "cannot read our groups");
	} else if (cred.gid != getegid() ||
		   !same_groups(cred.gid, ours, (size_t)n_ours, theirs,
				n_theirs)) {
		/* Both lists come sorted from the kernel's group_info. */
		r = problem_fail(p, EXDEV, "%s runs with other groups (gid %u "
				 "and %zu supplementary) than you (gid %u and "
				 "%d): it was started by a caller with other "
				 "credentials under the same -g name, which "
				 "such callers should not share", what,
				 (unsigned)cred.gid, n_theirs,
				 (unsigned)getegid(), n_ours);
	}
	free(ours);
	free(theirs);
	return r;
}

int pfi_wire_connect(const struct pfi_rundir *rd, const char *name,
                     struct problem *p)
{
	int r = pfi_names_socket_is_ours(rd, name, "refusing", p);
	if (r < 0)
		return r;

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (pfi_rundir_entry_path(rd, name, sa.sun_path,
				  sizeof sa.sun_path) < 0)
		return problem_fail(p, ENAMETOOLONG, "socket path too long");

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return problem_errno(p, errno, "cannot create a socket");
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno;
		if (err == EINTR)
			continue;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			return -err;
		return problem_errno(p, err, "cannot connect to '%s/%s'",
				     rd->path, name);
	}

	char what[64 + PATH_MAX];
	snprintf(what, sizeof what, "the server at '%s/%s'", rd->path, name);
	r = pfi_wire_check_peer(fd, what, p);
	if (r == 0)
		r = pfi_wire_check_peer_groups(fd, what, p);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Once the caller has gone, how long the server may still take to say
 * something.  A live server greets at once, so a call whose caller's
 * reader left before it started (`script | true`) still runs, as its
 * standalone run would, and meets the broken pipe itself; a server
 * that stays silent is given up on. */
#define CALLER_GONE_GRACE_MS 2000

int pfi_wire_read(int fd, uint8_t *buf, size_t len, size_t *got,
                  int watch_caller, const struct pfi_wire_idle *idle,
                  struct problem *p)
{
	size_t have = 0;
	int gone_ms = -1;       /* waited since the caller went, or -1 */
	while (have < len) {
		if (watch_caller || idle) {
			/* events 0: only errors and hang-ups are reported */
			struct pollfd fds[3] = { { .fd = fd, .events = POLLIN },
						 { .fd = 1 }, { .fd = 2 } };
			int watching = watch_caller && gone_ms < 0;
			int wait = idle ? idle->every_ms : -1;
			if (gone_ms >= 0 &&
			    (wait < 0 || wait > CALLER_GONE_GRACE_MS - gone_ms))
				wait = CALLER_GONE_GRACE_MS - gone_ms;
			int n = poll(fds, watching ? 3 : 1, wait);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return problem_errno(p, errno, "poll");
			if (n == 0) {
				if (gone_ms >= 0 &&
				    (gone_ms += wait) >= CALLER_GONE_GRACE_MS)
					return problem_fail(p, EPIPE, "the "
						"server did not answer within "
						"%d s after the caller's output "
						"was closed",
						CALLER_GONE_GRACE_MS / 1000);
				int r = idle ? idle->check(idle->ctx, p) : 0;
				if (r < 0)
					return r;
				continue;
			}
			int gone = watching &&
				   ((fds[1].revents | fds[2].revents) &
				    (POLLERR | POLLHUP));
			if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    gone) {
				gone_ms = 0;
				continue;
			}
		}
		ssize_t n = read(fd, buf + have, len - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET)
			break;
		if (n < 0)
			return problem_errno(p, errno,
					     "reading from the server");
		if (n == 0)
			break;
		have += (size_t)n;
	}
	*got = have;
	return 0;
}

int pfi_wire_write_all(int fd, const void *buf, size_t len,
                       struct problem *p)
{
	const uint8_t *b = buf;
	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return problem_errno(p, errno, "writing to the server");
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t pfi_wire_sendmsg_fd(int via, int payload)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof control.buf,
	};
	memset(&control, 0, sizeof control);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &payload, sizeof payload);
	return sendmsg(via, &msg, MSG_NOSIGNAL);
}

/* ETOOMANYREFS: the user's fds in flight on unix sockets (sent, not yet
 * received, by any of its processes) exceed the sender's limit on open
 * files.  Other calls' executors receiving theirs bring the count down,
 * so the send is tried again, waiting 1, 2, 4 ... 100 ms between tries,
 * for PFI_WIRE_INFLIGHT_WAIT_MS at most. */
ssize_t pfi_wire_sendmsg_fd_waiting(int via, int payload)
{
	int waited = 0, pause = 1;
	for (;;) {
		ssize_t n = pfi_wire_sendmsg_fd(via, payload);
		if (n >= 0 || errno != ETOOMANYREFS ||
		    waited >= PFI_WIRE_INFLIGHT_WAIT_MS)
			return n;
		poll(NULL, 0, pause);
		waited += pause;
		pause = pause * 2 > 100 ? 100 : pause * 2;
	}
}

int pfi_wire_send_fd(int via, int payload, struct problem *p)
{
	for (;;) {
		ssize_t n = pfi_wire_sendmsg_fd_waiting(via, payload);
		if (n == 1)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ETOOMANYREFS)
			return problem_errno(p, errno, "passing fd %d to the "
				"server, after waiting %d s for the user's fds "
				"in flight on unix sockets to drop below its "
				"limit on open files", payload,
				PFI_WIRE_INFLIGHT_WAIT_MS / 1000);
		return problem_errno(p, n < 0 ? errno : EIO,
				     "passing fd %d to the server", payload);
	}
}

int pfi_wire_send_stdio(int fd, struct problem *p)
{
	int r;
	for (int i = 0; i < 3; i++)
		if ((r = pfi_wire_send_fd(fd, i, p)) < 0)
			return r;
	return 0;
}
