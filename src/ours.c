#include "ours.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockfile.h"

static int is_our_file(const struct stat *st, enum pfi_name_kind kind)
{
	if (st->st_uid != geteuid() || st->st_nlink != 1 ||
	    (st->st_mode & 07022))
		return 0;
	if (kind == PFI_NAME_SOCKET)
		return S_ISSOCK(st->st_mode);
	return S_ISREG(st->st_mode) && st->st_size == 0;
}

static int by_ident(const void *a, const void *b)
{
	return strcmp(((const struct pfi_server_entry *)a)->ident,
		      ((const struct pfi_server_entry *)b)->ident);
}

static int by_use(const void *a, const void *b)
{
	const struct timespec *x = &((const struct pfi_server_entry *)a)->used;
	const struct timespec *y = &((const struct pfi_server_entry *)b)->used;
	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

void pfi_ours_sort_by_use(struct pfi_server_entry *list, size_t n)
{
	qsort(list, n, sizeof *list, by_use);
}

/* Folds entries of the same ident (a socket and a lock) into one. */
static size_t merge_same_ident(struct pfi_server_entry *list, size_t n)
{
	qsort(list, n, sizeof *list, by_ident);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		struct pfi_server_entry *last = kept ? &list[kept - 1] : NULL;
		if (!last || strcmp(list[i].ident, last->ident)) {
			list[kept++] = list[i];
			continue;
		}
		if (list[i].has_socket) {
			last->has_socket = 1;
			last->used = list[i].used;
			last->dev = list[i].dev;
			last->ino = list[i].ino;
		}
		last->has_lock |= list[i].has_lock;
	}
	return kept;
}

int pfi_ours_list(const struct pfi_rundir *rd, struct pfi_server_entry **out,
                  size_t *n_out, struct problem *p)
{
	int dfd = openat(rd->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);
	if (!dir) {
		int err = errno;
		if (dfd >= 0)
			close(dfd);
		return problem_errno(p, err, "cannot list run directory '%s'",
				     rd->path);
	}
	struct pfi_server_entry *list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	while ((errno = 0, de = readdir(dir))) {
		char ident[PFI_IDENT_BUF];
		struct stat st;
		enum pfi_name_kind kind = pfi_name_parse(de->d_name, ident);
		if (kind == PFI_NAME_NONE ||
		    fstatat(rd->fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !is_our_file(&st, kind))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct pfi_server_entry *grown =
				realloc(list, cap * sizeof *list);
			if (!grown) {
				r = problem_errno(p, ENOMEM, "listing servers");
				break;
			}
			list = grown;
		}
		struct pfi_server_entry *e = &list[n++];
		memset(e, 0, sizeof *e);
		strcpy(e->ident, ident);
		if (kind == PFI_NAME_SOCKET) {
			e->has_socket = 1;
			e->used = st.st_atim;
			e->dev = st.st_dev;
			e->ino = st.st_ino;
		} else {
			e->has_lock = 1;
		}
	}
	if (r == 0 && errno)
		r = problem_errno(p, errno, "cannot read run directory '%s'",
				  rd->path);
	closedir(dir);
	if (r < 0) {
		free(list);
		return r;
	}
	*out = list;
	*n_out = merge_same_ident(list, n);
	return 0;
}

/* Whether the socket at the name is still the listed one and ours. */
static int socket_unchanged(const struct pfi_rundir *rd, const char *name,
                            const struct pfi_server_entry *e, int same_use)
{
	struct stat st;
	if (fstatat(rd->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!is_our_file(&st, PFI_NAME_SOCKET) || st.st_dev != e->dev ||
	    st.st_ino != e->ino)
		return 0;
	return !same_use || (st.st_atim.tv_sec == e->used.tv_sec &&
			     st.st_atim.tv_nsec == e->used.tv_nsec);
}

int pfi_ours_remove(const struct pfi_rundir *rd,
                    const struct pfi_server_entry *e, enum pfi_removal how,
                    struct problem *p)
{
	struct pfi_names names;
	pfi_names_init(&names, e->ident);
	/* --kill waits for a server being started, unless its starter is
	 * stopped: then it says so instead of waiting until it goes on. */
	unsigned flags = PFI_LOCK_EXISTING |
			 (how == PFI_REMOVE_IF_UNUSED ? PFI_LOCK_NONBLOCK
						      : PFI_LOCK_UNLESS_STOPPED);

	/* Pre-cleaning never opens a lock name that was not ours when
	 * listed; --kill opens whatever is there (never creating it), so
	 * that a lock that is not ours is refused with its problem named.
	 * Either way a file that is not ours is left as it is. */
	int lock = e->has_lock || how == PFI_REMOVE_NOW
		? pfi_lock_take(rd, names.lock, flags, p) : -ENOENT;
	struct stat st;
	if (lock >= 0 && (fstat(lock, &st) < 0 || !is_our_file(&st, PFI_NAME_LOCK))) {
		close(lock);
		return 0;
	}
	if (lock == -ENOENT || lock == -EWOULDBLOCK) {
		/* No lock file means nobody is starting this server: --kill
		 * may take the socket alone.  Pre-cleaning needs the lock, so
		 * that it cannot take a socket being bound right now. */
		if (lock == -EWOULDBLOCK || how == PFI_REMOVE_IF_UNUSED ||
		    !e->has_socket || !socket_unchanged(rd, names.sock, e, 0))
			return 0;
		if (unlinkat(rd->fd, names.sock, 0) < 0 && errno != ENOENT)
			return problem_errno(p, errno, "cannot remove socket "
					     "'%s/%s'", rd->path, names.sock);
		return 1;
	}
	if (lock < 0)
		return how == PFI_REMOVE_IF_UNUSED ? 0 : lock;

	int removed = 0, r = 0;
	if (!e->has_socket ||
	    socket_unchanged(rd, names.sock, e, how == PFI_REMOVE_IF_UNUSED)) {
		if (e->has_socket && unlinkat(rd->fd, names.sock, 0) < 0 &&
		    errno != ENOENT)
			r = problem_errno(p, errno, "cannot remove socket "
					  "'%s/%s'", rd->path, names.sock);
		else if (unlinkat(rd->fd, names.lock, 0) < 0 && errno != ENOENT)
			r = problem_errno(p, errno, "cannot remove lock "
					  "'%s/%s'", rd->path, names.lock);
		else
			removed = 1;
	}
	close(lock);
	return r < 0 ? r : removed;
}

void pfi_ours_touch(const struct pfi_rundir *rd, const char *sock_name)
{
	/* An explicit time: connect() alone does not update the access
	 * time under relatime.  A failure only makes retirement order
	 * less exact. */
	struct timespec times[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	(void)utimensat(rd->fd, sock_name, times, AT_SYMLINK_NOFOLLOW);
}
