#include "names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SOCK_PREFIX 's'
#define LOCK_PREFIX 'l'

void pfi_names_init(struct pfi_names *n, const char *ident)
{
	snprintf(n->sock, sizeof n->sock, "%c%s", SOCK_PREFIX, ident);
	snprintf(n->lock, sizeof n->lock, "%c%s", LOCK_PREFIX, ident);
}

const char *pfi_names_ident(const char *entry)
{
	if (entry[0] != SOCK_PREFIX && entry[0] != LOCK_PREFIX)
		return NULL;
	size_t len = strlen(entry + 1);
	return len > 0 && len <= PFI_IDENT_MAX ? entry + 1 : NULL;
}

int pfi_names_remove_socket(const struct pfi_rundir *rd,
                            const struct pfi_names *n, struct problem *p)
{
	if (unlinkat(rd->fd, n->sock, 0) < 0 && errno != ENOENT)
		return problem_errno(p, errno, "cannot remove socket '%s/%s'",
				     rd->path, n->sock);
	return 0;
}
