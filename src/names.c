#include "names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char ident_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

void pfi_names_init(struct pfi_names *n, const char *ident)
{
	snprintf(n->sock, sizeof n->sock, "s%s", ident);
	snprintf(n->lock, sizeof n->lock, "l%s", ident);
}

enum pfi_name_kind pfi_name_parse(const char *entry, char *ident)
{
	enum pfi_name_kind kind = entry[0] == 's' ? PFI_NAME_SOCKET
				: entry[0] == 'l' ? PFI_NAME_LOCK
				: PFI_NAME_NONE;
	size_t len = strlen(entry + (kind != PFI_NAME_NONE));
	if (kind == PFI_NAME_NONE || len == 0 || len > PFI_IDENT_MAX ||
	    strspn(entry + 1, ident_chars) != len)
		return PFI_NAME_NONE;
	memcpy(ident, entry + 1, len + 1);
	return kind;
}

int pfi_ident_is_computed(const char *ident)
{
	return strlen(ident) == PFI_IDENT_MAX &&
	       strspn(ident, "0123456789abcdef") == PFI_IDENT_MAX;
}

int pfi_ident_same_prefix(const char *a, const char *b, size_t len)
{
	return pfi_ident_is_computed(a) && pfi_ident_is_computed(b) &&
	       memcmp(a, b, len) == 0;
}

int pfi_names_socket_is_ours(const struct pfi_rundir *rd, const char *name,
                             const char *refusal, struct problem *p)
{
	struct stat st;
	if (fstatat(rd->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -ENOENT
		       : problem_errno(p, errno, "cannot stat socket '%s/%s'",
				       rd->path, name);
	if (!S_ISSOCK(st.st_mode))
		return problem_fail(p, EPERM, "'%s/%s' is not a socket; %s",
				    rd->path, name, refusal);
	if (st.st_uid != geteuid())
		return problem_fail(p, EPERM, "socket '%s/%s' is owned by uid "
				    "%u, not by you; %s", rd->path, name,
				    (unsigned)st.st_uid, refusal);
	return 0;
}

int pfi_names_remove_socket(const struct pfi_rundir *rd,
                            const struct pfi_names *n, struct problem *p)
{
	/* Only a socket of ours: -f replaces a server, never another file
	 * that sits at its name (the run directory is the user's, and
	 * root's client may meet other uids' files there). */
	int r = pfi_names_socket_is_ours(rd, n->sock, "refusing to replace it",
					 p);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (unlinkat(rd->fd, n->sock, 0) < 0 && errno != ENOENT)
		return problem_errno(p, errno, "cannot remove socket '%s/%s'",
				     rd->path, n->sock);
	return 0;
}

void pfi_names_drop_lock(const struct pfi_rundir *rd,
                         const struct pfi_names *n, int lock_fd)
{
	struct stat held, named;
	if (fstatat(rd->fd, n->sock, &named, AT_SYMLINK_NOFOLLOW) == 0 ||
	    errno != ENOENT)
		return;
	/* Only the very file we hold: never one another start made. */
	if (fstat(lock_fd, &held) < 0 ||
	    fstatat(rd->fd, n->lock, &named, AT_SYMLINK_NOFOLLOW) < 0 ||
	    held.st_dev != named.st_dev || held.st_ino != named.st_ino)
		return;
	(void)unlinkat(rd->fd, n->lock, 0);
}
