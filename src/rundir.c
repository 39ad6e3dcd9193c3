#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks one component; `path` is how far the walk has got. */
static int check_component(int fd, const char *path, uid_t uid, int is_final,
                           struct problem *p)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return problem_errno(p, errno, "cannot stat '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return problem_fail(p, ENOTDIR,
			"run directory path '%s' is not a directory", path);
	if (st.st_uid != 0 && st.st_uid != uid)
		return problem_fail(p, EPERM,
			"unsafe run directory path: '%s' is owned by uid %u "
			"(must be root or uid %u)", path,
			(unsigned)st.st_uid, (unsigned)uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return problem_fail(p, EPERM,
			"unsafe run directory path: '%s' is writable by %s "
			"(mode %04o)", path,
			(st.st_mode & S_IWOTH) ? "others" : "its group",
			(unsigned)(st.st_mode & 07777));
	if (!is_final)
		return 0;
	if (st.st_uid != uid)
		return problem_fail(p, EPERM,
			"run directory '%s' is owned by uid %u, not by you "
			"(uid %u)", path, (unsigned)st.st_uid, (unsigned)uid);
	if (st.st_mode & 0077)
		return problem_fail(p, EPERM,
			"run directory '%s' has mode %04o; it must be 0700",
			path, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Opens `name` below `dirfd` without following a symlink, creating it
 * (mode 0700) if allowed and missing. */
static int open_component(int dirfd, const char *name, const char *path,
                          int may_create, struct problem *p)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = openat(dirfd, name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		int err = errno;
		if (err == ELOOP)
			return problem_fail(p, ELOOP,
				"unsafe run directory path: '%s' is a symlink",
				path);
		if (err == ENOTDIR) {
			struct stat st;
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
			    && S_ISLNK(st.st_mode))
				return problem_fail(p, ELOOP,
					"unsafe run directory path: '%s' is a "
					"symlink", path);
			return problem_fail(p, ENOTDIR,
				"run directory path '%s' is not a directory",
				path);
		}
		if (err != ENOENT || !may_create)
			return problem_errno(p, err,
				"cannot open run directory path '%s'", path);
		if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
			return problem_errno(p, errno,
				"cannot create run directory '%s'", path);
	}
	return problem_fail(p, EAGAIN, "run directory '%s' keeps vanishing",
			    path);
}

/* Walks `path` from "/", verifying every component.  Components at
 * index >= create_from may be created. */
static int open_verified(const char *path, int create_from, uid_t uid,
                         struct problem *p)
{
	char walked[PATH_MAX], copy[PATH_MAX];
	if (path[0] != '/')
		return problem_fail(p, EINVAL,
			"run directory '%s' is not an absolute path", path);
	if (strlen(path) >= sizeof copy)
		return problem_fail(p, ENAMETOOLONG,
			"run directory path '%s' is too long", path);
	strcpy(copy, path);

	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return problem_errno(p, errno, "cannot open '/'");
	strcpy(walked, "/");

	char *comps[PATH_MAX / 2];
	int n = 0;
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, ".") || !strcmp(c, ".."))
			return close(fd), problem_fail(p, EINVAL,
				"run directory '%s' must not contain '.' or "
				"'..'", path);
		comps[n++] = c;
	}

	int r = check_component(fd, walked, uid, n == 0, p);
	for (int i = 0; r >= 0 && i < n; i++) {
		size_t len = strlen(walked);
		snprintf(walked + len, sizeof walked - len, "%s%s",
			 len > 1 ? "/" : "", comps[i]);
		int next = open_component(fd, comps[i], walked,
					  i >= create_from, p);
		close(fd);
		if (next < 0)
			return next;
		fd = next;
		r = check_component(fd, walked, uid, i == n - 1, p);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int count_components(const char *path)
{
	int n = 0;
	for (const char *c = path; *c; c++)
		if (*c != '/' && (c == path || c[-1] == '/'))
			n++;
	return n;
}

static int default_path(uid_t uid, char *out, size_t cap, int *create_from,
                        struct problem *p)
{
	char base[64];
	struct stat st;

	snprintf(base, sizeof base, "/run/user/%u", (unsigned)uid);
	if (lstat(base, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(out, cap, "%s/prefork-interp", base);
		*create_from = count_components(out) - 1;
		return 0;
	}

	/* Not $HOME: the environment is the caller's to choose. */
	errno = 0;
	struct passwd *pw = getpwuid(uid);
	if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/')
		return problem_fail(p, ENOENT,
			"no /run/user/%u and no home directory for uid %u in "
			"the password database", (unsigned)uid, (unsigned)uid);
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) < 0 || !host[0] ||
	    strchr(host, '/') || !strcmp(host, ".") || !strcmp(host, ".."))
		return problem_fail(p, EINVAL, "unusable host name '%s'", host);
	if ((size_t)snprintf(out, cap, "%s/.prefork-interp/%s", pw->pw_dir,
			     host) >= cap)
		return problem_fail(p, ENAMETOOLONG, "home directory path "
				    "'%s' is too long", pw->pw_dir);
	*create_from = count_components(out) - 2;
	return 0;
}

int pfi_rundir_open(const char *override, struct pfi_rundir *rd,
                    struct problem *p)
{
	uid_t uid = geteuid();
	int create_from, r;

	rd->fd = -1;
	if (override) {
		if (!*override)
			return problem_fail(p, EINVAL,
				"run directory override is empty");
		if ((size_t)snprintf(rd->path, sizeof rd->path, "%s",
				     override) >= sizeof rd->path)
			return problem_fail(p, ENAMETOOLONG,
				"run directory path is too long");
		create_from = count_components(rd->path) - 1;
	} else if ((r = default_path(uid, rd->path, sizeof rd->path,
				     &create_from, p)) < 0) {
		return r;
	}

	int fd = open_verified(rd->path, create_from, uid, p);
	if (fd < 0)
		return fd;
	rd->fd = fd;
	snprintf(rd->via_proc, sizeof rd->via_proc, "/proc/self/fd/%d", fd);
	return 0;
}

void pfi_rundir_close(struct pfi_rundir *rd)
{
	if (rd->fd >= 0)
		close(rd->fd);
	rd->fd = -1;
}

int pfi_rundir_entry_path(const struct pfi_rundir *rd, const char *name,
                          char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s", rd->via_proc, name) >= cap)
		return -ENAMETOOLONG;
	return 0;
}
