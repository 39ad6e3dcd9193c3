/* A walk from "/" down a directory path that checks every directory on
 * the way before going on, each opened (O_PATH) relative to the one
 * before, so the walk ends at the very directory it checked
 * (docs/design.md section 5):
 *   - every directory is owned by root or the user;
 *   - none is writable by group or other, unless it is sticky: then
 *     nobody else can rename or remove what the user or root owns in
 *     it, and the ownership rule holds for what the walk takes from it;
 *   - a symlink is followed when the directory holding it passed (in a
 *     sticky one the link must be owned by root or the user); its target
 *     is walked in turn, with at most PFI_WALK_MAX_LINKS links;
 *   - ".." is the kernel's parent of where the walk is (as in a
 *     standalone path lookup), checked like any other directory.
 * The walk holds one fd, two while stepping, however deep the path: a
 * caller with all but a few of its fds in use (near a low limit on open
 * files) still reaches its run directory.
 * Messages name the path walked so far and the problem. */
#ifndef PFI_SAFEPATH_H
#define PFI_SAFEPATH_H

#include <limits.h>
#include <sys/types.h>

#include "problem.h"

#define PFI_WALK_MAX_LINKS 40

struct pfi_walk {
	uid_t uid;
	int fd;                             /* where the walk is */
	int shared;                         /* ... writable by others */
	int links;
	char path[PATH_MAX];                /* the walk so far, for messages */
};

/* Starts at "/" (checked like any other directory). */
int pfi_walk_begin(struct pfi_walk *w, uid_t uid, struct problem *p);

/* Walks an absolute path; nothing is created. */
int pfi_walk_path(struct pfi_walk *w, const char *path, struct problem *p);

/* Steps into `name` (one component of our own, no '/'), creating it
 * mode 0700 if it is missing. */
int pfi_walk_create(struct pfi_walk *w, const char *name, struct problem *p);

/* pfi_walk_enter()'s answer when `name` does not exist. */
#define PFI_WALK_ABSENT 1

/* Steps into `name` (one component of our own, no '/') without creating
 * it: PFI_WALK_ABSENT, the walk left where it was, if there is no entry
 * of that name at all (a dangling symlink is an entry: followed, it is
 * an error, as for pfi_walk_create()). */
int pfi_walk_enter(struct pfi_walk *w, const char *name, struct problem *p);

/* Whether pfi_walk_create() could make `name` here: 0, or -errno with p
 * filled as the failed creation would have said. */
int pfi_walk_may_create(const struct pfi_walk *w, const char *name,
                        struct problem *p);

/* Checks that the walk ended in the user's own mode-0700 directory and
 * returns it opened O_RDONLY|O_DIRECTORY (the caller closes it). */
int pfi_walk_finish(struct pfi_walk *w, struct problem *p);

/* Closes the walk's fd. */
void pfi_walk_end(struct pfi_walk *w);

#endif
