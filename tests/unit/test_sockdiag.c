/* Unit tests for src/sockdiag.c: parsing the kernel's sock_diag answer
 * (built here byte by byte, as the kernel lays it out), comparing a
 * listener's file with stat()'s device and inode, and, against a real
 * listening socket, the whole question. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "sockdiag.h"

#define SEQ 1
#define LISTEN 10   /* TCP_LISTEN */

/* A reply being built: netlink messages one after the other. */
struct reply {
	unsigned char buf[4096];
	size_t len;
	size_t msg;   /* where the message being built starts */
};

static void put(struct reply *r, const void *data, size_t n)
{
	assert_true(r->len + n <= sizeof r->buf);
	memcpy(r->buf + r->len, data, n);
	r->len += n;
}

static void pad(struct reply *r, size_t align)
{
	static const unsigned char zeros[8];
	put(r, zeros, (align - r->len % align) % align);
}

static void begin(struct reply *r, uint16_t type, uint32_t seq)
{
	struct nlmsghdr nh = { .nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI,
			       .nlmsg_seq = seq };
	r->msg = r->len;
	put(r, &nh, sizeof nh);
}

/* Sets the open message's length to what was put since begin(). */
static void end(struct reply *r)
{
	struct nlmsghdr nh;
	memcpy(&nh, r->buf + r->msg, sizeof nh);
	nh.nlmsg_len = (uint32_t)(r->len - r->msg);
	memcpy(r->buf + r->msg, &nh, sizeof nh);
	pad(r, NLMSG_ALIGNTO);
}

static void attr(struct reply *r, uint16_t type, const void *data, size_t n)
{
	struct rtattr rta = { .rta_len = (unsigned short)RTA_LENGTH(n),
			      .rta_type = type };
	put(r, &rta, sizeof rta);
	put(r, data, n);
	pad(r, RTA_ALIGNTO);
}

/* One socket: its inode and state; a file (dev, ino) if dev or ino is
 * not 0; a name if name is not NULL (name_len bytes). */
static void sock(struct reply *r, uint32_t ino, uint8_t state, uint32_t dev,
                 uint32_t file_ino, const char *name, size_t name_len)
{
	struct unix_diag_msg m = { .udiag_family = AF_UNIX,
				   .udiag_type = SOCK_STREAM,
				   .udiag_state = state, .udiag_ino = ino };
	begin(r, SOCK_DIAG_BY_FAMILY, SEQ);
	put(r, &m, sizeof m);
	if (name)
		attr(r, UNIX_DIAG_NAME, name, name_len);
	if (dev || file_ino) {
		struct unix_diag_vfs v = { .udiag_vfs_ino = file_ino,
					   .udiag_vfs_dev = dev };
		attr(r, UNIX_DIAG_VFS, &v, sizeof v);
	}
	end(r);
}

static void done(struct reply *r, int error)
{
	begin(r, NLMSG_DONE, SEQ);
	put(r, &error, sizeof error);
	end(r);
}

struct seen {
	size_t n;
	struct pfi_sockdiag_listener l[8];
	char names[8][128];
};

static void collect(const struct pfi_sockdiag_listener *l, void *arg)
{
	struct seen *s = arg;
	assert_true(s->n < 8);
	s->l[s->n] = *l;
	assert_true(l->name_len < sizeof s->names[0]);
	if (l->name)
		memcpy(s->names[s->n], l->name, l->name_len);
	s->l[s->n].name = s->names[s->n];
	s->n++;
}

static int parse(const struct reply *r, struct seen *s)
{
	memset(s, 0, sizeof *s);
	return pfi_sockdiag_parse(r->buf, r->len, SEQ, collect, s);
}

/* The kernel's dev_t: 12 bits of major above 20 of minor. */
static uint32_t kdev(unsigned maj, unsigned min) { return maj << 20 | min; }

#define PATH "/proc/self/fd/8/sabc"   /* how our sockets are bound */

static void listeners_with_files_are_reported(void **state)
{
	(void)state;
	struct reply r = { 0 };
	struct seen s;
	sock(&r, 1001, LISTEN, kdev(254, 0), 4242, PATH, sizeof PATH);
	sock(&r, 1002, LISTEN, kdev(0, 33), 77, "/run/x", 7);
	done(&r, 0);
	assert_int_equal(parse(&r, &s), 1);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.l[0].sock_ino, 1001);
	assert_int_equal(s.l[0].file_dev, kdev(254, 0));
	assert_int_equal(s.l[0].file_ino, 4242);
	/* the path's terminating NUL, which the kernel sends, is not part
	 * of the name */
	assert_int_equal(s.l[0].name_len, strlen(PATH));
	assert_memory_equal(s.l[0].name, PATH, strlen(PATH));
	assert_int_equal(s.l[1].sock_ino, 1002);
	assert_int_equal(s.l[1].name_len, 6);
}

static void unbound_and_not_listening_are_not(void **state)
{
	(void)state;
	struct reply r = { 0 };
	struct seen s;
	sock(&r, 1, LISTEN, 0, 0, "\0abstract", 9);   /* no file */
	sock(&r, 2, LISTEN, 0, 0, NULL, 0);            /* no name at all */
	sock(&r, 3, 7 /* TCP_CLOSE */, kdev(8, 1), 5, PATH, sizeof PATH);
	sock(&r, 4, LISTEN, kdev(8, 1), 6, NULL, 0);   /* a file, no name */
	done(&r, 0);
	assert_int_equal(parse(&r, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.l[0].sock_ino, 4);
	assert_int_equal(s.l[0].name_len, 0);
}

static void a_datagram_without_done_asks_for_more(void **state)
{
	(void)state;
	struct reply r = { 0 };
	struct seen s;
	sock(&r, 1, LISTEN, kdev(8, 1), 5, PATH, sizeof PATH);
	assert_int_equal(parse(&r, &s), 0);
	assert_int_equal(s.n, 1);
	struct reply empty = { 0 };
	assert_int_equal(parse(&empty, &s), 0);
}

static void another_requests_messages_are_skipped(void **state)
{
	(void)state;
	struct reply r = { 0 };
	struct seen s;
	struct unix_diag_msg m = { .udiag_family = AF_UNIX,
				   .udiag_state = LISTEN, .udiag_ino = 9 };
	struct unix_diag_vfs v = { 5, kdev(8, 1) };
	begin(&r, SOCK_DIAG_BY_FAMILY, SEQ + 1);
	put(&r, &m, sizeof m);
	attr(&r, UNIX_DIAG_VFS, &v, sizeof v);
	end(&r);
	begin(&r, NLMSG_DONE, SEQ + 1);   /* not our end either */
	end(&r);
	sock(&r, 1, LISTEN, kdev(8, 1), 5, PATH, sizeof PATH);
	done(&r, 0);
	assert_int_equal(parse(&r, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.l[0].sock_ino, 1);
}

static void the_kernels_errors_are_returned(void **state)
{
	(void)state;
	struct reply r = { 0 };
	struct seen s;
	struct nlmsgerr e = { .error = -EPERM };
	begin(&r, NLMSG_ERROR, SEQ);
	put(&r, &e, sizeof e);
	end(&r);
	assert_int_equal(parse(&r, &s), -EPERM);

	struct reply ack = { 0 };           /* an acknowledgement: no dump */
	struct nlmsgerr zero = { .error = 0 };
	begin(&ack, NLMSG_ERROR, SEQ);
	put(&ack, &zero, sizeof zero);
	end(&ack);
	assert_int_equal(parse(&ack, &s), -EPROTO);

	struct reply failed = { 0 };        /* a dump that failed midway */
	sock(&failed, 1, LISTEN, kdev(8, 1), 5, PATH, sizeof PATH);
	done(&failed, -ENOBUFS);
	assert_int_equal(parse(&failed, &s), -ENOBUFS);
}

static void malformed_replies_are_refused(void **state)
{
	(void)state;
	struct seen s;
	struct reply good = { 0 };
	sock(&good, 1, LISTEN, kdev(8, 1), 5, PATH, sizeof PATH);
	done(&good, 0);

	/* cut anywhere inside the first message */
	for (size_t cut = 1; cut < good.len - NLMSG_LENGTH(sizeof(int)); cut++) {
		memset(&s, 0, sizeof s);
		int r = pfi_sockdiag_parse(good.buf, cut, SEQ, collect, &s);
		assert_true(r == -EPROTO);
		assert_int_equal(s.n, 0);
	}

	/* a header claiming less than itself */
	struct reply r = good;
	struct nlmsghdr nh;
	memcpy(&nh, r.buf, sizeof nh);
	nh.nlmsg_len = sizeof nh - 1;
	memcpy(r.buf, &nh, sizeof nh);
	assert_int_equal(parse(&r, &s), -EPROTO);

	/* a body shorter than unix_diag_msg */
	struct reply short_body = { 0 };
	begin(&short_body, SOCK_DIAG_BY_FAMILY, SEQ);
	put(&short_body, "abc", 3);
	end(&short_body);
	assert_int_equal(parse(&short_body, &s), -EPROTO);

	/* an attribute running past its message */
	struct reply long_attr = { 0 };
	struct unix_diag_msg m = { .udiag_family = AF_UNIX,
				   .udiag_state = LISTEN, .udiag_ino = 1 };
	struct rtattr rta = { .rta_len = 200, .rta_type = UNIX_DIAG_VFS };
	begin(&long_attr, SOCK_DIAG_BY_FAMILY, SEQ);
	put(&long_attr, &m, sizeof m);
	put(&long_attr, &rta, sizeof rta);
	put(&long_attr, "12345678", 8);
	end(&long_attr);
	assert_int_equal(parse(&long_attr, &s), -EPROTO);

	/* an attribute shorter than its own header */
	struct reply tiny_attr = { 0 };
	struct rtattr tiny = { .rta_len = 2, .rta_type = UNIX_DIAG_NAME };
	begin(&tiny_attr, SOCK_DIAG_BY_FAMILY, SEQ);
	put(&tiny_attr, &m, sizeof m);
	put(&tiny_attr, &tiny, sizeof tiny);
	end(&tiny_attr);
	assert_int_equal(parse(&tiny_attr, &s), -EPROTO);

	/* a VFS attribute too short for a device and inode */
	struct reply short_vfs = { 0 };
	begin(&short_vfs, SOCK_DIAG_BY_FAMILY, SEQ);
	put(&short_vfs, &m, sizeof m);
	attr(&short_vfs, UNIX_DIAG_VFS, "1234", 4);
	end(&short_vfs);
	assert_int_equal(parse(&short_vfs, &s), -EPROTO);

	/* a message of a type a dump does not send */
	struct reply odd = { 0 };
	begin(&odd, RTM_NEWLINK, SEQ);
	put(&odd, &m, sizeof m);
	end(&odd);
	assert_int_equal(parse(&odd, &s), -EPROTO);
}

static void same_file_by_device_and_low_inode_bits(void **state)
{
	(void)state;
	struct pfi_sockdiag_listener l = { .file_dev = kdev(254, 3),
					   .file_ino = 0x89abcdef };
	assert_true(pfi_sockdiag_same_file(&l, makedev(254, 3), 0x89abcdef));
	/* the kernel sends 32 bits of a 64-bit inode */
	assert_true(pfi_sockdiag_same_file(&l, makedev(254, 3),
					   (ino_t)0x100000000ull + 0x89abcdef));
	assert_false(pfi_sockdiag_same_file(&l, makedev(254, 3), 0x89abcdee));
	assert_false(pfi_sockdiag_same_file(&l, makedev(254, 4), 0x89abcdef));
	assert_false(pfi_sockdiag_same_file(&l, makedev(253, 3), 0x89abcdef));
	/* the kernel's number is not a dev_t: compared as one it would
	 * name another device */
	assert_false(pfi_sockdiag_same_file(&l, (dev_t)l.file_dev, 0x89abcdef));
	struct pfi_sockdiag_listener big = { .file_dev = kdev(259, 0x12345),
					     .file_ino = 7 };
	assert_true(pfi_sockdiag_same_file(&big, makedev(259, 0x12345), 7));
}

struct want {
	struct stat file;
	struct stat sock;
	int found, found_other;
};

static void find_real(const struct pfi_sockdiag_listener *l, void *arg)
{
	struct want *w = arg;
	if (!pfi_sockdiag_same_file(l, w->file.st_dev, w->file.st_ino))
		return;
	if (l->sock_ino == (uint32_t)w->sock.st_ino)
		w->found++;
	else
		w->found_other++;
}

/* A real listening socket in a fresh directory: the kernel's answer
 * names its file and its socket inode. */
static void a_real_listener_is_found(void **state)
{
	(void)state;
	char dir[] = "/tmp/pfi-sockdiag-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s/s", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 1), 0);

	struct want w = { 0 };
	struct problem p = { 0 };
	assert_int_equal(stat(a.sun_path, &w.file), 0);
	assert_int_equal(fstat(fd, &w.sock), 0);
	int r = pfi_sockdiag_listeners(find_real, &w, &p);
	close(fd);
	unlink(a.sun_path);
	rmdir(dir);
	if (r == -EPERM || r == -EACCES || r == -EPROTONOSUPPORT ||
	    r == -ENOENT || r == -EAFNOSUPPORT) {
		printf("# sock_diag unavailable here (%s): skipped\n", p.msg);
		skip();
	}
	assert_int_equal(r, 0);
	assert_int_equal(w.found, 1);
	assert_int_equal(w.found_other, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listeners_with_files_are_reported),
		cmocka_unit_test(unbound_and_not_listening_are_not),
		cmocka_unit_test(a_datagram_without_done_asks_for_more),
		cmocka_unit_test(another_requests_messages_are_skipped),
		cmocka_unit_test(the_kernels_errors_are_returned),
		cmocka_unit_test(malformed_replies_are_refused),
		cmocka_unit_test(same_file_by_device_and_low_inode_bits),
		cmocka_unit_test(a_real_listener_is_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
