#include "sockdiag.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* TCP_LISTEN, the state a listening unix socket reports. */
#define LISTEN_STATE 10

/* The attributes after a unix_diag_msg: fills l's file and name if
 * present.  Returns 1 if the socket is bound to a file, 0 if not,
 * -EPROTO if an attribute runs past the message. */
static int read_attributes(const unsigned char *at, size_t len,
                           struct pfi_sockdiag_listener *l)
{
	int bound = 0;
	while (len > 0) {
		struct rtattr rta;
		if (len < sizeof rta)
			return -EPROTO;
		memcpy(&rta, at, sizeof rta);
		if (rta.rta_len < sizeof rta || rta.rta_len > len)
			return -EPROTO;
		const unsigned char *data = at + RTA_LENGTH(0);
		size_t data_len = rta.rta_len - RTA_LENGTH(0);
		if (rta.rta_type == UNIX_DIAG_VFS) {
			struct unix_diag_vfs vfs;
			if (data_len < sizeof vfs)
				return -EPROTO;
			memcpy(&vfs, data, sizeof vfs);
			l->file_dev = vfs.udiag_vfs_dev;
			l->file_ino = vfs.udiag_vfs_ino;
			bound = 1;
		} else if (rta.rta_type == UNIX_DIAG_NAME) {
			/* A path comes with its terminating NUL (an
			 * abstract name starts with one instead). */
			l->name = (const char *)data;
			l->name_len = data_len;
			if (data_len > 0 && data[0] != '\0')
				l->name_len = strnlen(l->name, data_len);
		}
		size_t step = RTA_ALIGN(rta.rta_len);
		if (step >= len)
			break;
		at += step;
		len -= step;
	}
	return bound;
}

int pfi_sockdiag_parse(const void *buf, size_t len, uint32_t seq,
                       pfi_sockdiag_fn fn, void *arg)
{
	const unsigned char *at = buf;
	while (len > 0) {
		struct nlmsghdr nh;
		if (len < sizeof nh)
			return -EPROTO;
		memcpy(&nh, at, sizeof nh);
		if (nh.nlmsg_len < sizeof nh || nh.nlmsg_len > len)
			return -EPROTO;
		const unsigned char *body = at + NLMSG_HDRLEN;
		size_t body_len = nh.nlmsg_len - NLMSG_HDRLEN;

		/* A message of another request (none is expected: the
		 * socket is ours alone) is not this dump's. */
		if (nh.nlmsg_seq != seq) {
			/* skipped */
		} else if (nh.nlmsg_type == NLMSG_DONE) {
			/* It carries the dump's own error, if it failed. */
			int done = 0;
			if (body_len >= sizeof done)
				memcpy(&done, body, sizeof done);
			return done < 0 && done > -4096 ? done : 1;
		} else if (nh.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr err;
			if (body_len < sizeof err.error)
				return -EPROTO;
			memcpy(&err.error, body, sizeof err.error);
			/* An acknowledgement (0) is no answer to a dump. */
			return err.error < 0 && err.error > -4096 ? err.error
								  : -EPROTO;
		} else if (nh.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			struct unix_diag_msg msg;
			struct pfi_sockdiag_listener l = { 0 };
			if (body_len < sizeof msg)
				return -EPROTO;
			memcpy(&msg, body, sizeof msg);
			int bound = read_attributes(body + NLMSG_ALIGN(sizeof msg),
						    body_len > NLMSG_ALIGN(sizeof msg)
						    ? body_len - NLMSG_ALIGN(sizeof msg)
						    : 0, &l);
			if (bound < 0)
				return bound;
			l.sock_ino = msg.udiag_ino;
			if (bound && msg.udiag_family == AF_UNIX &&
			    msg.udiag_state == LISTEN_STATE)
				fn(&l, arg);
		} else {
			return -EPROTO;
		}
		size_t step = NLMSG_ALIGN(nh.nlmsg_len);
		if (step >= len)
			break;
		at += step;
		len -= step;
	}
	return 0;
}

int pfi_sockdiag_same_file(const struct pfi_sockdiag_listener *l, dev_t dev,
                           ino_t ino)
{
	return l->file_ino == (uint32_t)ino &&
	       l->file_dev >> 20 == major(dev) &&
	       (l->file_dev & 0xfffff) == minor(dev);
}

/* Enough for the largest datagram the kernel sends in a dump (it fills
 * up to 32 KiB); a larger one would arrive cut (MSG_TRUNC): refused. */
#define DUMP_BUF (64 * 1024)

static int dump(int fd, pfi_sockdiag_fn fn, void *arg, struct problem *p)
{
	static const uint32_t seq = 1;
	struct {
		struct nlmsghdr nh;
		struct unix_diag_req req;
	} ask = {
		.nh = { .nlmsg_len = sizeof ask,
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = seq },
		.req = { .sdiag_family = AF_UNIX,
			 .udiag_states = 1u << LISTEN_STATE,
			 .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (sendto(fd, &ask, sizeof ask, 0, (struct sockaddr *)&kernel,
		   sizeof kernel) < 0)
		return problem_errno(p, errno, "cannot ask the kernel for the "
				     "listening sockets (sock_diag)");

	unsigned char *buf = malloc(DUMP_BUF);
	if (!buf)
		return problem_errno(p, ENOMEM, "listing sockets");
	int r = 0;
	while (r == 0) {
		struct sockaddr_nl from;
		struct iovec iov = { buf, DUMP_BUF };
		struct msghdr mh = { .msg_name = &from,
				     .msg_namelen = sizeof from,
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = problem_errno(p, errno, "reading the kernel's list "
					  "of listening sockets (sock_diag)");
			break;
		}
		/* Only the kernel (port 0) answers; a whole datagram only. */
		if (mh.msg_namelen < sizeof from || from.nl_pid != 0)
			continue;
		if (mh.msg_flags & MSG_TRUNC) {
			r = problem_fail(p, EMSGSIZE, "the kernel's list of "
					 "listening sockets came cut short");
			break;
		}
		r = pfi_sockdiag_parse(buf, (size_t)n, seq, fn, arg);
		if (r == 0 && n == 0)
			r = problem_fail(p, EPROTO, "the kernel's list of "
					 "listening sockets ended early");
		else if (r < 0)
			r = problem_errno(p, -r, "the kernel's list of listening "
					  "sockets (sock_diag)");
	}
	free(buf);
	return r < 0 ? r : 0;
}

int pfi_sockdiag_listeners(pfi_sockdiag_fn fn, void *arg, struct problem *p)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return problem_errno(p, errno, "cannot ask the kernel which "
				     "socket listens where (sock_diag)");
	int r = dump(fd, fn, arg, p);
	close(fd);
	return r;
}
