#include "safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int owner_ok(const struct pfi_walk *w, uid_t owner)
{
	return owner == 0 || owner == w->uid;
}

/* Appends `name` to the path for messages ("" = stay). */
static void path_push(struct pfi_walk *w, const char *name)
{
	size_t len = strlen(w->path);
	snprintf(w->path + len, sizeof w->path - len, "%s%s",
		 len > 1 ? "/" : "", name);
}

static void path_pop(struct pfi_walk *w)
{
	char *slash = strrchr(w->path, '/');
	if (slash)
		slash[slash == w->path] = '\0';
}

/* Checks the directory just opened as `fd` and moves the walk there
 * (letting go of where it was); on a failure the walk stays. */
static int move_to(struct pfi_walk *w, int fd, struct problem *p)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		return problem_errno(p, err, "cannot stat '%s'", w->path);
	}
	int r = 0;
	if (!S_ISDIR(st.st_mode))
		r = problem_fail(p, ENOTDIR, "run directory path '%s' is not "
				 "a directory", w->path);
	else if (!owner_ok(w, st.st_uid))
		r = problem_fail(p, EPERM, "unsafe run directory path: '%s' "
			"is owned by uid %u (must be root or uid %u)", w->path,
			(unsigned)st.st_uid, (unsigned)w->uid);
	else if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		 !(st.st_mode & S_ISVTX))
		r = problem_fail(p, EPERM, "unsafe run directory path: '%s' "
			"is writable by %s (mode %04o, not sticky)", w->path,
			(st.st_mode & S_IWOTH) ? "others" : "its group",
			(unsigned)(st.st_mode & 07777));
	if (r < 0) {
		close(fd);
		return r;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->shared = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
	return 0;
}

/* Goes to "/" (checked again: it is a directory like the others). */
static int go_to_root(struct pfi_walk *w, struct problem *p)
{
	strcpy(w->path, "/");
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return problem_errno(p, errno, "cannot open '/'");
	return move_to(w, fd, p);
}

int pfi_walk_begin(struct pfi_walk *w, uid_t uid, struct problem *p)
{
	w->uid = uid;
	w->fd = -1;
	w->shared = 0;
	w->links = 0;
	return go_to_root(w, p);
}

/* The kernel's "..": where a standalone lookup of the path goes (the
 * parent of a mount's root is the mount point's, "/.." is "/"). */
static int go_up(struct pfi_walk *w, struct problem *p)
{
	path_pop(w);
	int fd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return problem_errno(p, errno, "cannot open '%s'", w->path);
	return move_to(w, fd, p);
}

static int walk_components(struct pfi_walk *w, const char *path,
                           struct problem *p);

/* follow()'s answer when the entry changed under it. */
#define LOOK_AGAIN 1

/* Follows the symlink `name` found in the current directory. */
static int follow(struct pfi_walk *w, const char *name,
                  const struct stat *st, struct problem *p)
{
	if (w->shared && !owner_ok(w, st->st_uid))
		return problem_fail(p, EPERM, "unsafe run directory path: "
			"'%s%s%s' is a symlink owned by uid %u in a directory "
			"others can write to", w->path,
			strlen(w->path) > 1 ? "/" : "", name,
			(unsigned)st->st_uid);
	if (++w->links > PFI_WALK_MAX_LINKS)
		return problem_fail(p, ELOOP, "run directory path '%s%s%s': "
			"too many symlinks", w->path,
			strlen(w->path) > 1 ? "/" : "", name);
	char target[PATH_MAX];
	ssize_t n = readlinkat(w->fd, name, target, sizeof target);
	if (n < 0 && (errno == EINVAL || errno == ENOENT))
		return LOOK_AGAIN;      /* no longer a symlink */
	if (n < 0)
		return problem_errno(p, errno, "cannot read symlink '%s%s%s'",
			w->path, strlen(w->path) > 1 ? "/" : "", name);
	if ((size_t)n >= sizeof target)
		return problem_fail(p, ENAMETOOLONG, "symlink '%s/%s' is too "
				    "long", w->path, name);
	target[n] = '\0';
	if (target[0] == '/') {
		int r = go_to_root(w, p);
		if (r < 0)
			return r;
	}
	return walk_components(w, target, p);
}

/* Takes one step; `may_create` for our own last components only. */
static int step(struct pfi_walk *w, const char *name, int may_create,
                struct problem *p)
{
	if (!strcmp(name, ".") || !*name)
		return 0;
	if (!strcmp(name, ".."))
		return go_up(w, p);
	/* A few rounds: the entry may change between the open and the
	 * look (then the next round sees what it has become).  The open
	 * comes first: a directory, the common case, costs one call. */
	for (int attempt = 0; attempt < 4; attempt++) {
		int dirfd = w->fd;
		int fd = openat(dirfd, name,
				O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			path_push(w, name);
			return move_to(w, fd, p);
		}
		int err = errno;
		struct stat st;
		if (err == ENOTDIR || err == ELOOP) {
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    S_ISDIR(st.st_mode))
				continue;
			if (S_ISLNK(st.st_mode)) {
				int r = follow(w, name, &st, p);
				if (r != LOOK_AGAIN)
					return r;
				w->links--;
				continue;
			}
			path_push(w, name);
			return problem_fail(p, ENOTDIR, "run directory path "
					    "'%s' is not a directory", w->path);
		}
		path_push(w, name);
		if (err != ENOENT)
			return problem_errno(p, err, "cannot open '%s'", w->path);
		if (!may_create)
			return problem_fail(p, ENOENT, "'%s' does not exist",
					    w->path);
		/* Mode 0700 whatever the caller's umask: under umask 0177
		 * it would be made without its search bit and every later
		 * call of every script refused. */
		mode_t old_umask = umask(077);
		int made = mkdirat(dirfd, name, 0700);
		int err_made = errno;
		umask(old_umask);
		if (made < 0 && err_made != EEXIST)
			return problem_errno(p, err_made, "cannot create run "
					     "directory '%s'", w->path);
		path_pop(w);
	}
	return problem_fail(p, EAGAIN, "run directory path '%s/%s' keeps "
			    "changing", w->path, name);
}

static int walk_components(struct pfi_walk *w, const char *path,
                           struct problem *p)
{
	char copy[PATH_MAX];
	if (strlen(path) >= sizeof copy)
		return problem_fail(p, ENAMETOOLONG, "run directory path "
				    "'%s' is too long", path);
	strcpy(copy, path);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		int r = step(w, c, 0, p);
		if (r < 0)
			return r;
	}
	return 0;
}

int pfi_walk_path(struct pfi_walk *w, const char *path, struct problem *p)
{
	if (path[0] != '/')
		return problem_fail(p, EINVAL, "run directory '%s' is not an "
				    "absolute path", path);
	int r = go_to_root(w, p);
	if (r < 0)
		return r;
	return walk_components(w, path, p);
}

int pfi_walk_create(struct pfi_walk *w, const char *name, struct problem *p)
{
	return step(w, name, 1, p);
}

int pfi_walk_enter(struct pfi_walk *w, const char *name, struct problem *p)
{
	struct stat st;
	if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT)
		return PFI_WALK_ABSENT;
	return step(w, name, 0, p);
}

int pfi_walk_may_create(const struct pfi_walk *w, const char *name,
                        struct problem *p)
{
	/* The kernel answers for the very directory walked to (the fd),
	 * with the effective ids mkdirat() would use; before Linux 5.8 it
	 * cannot (EINVAL or ENOSYS), and then the creation is assumed to
	 * work, as it does in the usual case of a directory of one's own. */
	if (faccessat(w->fd, "", W_OK | X_OK,
		      AT_EACCESS | AT_EMPTY_PATH) == 0 ||
	    errno == EINVAL || errno == ENOSYS)
		return 0;
	return problem_errno(p, errno, "cannot create run directory "
			     "'%s%s%s'", w->path, strlen(w->path) > 1 ? "/" : "",
			     name);
}

int pfi_walk_finish(struct pfi_walk *w, struct problem *p)
{
	struct stat st, opened;
	int here = w->fd;
	if (fstat(here, &st) < 0)
		return problem_errno(p, errno, "cannot stat '%s'", w->path);
	if (st.st_uid != w->uid)
		return problem_fail(p, EPERM, "run directory '%s' is owned by "
			"uid %u, not by you (uid %u)", w->path,
			(unsigned)st.st_uid, (unsigned)w->uid);
	if (st.st_mode & 0077)
		return problem_fail(p, EPERM, "run directory '%s' has mode "
			"%04o; it must be 0700", w->path,
			(unsigned)(st.st_mode & 07777));
	/* Reopened through the checked fd: the same directory, now
	 * readable (for listing) and usable under /proc/self/fd. */
	int fd = openat(here, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return problem_errno(p, errno, "cannot open run directory "
				     "'%s'", w->path);
	if (fstat(fd, &opened) < 0 || opened.st_dev != st.st_dev ||
	    opened.st_ino != st.st_ino) {
		close(fd);
		return problem_fail(p, EAGAIN, "run directory '%s' changed "
				    "while being opened", w->path);
	}
	return fd;
}

void pfi_walk_end(struct pfi_walk *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
