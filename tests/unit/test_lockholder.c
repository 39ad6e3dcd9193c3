/* Unit tests for src/lockholder.c: finding who holds a flock() lock in
 * /proc/locks text, reading a process's state, and, against a real
 * lock held by a real stopped child, the two together. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lockholder.h"

/* A file known by one device (both entries the same), as on most
 * filesystems. */
static pid_t find(const char *text, unsigned maj, unsigned min,
                  unsigned long ino)
{
	struct pfi_lockholder_file f = {
		{ makedev(maj, min), makedev(maj, min) }, ino };
	return pfi_lockholder_find(text, strlen(text), &f);
}

static void holder_found_by_device_and_inode(void **state)
{
	const char *locks =
		"1: POSIX  ADVISORY  WRITE 111 fe:00:42 0 EOF\n"
		"2: FLOCK  ADVISORY  WRITE 222 fe:01:42 0 EOF\n"
		"3: FLOCK  ADVISORY  WRITE 333 fe:00:4242 0 EOF\n"
		"4: FLOCK  ADVISORY  WRITE 444 fe:00:42 0 EOF\n";
	assert_int_equal(find(locks, 0xfe, 0, 42), 444);
	assert_int_equal(find(locks, 0xfe, 1, 42), 222);
	assert_int_equal(find(locks, 0xfe, 0, 4242), 333);
	/* a POSIX (fcntl) lock on the inode is not ours */
	assert_int_equal(find("1: POSIX  ADVISORY  WRITE 111 fe:00:42 0 EOF\n",
			      0xfe, 0, 42), 0);
	assert_int_equal(find(locks, 0xfe, 0, 43), 0);
	/* major and minor are hex, the inode decimal */
	assert_int_equal(find("7: FLOCK  ADVISORY  WRITE 5 103:0a:99 0 EOF",
			      0x103, 0x0a, 99), 5);
}

static void waiters_and_invisible_pids_are_not_holders(void **state)
{
	/* a process blocked in flock() shows "->"; the holder follows */
	const char *locks =
		"1: -> FLOCK  ADVISORY  WRITE 900 fe:00:42 0 EOF\n"
		"1: FLOCK  ADVISORY  WRITE 901 fe:00:42 0 EOF\n";
	assert_int_equal(find(locks, 0xfe, 0, 42), 901);
	assert_int_equal(find("1: -> FLOCK  ADVISORY  WRITE 900 fe:00:42 0 "
			      "EOF\n", 0xfe, 0, 42), 0);
	/* a holder in another pid namespace is shown as 0 (or -1) */
	assert_int_equal(find("1: FLOCK  ADVISORY  WRITE 0 fe:00:42 0 EOF\n",
			      0xfe, 0, 42), 0);
	assert_int_equal(find("1: FLOCK  ADVISORY  WRITE -1 fe:00:42 0 EOF\n",
			      0xfe, 0, 42), 0);
	/* malformed, cut and empty text */
	assert_int_equal(find("1: FLOCK  ADVISORY  WRITE x fe:00:42", 0xfe, 0,
			      42), 0);
	assert_int_equal(find("1: FLOCK  ADVISORY  WRITE 5 fe:00", 0xfe, 0,
			      42), 0);
	assert_int_equal(find("", 0xfe, 0, 42), 0);
	/* the length bounds the text: nothing past it is read */
	const char *cut = "1: FLOCK  ADVISORY  WRITE 77 fe:00:42 0 EOF\n";
	struct pfi_lockholder_file f = { { makedev(0xfe, 0), makedev(0xfe, 0) },
					 42 };
	assert_int_equal(pfi_lockholder_find(cut, 30, &f), 0);
	assert_int_equal(pfi_lockholder_find(cut, strlen(cut), &f), 77);
}

/* On btrfs, stat() gives a device per subvolume while /proc/locks names
 * the filesystem's: either of the file's two devices matches. */
static void either_device_matches(void **state)
{
	const char *locks = "1: FLOCK  ADVISORY  WRITE 555 00:27:257 0 EOF\n";
	struct pfi_lockholder_file f = { { makedev(0, 0x27), makedev(0, 0x28) },
					 257 };
	assert_int_equal(pfi_lockholder_find(locks, strlen(locks), &f), 555);
	f.dev[0] = makedev(0, 0x29);
	assert_int_equal(pfi_lockholder_find(locks, strlen(locks), &f), 0);
	f.dev[1] = makedev(0, 0x27);
	assert_int_equal(pfi_lockholder_find(locks, strlen(locks), &f), 555);
}

static void mount_device_by_id(void **state)
{
	const char *info =
		"21 26 0:20 / /proc rw,relatime - proc proc rw\n"
		"26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
		"261 26 0:39 / /home rw - btrfs /dev/vdb rw,subvol=/home\n";
	dev_t dev = 0;
	assert_int_equal(pfi_lockholder_mount_dev(info, strlen(info), 261, &dev), 1);
	assert_int_equal(major(dev), 0);
	assert_int_equal(minor(dev), 39);
	assert_int_equal(pfi_lockholder_mount_dev(info, strlen(info), 26, &dev), 1);
	assert_int_equal(major(dev), 254);
	assert_int_equal(minor(dev), 0);
	/* an id that is only a parent, or absent, or a prefix of one */
	dev = 7;
	assert_int_equal(pfi_lockholder_mount_dev(info, strlen(info), 1, &dev), 0);
	assert_int_equal(pfi_lockholder_mount_dev(info, strlen(info), 2, &dev), 0);
	assert_int_equal(pfi_lockholder_mount_dev("", 0, 26, &dev), 0);
	assert_int_equal(pfi_lockholder_mount_dev("26 1 x", 6, 26, &dev), 0);
	assert_int_equal(dev, 7);
}

static char state(const char *text)
{
	return pfi_lockholder_state(text, strlen(text));
}

static void state_follows_the_last_parenthesis(void **state_)
{
	assert_int_equal(state("12 (perl) T 1 12 12 0"), 'T');
	assert_int_equal(state("12 (a) b) S 1 12"), 'S');
	assert_int_equal(state("12 (x (T) y) R 1"), 'R');
	assert_int_equal(state("12 (perl)"), 0);
	assert_int_equal(state("12 (perl) "), 0);
	assert_int_equal(state("12 perl T"), 0);
	assert_int_equal(state(""), 0);
}

/* A child takes a lock and stops itself: the holder is found and seen
 * stopped; once continued, it is not. */
static void a_stopped_holder_is_seen(void **state_)
{
	char path[] = "/tmp/pfi-lockholder-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	int ready[2];
	assert_int_equal(pipe(ready), 0);

	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int own = open(path, O_RDWR);
		if (own < 0 || flock(own, LOCK_EX) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	struct pfi_lockholder_file f;
	assert_int_equal(pfi_lockholder_file_of(fd, &f), 0);
	assert_true(f.ino == st.st_ino);
	assert_true(f.dev[1] == st.st_dev);
	assert_int_equal(pfi_lockholder_stopped(&f), 0);

	assert_int_equal(kill(child, SIGSTOP), 0);
	int status;
	assert_int_equal(waitpid(child, &status, WUNTRACED), child);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(pfi_lockholder_stopped(&f), child);

	/* a watch gives up on the second look in a row that finds it so */
	struct pfi_lockholder_watch w = { 0 };
	assert_int_equal(pfi_lockholder_look(&w, fd), 0);
	assert_int_equal(pfi_lockholder_look(&w, fd), child);

	assert_int_equal(kill(child, SIGCONT), 0);
	assert_int_equal(waitpid(child, &status, WCONTINUED), child);
	assert_int_equal(pfi_lockholder_stopped(&f), 0);
	/* a look that finds it running starts the count again */
	assert_int_equal(pfi_lockholder_look(&w, fd), 0);
	assert_int_equal(w.stopped_looks, 0);

	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* no holder at all */
	assert_int_equal(pfi_lockholder_stopped(&f), 0);
	close(ready[0]);
	close(ready[1]);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(holder_found_by_device_and_inode),
		cmocka_unit_test(waiters_and_invisible_pids_are_not_holders),
		cmocka_unit_test(either_device_matches),
		cmocka_unit_test(mount_device_by_id),
		cmocka_unit_test(state_follows_the_last_parenthesis),
		cmocka_unit_test(a_stopped_holder_is_seen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
