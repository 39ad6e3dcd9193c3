#include "preclean.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ours.h"

/* Retires the least recently used of the servers `pick` lists (indices
 * into `list`, which is sorted by use) until at most `keep` of them are
 * left.  One that is busy is skipped and the next oldest goes in its
 * place; a retired one gets an empty ident. */
static int retire(const struct pfi_rundir *rd, struct pfi_server_entry *list,
                  const size_t *pick, size_t n, size_t keep,
                  struct problem *p)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += list[pick[i]].ident[0] != '\0';
	for (size_t i = 0; i < n && count > keep; i++) {
		struct pfi_server_entry *e = &list[pick[i]];
		if (!e->ident[0])
			continue;
		int r = pfi_ours_remove(rd, e, PFI_REMOVE_IF_UNUSED, p);
		if (r < 0)
			return r;
		if (r > 0) {
			e->ident[0] = '\0';
			count--;
		}
	}
	return 0;
}

int pfi_preclean(const struct pfi_rundir *rd, const char *starting,
                 struct problem *p)
{
	struct pfi_server_entry *list = NULL;
	size_t n = 0, n_family = 0, n_all = 0;
	int r = pfi_ours_list(rd, &list, &n, p);
	if (r < 0)
		return r;
	pfi_ours_sort_by_use(list, n);

	size_t *family = calloc(n ? n : 1, sizeof *family);
	size_t *all = calloc(n ? n : 1, sizeof *all);
	if (!family || !all) {
		r = problem_errno(p, ENOMEM, "pre-cleaning");
		goto out;
	}
	/* The one being started is never retired: it is about to be
	 * replaced or created under its own lock. */
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(list[i].ident, starting))
			continue;
		all[n_all++] = i;
		if (pfi_ident_same_prefix(list[i].ident, starting,
					  PFI_IDENT_FAMILY_LEN))
			family[n_family++] = i;
	}
	/* With the new one, at most PFI_MAX_VARIANTS in its family and
	 * PFI_MAX_SERVERS_KEPT in all. */
	r = retire(rd, list, family, n_family, PFI_MAX_VARIANTS - 1, p);
	if (r >= 0)
		r = retire(rd, list, all, n_all, PFI_MAX_SERVERS_KEPT, p);
out:
	free(family);
	free(all);
	free(list);
	return r;
}
