#include "stop.h"

#include <stdlib.h>
#include <string.h>

#include "ours.h"

static int matches(const char *ident, enum pfi_stop_match match,
                   const char *what)
{
	switch (match) {
	case PFI_STOP_ALL:
		return 1;
	case PFI_STOP_IDENT:
		return !strcmp(ident, what);
	case PFI_STOP_SCRIPT:
		return pfi_ident_is_computed(ident) &&
		       !strncmp(ident, what, PFI_IDENT_SCRIPT_LEN);
	}
	return 0;
}

int pfi_stop_servers(const struct pfi_rundir *rd, enum pfi_stop_match match,
                     const char *what, size_t *stopped, struct problem *p)
{
	struct pfi_server_entry *list = NULL;
	size_t n = 0;
	int r = pfi_ours_list(rd, &list, &n, p);
	*stopped = 0;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (!matches(list[i].ident, match, what))
			continue;
		r = pfi_ours_remove(rd, &list[i], PFI_REMOVE_NOW, p);
		if (r > 0)
			++*stopped;
	}
	free(list);
	return r < 0 ? r : 0;
}
