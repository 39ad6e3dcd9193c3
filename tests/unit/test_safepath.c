/* Unit tests for src/safepath.c on real directories: the walk holds one
 * fd however deep the path (a caller near a low limit on open files
 * still reaches its run directory), ".." is the kernel's parent and is
 * checked like any other directory, and the checks still refuse. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "safepath.h"

/* Deeper than the 64 directories the walk once held at a time. */
#define DEEP 100

static char base[64];

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;   /* the listing's own */
}

/* Makes base/d/d/.../d (`levels` deep) and returns its path. */
static char *make_deep(const char *top, int levels)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", top);
	for (int i = 0; i < levels; i++) {
		strcat(path, "/d");
		if (mkdir(path, 0700) < 0)
			assert_int_equal(errno, EEXIST);
	}
	return path;
}

static void same_dir(int fd, const char *path)
{
	struct stat a, b;
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static void deep_path_holds_one_fd(void **state)
{
	(void)state;
	char *deep = make_deep(base, DEEP);
	struct pfi_walk w;
	struct problem p = { 0 };
	int before = open_fds();
	assert_int_equal(pfi_walk_begin(&w, geteuid(), &p), 0);
	int r = pfi_walk_path(&w, deep, &p);
	if (r < 0)
		fail_msg("%s", p.msg);
	assert_int_equal(open_fds(), before + 1);
	int fd = pfi_walk_finish(&w, &p);
	if (fd < 0)
		fail_msg("%s", p.msg);
	same_dir(fd, deep);
	close(fd);
	pfi_walk_end(&w);
	assert_int_equal(open_fds(), before);
}

/* With two fds left under the soft limit (the walk's one, and the one
 * it opens while stepping) the deep walk and its finish still work. */
static void deep_path_near_the_limit(void **state)
{
	(void)state;
	char *deep = make_deep(base, DEEP);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		/* the lowest free numbers; everything above the limit */
		int first_free = dup(0);
		close(first_free);
		struct rlimit lim;
		getrlimit(RLIMIT_NOFILE, &lim);
		for (int fd = first_free + 2; fd < 64; fd++)
			close(fd);
		lim.rlim_cur = first_free + 2;
		if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
			_exit(3);
		struct pfi_walk w;
		struct problem p = { 0 };
		if (pfi_walk_begin(&w, geteuid(), &p) < 0 ||
		    pfi_walk_path(&w, deep, &p) < 0) {
			fprintf(stderr, "%s\n", p.msg);
			_exit(1);
		}
		int fd = pfi_walk_finish(&w, &p);
		if (fd < 0) {
			fprintf(stderr, "%s\n", p.msg);
			_exit(2);
		}
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int walk_to(const char *path, char *msg, size_t size)
{
	struct pfi_walk w;
	struct problem p = { 0 };
	int fd = pfi_walk_begin(&w, geteuid(), &p);
	if (fd >= 0)
		fd = pfi_walk_path(&w, path, &p);
	if (fd >= 0)
		fd = pfi_walk_finish(&w, &p);
	pfi_walk_end(&w);
	snprintf(msg, size, "%s", fd < 0 ? p.msg : "");
	return fd;
}

static void dot_dot_is_the_parent(void **state)
{
	(void)state;
	char a[PATH_MAX], c[PATH_MAX], path[PATH_MAX], msg[1024];
	snprintf(a, sizeof a, "%s/a", base);
	snprintf(c, sizeof c, "%s/a/c", base);
	mkdir(a, 0700);
	mkdir(c, 0700);
	snprintf(path, sizeof path, "%s/a/b", base);
	mkdir(path, 0700);
	/* a/b/../c, and "/.." at the top */
	snprintf(path, sizeof path, "/../..%s/a/b/../c", base);
	int fd = walk_to(path, msg, sizeof msg);
	if (fd < 0)
		fail_msg("%s: %s", path, msg);
	same_dir(fd, c);
	close(fd);
	/* a symlink whose target climbs: a/up -> ../a/b/.., then c */
	char link[PATH_MAX];
	snprintf(link, sizeof link, "%s/a/up", base);
	unlink(link);
	assert_int_equal(symlink("../a/b/..", link), 0);
	snprintf(path, sizeof path, "%s/a/up/c", base);
	fd = walk_to(path, msg, sizeof msg);
	if (fd < 0)
		fail_msg("%s: %s", path, msg);
	same_dir(fd, c);
	close(fd);
}

/* Going up lands in a directory checked like the others: one writable
 * by others (not sticky) is refused, reached by "..". */
static void dot_dot_is_checked(void **state)
{
	(void)state;
	char open_dir[PATH_MAX], inner[PATH_MAX], path[PATH_MAX];
	snprintf(open_dir, sizeof open_dir, "%s/open", base);
	snprintf(inner, sizeof inner, "%s/open/inner", base);
	mkdir(open_dir, 0700);
	mkdir(inner, 0700);
	/* made safe to walk into inner, then opened to all */
	snprintf(path, sizeof path, "%s/open/inner", base);
	struct pfi_walk w;
	struct problem p = { 0 };
	assert_int_equal(pfi_walk_begin(&w, geteuid(), &p), 0);
	assert_int_equal(pfi_walk_path(&w, path, &p), 0);
	assert_int_equal(chmod(open_dir, 0777), 0);
	int r = pfi_walk_path(&w, "/", &p); /* back to the top: fine */
	assert_int_equal(r, 0);
	assert_int_equal(pfi_walk_path(&w, inner, &p), -EPERM);
	assert_non_null(strstr(p.msg, "writable by others"));
	pfi_walk_end(&w);
	/* and by "..", from inside, after the walk got there safely */
	assert_int_equal(chmod(open_dir, 0700), 0);
	memset(&p, 0, sizeof p);
	assert_int_equal(pfi_walk_begin(&w, geteuid(), &p), 0);
	assert_int_equal(pfi_walk_path(&w, inner, &p), 0);
	assert_int_equal(chmod(open_dir, 0777), 0);
	assert_int_equal(pfi_walk_create(&w, "..", &p), -EPERM);
	assert_non_null(strstr(p.msg, "writable by others"));
	pfi_walk_end(&w);
	chmod(open_dir, 0700);
}

static int remove_tree(const char *path)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	return system(cmd);
}

int main(void)
{
	snprintf(base, sizeof base, "/tmp/pfi-safepath-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deep_path_holds_one_fd),
		cmocka_unit_test(deep_path_near_the_limit),
		cmocka_unit_test(dot_dot_is_the_parent),
		cmocka_unit_test(dot_dot_is_checked),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	remove_tree(base);
	return failed;
}
