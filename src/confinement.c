#include "confinement.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FILE_MAX (64 << 10)    /* more than any /proc file read here */
#define MOST_CPUS (1 << 20)    /* the largest affinity mask asked for */

/* Every namespace a process has (namespaces(7)); the *_for_children
 * ones are those the call itself is created in. */
static const char *const ns_names[] = {
	"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time",
	"time_for_children", "user", "uts",
};

int pfi_confinement_add(struct pfi_confinement *c, const char *key,
                        const char *value, size_t len)
{
	char head[64];
	int n = snprintf(head, sizeof head, "%s=%zu:", key, len);
	if (n < 0 || (size_t)n >= sizeof head)
		return -EINVAL;
	size_t need = c->len + (size_t)n + len + 1;
	if (need > c->cap) {
		size_t cap = c->cap ? c->cap : 1024;
		while (cap < need)
			cap *= 2;
		char *text = realloc(c->text, cap);
		if (!text)
			return -ENOMEM;
		c->text = text;
		c->cap = cap;
	}
	memcpy(c->text + c->len, head, (size_t)n);
	memcpy(c->text + c->len + n, value, len);
	c->len += (size_t)n + len;
	c->text[c->len++] = '\n';
	return 0;
}

static int add_str(struct pfi_confinement *c, const char *key, const char *v)
{
	return pfi_confinement_add(c, key, v, strlen(v));
}

/* What could not be read stands as "!errno": a value of its own. */
static int add_errno(struct pfi_confinement *c, const char *key, int err)
{
	char v[16];
	snprintf(v, sizeof v, "!%d", err);
	return add_str(c, key, v);
}

static int add_long(struct pfi_confinement *c, const char *key, long v)
{
	char s[32];
	snprintf(s, sizeof s, "%ld", v);
	return add_str(c, key, s);
}

static int add_file(struct pfi_confinement *c, const char *key,
                    const char *path, char *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return add_errno(c, key, errno);
	size_t got = 0;
	while (got < FILE_MAX) {
		ssize_t n = read(fd, buf + got, FILE_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			return add_errno(c, key, err);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	/* Never cut short: a longer file than expected is a value of its
	 * own, not the same as another that shares its beginning. */
	char more;
	ssize_t extra = got == FILE_MAX ? read(fd, &more, 1) : 0;
	close(fd);
	if (extra != 0)
		return add_errno(c, key, EFBIG);
	return pfi_confinement_add(c, key, buf, got);
}

static int add_namespaces(struct pfi_confinement *c)
{
	for (size_t i = 0; i < sizeof ns_names / sizeof *ns_names; i++) {
		char path[64], key[32], link[128];
		snprintf(path, sizeof path, "/proc/self/ns/%s", ns_names[i]);
		snprintf(key, sizeof key, "ns.%s", ns_names[i]);
		ssize_t n = readlink(path, link, sizeof link);
		int r;
		if (n < 0)
			r = add_errno(c, key, errno);
		else if (n == (ssize_t)sizeof link)     /* "type:[inode]" is short */
			r = add_errno(c, key, ENAMETOOLONG);
		else
			r = pfi_confinement_add(c, key, link, (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The affinity mask in hex, in a set as large as the kernel needs. */
static int add_cpus(struct pfi_confinement *c)
{
	for (int n = 1024; n <= MOST_CPUS; n *= 2) {
		size_t size = CPU_ALLOC_SIZE(n);
		cpu_set_t *set = CPU_ALLOC(n);
		if (!set)
			return -ENOMEM;
		if (sched_getaffinity(0, size, set) < 0) {
			int err = errno;
			CPU_FREE(set);
			if (err == EINVAL)
				continue;       /* more CPUs than this set holds */
			return add_errno(c, "cpus", err);
		}
		char *hex = malloc(2 * size + 1);
		if (!hex) {
			CPU_FREE(set);
			return -ENOMEM;
		}
		const unsigned char *bytes = (const unsigned char *)set;
		for (size_t i = 0; i < size; i++)
			snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
		int r = pfi_confinement_add(c, "cpus", hex, 2 * size);
		free(hex);
		CPU_FREE(set);
		return r;
	}
	return add_errno(c, "cpus", EINVAL);
}

static int add_scheduling(struct pfi_confinement *c)
{
	int r;
	/* With SCHED_RESET_ON_FORK in the policy, as the kernel reports it. */
	int policy = sched_getscheduler(0);
	struct sched_param sp;
	if ((r = policy < 0 ? add_errno(c, "sched.policy", errno)
	                    : add_long(c, "sched.policy", policy)) < 0)
		return r;
	if ((r = sched_getparam(0, &sp) < 0
	         ? add_errno(c, "sched.priority", errno)
	         : add_long(c, "sched.priority", sp.sched_priority)) < 0)
		return r;
	/* ioprio_get(IOPRIO_WHO_PROCESS, self): glibc has no wrapper. */
	long io = syscall(SYS_ioprio_get, 1, 0);
	if ((r = io < 0 ? add_errno(c, "ioprio", errno)
	                : add_long(c, "ioprio", io)) < 0)
		return r;
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if ((r = slack < 0 ? add_errno(c, "timerslack", errno)
	                   : add_long(c, "timerslack", slack)) < 0)
		return r;
	int pers = personality(0xffffffff);
	return pers < 0 ? add_errno(c, "personality", errno)
	                : add_long(c, "personality", pers);
}

/* The NUMA memory policy (numactl --membind, --interleave): mode and
 * node mask, which fork and exec both keep.  No kernel has more than
 * 1024 nodes; get_mempolicy wants room for all it could have. */
static int add_mempolicy(struct pfi_confinement *c)
{
	unsigned long nodes[4096 / (8 * sizeof(unsigned long))] = { 0 };
	int mode;
	if (syscall(SYS_get_mempolicy, &mode, nodes, 8 * sizeof nodes,
		    NULL, 0UL) < 0)
		return add_errno(c, "mempolicy", errno);
	char text[16 + 2 * sizeof nodes];
	int n = snprintf(text, sizeof text, "%d:", mode);
	const unsigned char *bytes = (const unsigned char *)nodes;
	for (size_t i = 0; i < sizeof nodes; i++)
		n += snprintf(text + n, sizeof text - (size_t)n, "%02x", bytes[i]);
	return pfi_confinement_add(c, "mempolicy", text, (size_t)n);
}

/* Newer than Debian 12's headers; older kernels answer EINVAL. */
#ifndef PR_GET_MDWE
#define PR_GET_MDWE 66
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif

/* Per-process switches a child inherits: memory-deny-write-execute (a
 * systemd unit's MemoryDenyWriteExecute= on newer kernels), THP and
 * KSM opt-outs, and speculation mitigations a caller opted into. */
static int add_switches(struct pfi_confinement *c)
{
	static const struct { const char *key; int option; long arg; } sw[] = {
		{ "mdwe", PR_GET_MDWE, 0 },
		{ "thp_disable", PR_GET_THP_DISABLE, 0 },
		{ "memory_merge", PR_GET_MEMORY_MERGE, 0 },
		{ "spec.store_bypass", PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS },
		{ "spec.indirect_branch", PR_GET_SPECULATION_CTRL, PR_SPEC_INDIRECT_BRANCH },
		{ "spec.l1d_flush", PR_GET_SPECULATION_CTRL, PR_SPEC_L1D_FLUSH },
	};
	for (size_t i = 0; i < sizeof sw / sizeof *sw; i++) {
		int v = prctl(sw[i].option, sw[i].arg, 0, 0, 0);
		int r = v < 0 ? add_errno(c, sw[i].key, errno)
		              : add_long(c, sw[i].key, v);
		if (r < 0)
			return r;
	}
	return 0;
}

int pfi_confinement_collect(struct pfi_confinement *c, struct problem *p)
{
	*c = (struct pfi_confinement){ 0 };
	char *buf = malloc(FILE_MAX);
	int r = buf ? 0 : -ENOMEM;
	if (r == 0)
		r = add_namespaces(c);
	if (r == 0)
		r = add_file(c, "cgroup", "/proc/self/cgroup", buf);
	/* The security label of the first major module, and AppArmor's
	 * where it is stacked behind another. */
	if (r == 0)
		r = add_file(c, "label", "/proc/self/attr/current", buf);
	if (r == 0)
		r = add_file(c, "label.apparmor",
			     "/proc/self/attr/apparmor/current", buf);
	if (r == 0)
		r = add_file(c, "oom_score_adj", "/proc/self/oom_score_adj", buf);
	if (r == 0)
		r = add_cpus(c);
	if (r == 0)
		r = add_scheduling(c);
	if (r == 0)
		r = add_mempolicy(c);
	if (r == 0)
		r = add_switches(c);
	free(buf);
	if (r < 0) {
		pfi_confinement_free(c);
		return problem_errno(p, -r, "cannot note where we run");
	}
	return 0;
}

void pfi_confinement_free(struct pfi_confinement *c)
{
	free(c->text);
	*c = (struct pfi_confinement){ 0 };
}
