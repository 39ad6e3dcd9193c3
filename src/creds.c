#include "creds.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int read_groups(struct pfi_creds *c, struct problem *p)
{
	int n = getgroups(0, NULL);
	if (n < 0)
		return problem_errno(p, errno, "cannot read our groups");
	c->groups = calloc((size_t)n + 1, sizeof *c->groups);
	if (!c->groups)
		return problem_errno(p, ENOMEM, "reading our groups");
	n = getgroups(n, c->groups);
	if (n < 0)
		return problem_errno(p, errno, "cannot read our groups");
	c->n_groups = (size_t)n;
	return 0;
}

/* One bit per capability the kernel knows, from a per-capability
 * query that fails with EINVAL past the last one. */
static uint64_t cap_bits(int (*is_set)(int cap))
{
	uint64_t bits = 0;
	for (int cap = 0; cap < 64; cap++) {
		int r = is_set(cap);
		if (r < 0)
			break;
		if (r > 0)
			bits |= 1ull << cap;
	}
	return bits;
}

static int in_bounding(int cap)
{
	return prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
}

static int in_ambient(int cap)
{
	return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
}

static int read_caps(struct pfi_creds *c, struct problem *p)
{
	struct __user_cap_header_struct head = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &head, data) < 0)
		return problem_errno(p, errno, "cannot read our capabilities");
	c->cap_inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	c->cap_prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	c->cap_eff = data[0].effective | (uint64_t)data[1].effective << 32;
	c->cap_bnd = cap_bits(in_bounding);
	c->cap_amb = cap_bits(in_ambient);   /* 0 on kernels without ambient */
	return 0;
}

/* "N N N N" (Uid, Gid) into four ids; "N N ..." (Groups) into a list. */
static int parse_ids(const char *v, size_t n, uint32_t *out, size_t max,
                     size_t *count)
{
	size_t k = 0;
	const char *end = v + n;
	while (v < end) {
		if (*v == ' ' || *v == '\t') {
			v++;
			continue;
		}
		uint64_t x = 0;
		const char *start = v;
		while (v < end && *v >= '0' && *v <= '9' && v - start < 10)
			x = x * 10 + (uint64_t)(*v++ - '0');
		if (v == start || x > UINT32_MAX || k == max ||
		    (v < end && *v != ' ' && *v != '\t'))
			return -ENOENT;
		out[k++] = (uint32_t)x;
	}
	*count = k;
	return 0;
}

static int from_proc_status(struct pfi_creds *c,
                            const struct pfi_proc_status *ps,
                            struct problem *p)
{
	size_t n, k;
	const char *v;
	uint32_t ids[4];
	if (!(v = pfi_proc_status_field(ps, "Uid", &n)) ||
	    parse_ids(v, n, ids, 4, &k) < 0 || k != 4)
		return -ENOENT;
	for (int i = 0; i < 4; i++)
		c->uid[i] = ids[i];
	if (!(v = pfi_proc_status_field(ps, "Gid", &n)) ||
	    parse_ids(v, n, ids, 4, &k) < 0 || k != 4)
		return -ENOENT;
	for (int i = 0; i < 4; i++)
		c->gid[i] = ids[i];
	if (pfi_proc_status_hex64(ps, "CapInh", &c->cap_inh) < 0 ||
	    pfi_proc_status_hex64(ps, "CapPrm", &c->cap_prm) < 0 ||
	    pfi_proc_status_hex64(ps, "CapEff", &c->cap_eff) < 0 ||
	    pfi_proc_status_hex64(ps, "CapBnd", &c->cap_bnd) < 0 ||
	    pfi_proc_status_hex64(ps, "CapAmb", &c->cap_amb) < 0)
		return -ENOENT;
	const char *nnp = pfi_proc_status_field(ps, "NoNewPrivs", &n);
	if (!nnp || n != 1 || (*nnp != '0' && *nnp != '1'))
		return -ENOENT;
	c->no_new_privs = *nnp - '0';
	const char *sc = pfi_proc_status_field(ps, "Seccomp", &n);
	if (!sc || n != 1 || *sc < '0' || *sc > '2')
		return -ENOENT;
	c->seccomp = *sc - '0';
	if (!(v = pfi_proc_status_field(ps, "Groups", &n)))
		return -ENOENT;
	/* at most one group per two characters of the line */
	size_t max = n / 2 + 1;
	uint32_t *g = calloc(max, sizeof *g);
	if (!g)
		return problem_errno(p, ENOMEM, "reading our groups");
	if (parse_ids(v, n, g, max, &k) < 0) {
		free(g);
		return -ENOENT;
	}
	c->groups = calloc(k + 1, sizeof *c->groups);
	if (!c->groups) {
		free(g);
		return problem_errno(p, ENOMEM, "reading our groups");
	}
	for (size_t i = 0; i < k; i++)
		c->groups[i] = g[i];
	c->n_groups = k;
	free(g);
	return 0;
}

static int from_kernel(struct pfi_creds *c, struct problem *p)
{
	if (getresuid(&c->uid[0], &c->uid[1], &c->uid[2]) < 0 ||
	    getresgid(&c->gid[0], &c->gid[1], &c->gid[2]) < 0)
		return problem_errno(p, errno, "cannot read our uids and gids");
	/* An invalid id changes nothing and returns the current one. */
	c->uid[3] = (uid_t)setfsuid((uid_t)-1);
	c->gid[3] = (gid_t)setfsgid((gid_t)-1);

	int r;
	if ((r = read_groups(c, p)) < 0 || (r = read_caps(c, p)) < 0)
		return r;
	c->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	/* Only filter mode (2) can run us: strict mode forbids execve. */
	c->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	if (c->no_new_privs < 0 || c->seccomp < 0)
		return problem_errno(p, errno, "cannot read our privilege "
				     "settings");
	return 0;
}

int pfi_creds_collect(struct pfi_creds *c, const struct pfi_proc_status *ps,
                      struct problem *p)
{
	memset(c, 0, sizeof *c);
	int r = from_proc_status(c, ps, p);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r < 0) {
		pfi_creds_free(c);
		memset(c, 0, sizeof *c);
		if ((r = from_kernel(c, p)) < 0)
			return r;
	}
	/* The only one /proc/self/status does not show. */
	c->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (c->securebits < 0)
		return problem_errno(p, errno, "cannot read our securebits");
	return 0;
}

void pfi_creds_free(struct pfi_creds *c)
{
	free(c->groups);
	c->groups = NULL;
	c->n_groups = 0;
}

void pfi_creds_feed(const struct pfi_creds *c, pfi_creds_sink *sink,
                    void *ctx)
{
	uint64_t ids[8];
	for (int i = 0; i < 4; i++) {
		ids[i] = c->uid[i];
		ids[4 + i] = c->gid[i];
	}
	sink(ctx, ids, sizeof ids);
	uint64_t n = c->n_groups;
	sink(ctx, &n, sizeof n);
	for (size_t i = 0; i < c->n_groups; i++) {
		uint64_t g = c->groups[i];
		sink(ctx, &g, sizeof g);
	}
	uint64_t rest[8] = { c->cap_inh, c->cap_prm, c->cap_eff, c->cap_bnd,
			     c->cap_amb, (uint64_t)c->no_new_privs,
			     (uint64_t)c->securebits, (uint64_t)c->seccomp };
	sink(ctx, rest, sizeof rest);
}
