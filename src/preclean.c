#include "preclean.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"
#include "lockfile.h"

struct entry {
	char ident[PFI_IDENT_BUF];
	struct timespec atime;         /* of the socket; zero if none */
};

static int by_ident(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->ident,
		      ((const struct entry *)b)->ident);
}

static int by_atime(const void *a, const void *b)
{
	const struct timespec *x = &((const struct entry *)a)->atime;
	const struct timespec *y = &((const struct entry *)b)->atime;
	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

static struct timespec socket_atime(int dirfd, const char *ident)
{
	char name[PFI_IDENT_BUF + 1] = "s";
	struct stat st;
	strcat(name, ident);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return (struct timespec){ 0, 0 };
	return st.st_atim;
}

/* Lists the idents that have a socket or a lock, each once. */
static int list_entries(const struct pfi_rundir *rd, struct entry **out,
                        size_t *n_out, struct problem *p)
{
	int dfd = dup(rd->fd);
	DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);
	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		return problem_errno(p, errno, "cannot list run directory "
				     "'%s'", rd->path);
	}
	struct entry *list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	while ((errno = 0, de = readdir(dir))) {
		if ((de->d_name[0] != 's' && de->d_name[0] != 'l') ||
		    strlen(de->d_name + 1) > PFI_IDENT_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct entry *grown = realloc(list, cap * sizeof *list);
			if (!grown) {
				r = problem_errno(p, ENOMEM, "pre-cleaning");
				break;
			}
			list = grown;
		}
		strcpy(list[n].ident, de->d_name + 1);
		list[n].atime = socket_atime(rd->fd, list[n].ident);
		n++;
	}
	if (r == 0 && errno)
		r = problem_errno(p, errno, "cannot read run directory '%s'",
				  rd->path);
	closedir(dir);
	if (r < 0) {
		free(list);
		return r;
	}

	qsort(list, n, sizeof *list, by_ident);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (kept == 0 || strcmp(list[i].ident, list[kept - 1].ident))
			list[kept++] = list[i];
	*out = list;
	*n_out = kept;
	return 0;
}

/* Returns 1 if the server was removed, 0 if it was busy or had been
 * used since we looked. */
static int remove_server(const struct pfi_rundir *rd, const struct entry *e)
{
	char sock[PFI_IDENT_BUF + 1] = "s", lock[PFI_IDENT_BUF + 1] = "l";
	struct problem ignored;
	int removed = 0;
	strcat(sock, e->ident);
	strcat(lock, e->ident);

	int fd = pfi_lock_take(rd, lock, 1, &ignored);
	if (fd < 0)
		return 0;       /* busy or odd: leave it for another time */
	struct timespec now = socket_atime(rd->fd, e->ident);
	if (now.tv_sec == e->atime.tv_sec && now.tv_nsec == e->atime.tv_nsec) {
		unlinkat(rd->fd, sock, 0);
		unlinkat(rd->fd, lock, 0);
		removed = 1;
	}
	close(fd);
	return removed;
}

int pfi_preclean(const struct pfi_rundir *rd, struct problem *p)
{
	struct entry *list = NULL;
	size_t n = 0;
	int r = list_entries(rd, &list, &n, p);
	if (r < 0)
		return r;
	if (n > PFI_MAX_SERVERS_KEPT) {
		qsort(list, n, sizeof *list, by_atime);
		/* Oldest first; one that is busy is skipped, and the next
		 * oldest goes in its place. */
		size_t excess = n - PFI_MAX_SERVERS_KEPT;
		for (size_t i = 0; i < n && excess > 0; i++)
			excess -= (size_t)remove_server(rd, &list[i]);
	}
	free(list);
	return 0;
}
