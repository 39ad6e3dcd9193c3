#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "safepath.h"

#define FIX_HINT "name a safe directory with --run-dir DIR or " \
	PFI_RUN_DIR_ENV

/* One place to look: a directory that must exist, then our own
 * components below it (created when missing). */
struct candidate {
	const char *base;
	const char *own[2];
};

/* The path our own components from `from` on would have below the
 * walk: where a run directory not made yet would be. */
static void path_none_yet(const struct pfi_walk *w, const struct candidate *c,
                          size_t from, struct pfi_rundir *rd)
{
	size_t len = (size_t)snprintf(rd->path, sizeof rd->path, "%s", w->path);
	for (size_t i = from; i < 2 && c->own[i] && len < sizeof rd->path; i++)
		len += (size_t)snprintf(rd->path + len, sizeof rd->path - len,
					"%s%s", len > 1 ? "/" : "", c->own[i]);
}

/* Walks into our own components; 0 when there, PFI_RUNDIR_NONE_YET
 * (rd->path set) when looking and they could be made but are not. */
static int walk_own(struct pfi_walk *w, const struct candidate *c,
                    enum pfi_rundir_use use, struct pfi_rundir *rd,
                    struct problem *p)
{
	for (size_t i = 0; i < 2 && c->own[i]; i++) {
		if (use == PFI_RUNDIR_MAKE) {
			int r = pfi_walk_create(w, c->own[i], p);
			if (r < 0)
				return r;
			continue;
		}
		int r = pfi_walk_enter(w, c->own[i], p);
		if (r < 0)
			return r;
		if (r == PFI_WALK_ABSENT) {
			/* Where the making would fail, a client running a
			 * script goes on to the next candidate: so does this. */
			if ((r = pfi_walk_may_create(w, c->own[i], p)) < 0)
				return r;
			path_none_yet(w, c, i, rd);
			return PFI_RUNDIR_NONE_YET;
		}
	}
	return 0;
}

static int open_candidate(const struct candidate *c, uid_t uid,
                          enum pfi_rundir_use use, struct pfi_rundir *rd,
                          struct problem *p)
{
	struct pfi_walk w;
	int r = pfi_walk_begin(&w, uid, p);
	if (r >= 0)
		r = pfi_walk_path(&w, c->base, p);
	if (r >= 0)
		r = walk_own(&w, c, use, rd, p);
	if (r == 0)
		r = pfi_walk_finish(&w, p);
	if (r == PFI_RUNDIR_NONE_YET) {
		rd->fd = -1;
		rd->via_proc[0] = '\0';
	} else if (r >= 0) {
		rd->fd = r;
		snprintf(rd->path, sizeof rd->path, "%s", w.path);
		snprintf(rd->via_proc, sizeof rd->via_proc,
			 "/proc/self/fd/%d", rd->fd);
		r = 0;
	}
	pfi_walk_end(&w);
	return r;
}

/* Tries one candidate; on failure adds its problem to `notes`. */
static int try_candidate(const struct candidate *c, uid_t uid,
                         enum pfi_rundir_use use, struct pfi_rundir *rd,
                         char *notes, size_t cap, struct problem *p)
{
	int r = open_candidate(c, uid, use, rd, p);
	if (r >= 0)
		return r;
	/* Cut short rather than lost if the line gets long. */
	size_t len = strlen(notes);
	if (len && len + 2 < cap) {
		memcpy(notes + len, "; ", 3);
		len += 2;
	}
	size_t room = cap - len - 1, m = strlen(p->msg);
	memcpy(notes + len, p->msg, m < room ? m : room);
	notes[len + (m < room ? m : room)] = '\0';
	return -1;
}

static int open_default(uid_t uid, enum pfi_rundir_use use,
                        struct pfi_rundir *rd, struct problem *p)
{
	char user_run[64], uid_name[24], host[256] = "";
	char notes[sizeof p->msg] = "";
	int r;

	snprintf(user_run, sizeof user_run, "/run/user/%u", (unsigned)uid);
	struct candidate c = { user_run, { "prefork-interp" } };
	if ((r = try_candidate(&c, uid, use, rd, notes, sizeof notes, p)) >= 0)
		return r;

	/* Only now, as it costs a password database look-up; and not
	 * $HOME: the environment is the caller's to choose. */
	struct passwd *pw = getpwuid(uid);
	if (gethostname(host, sizeof host - 1) < 0 || !host[0] ||
	    strchr(host, '/') || !strcmp(host, ".") || !strcmp(host, ".."))
		host[0] = '\0';
	if (pw && pw->pw_dir && pw->pw_dir[0] == '/' && host[0]) {
		c = (struct candidate){ pw->pw_dir, { ".prefork-interp", host } };
		r = try_candidate(&c, uid, use, rd, notes, sizeof notes, p);
		if (r >= 0)
			return r;
	}

	snprintf(uid_name, sizeof uid_name, "%u", (unsigned)uid);
	c = (struct candidate){ PFI_SYSTEM_RUN_DIR, { uid_name } };
	if ((r = try_candidate(&c, uid, use, rd, notes, sizeof notes, p)) >= 0)
		return r;
	return problem_fail(p, ENOENT, "no safe run directory (%s); %s",
			    notes, FIX_HINT);
}

int pfi_rundir_open(const char *override, enum pfi_rundir_use use,
                    struct pfi_rundir *rd, struct problem *p)
{
	uid_t uid = geteuid();

	rd->fd = -1;
	if (!override)
		return open_default(uid, use, rd, p);
	if (!*override)
		return problem_fail(p, EINVAL, "run directory override is "
				    "empty; " FIX_HINT);
	char own[40];
	snprintf(own, sizeof own, "prefork-interp-%u", (unsigned)uid);
	struct candidate c = { override, { own } };
	int r = open_candidate(&c, uid, use, rd, p);
	if (r < 0) {
		struct problem first = *p;
		return problem_fail(p, -r, "%s; %s", first.msg, FIX_HINT);
	}
	return r;
}

int pfi_rundir_reachable(const struct pfi_rundir *rd, struct problem *p)
{
	if (rd->fd < 0 || access(rd->via_proc, F_OK) == 0)
		return 0;
	return problem_errno(p, errno, "the run directory '%s' cannot be "
			     "reached through %s (is /proc mounted?)",
			     rd->path, rd->via_proc);
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
