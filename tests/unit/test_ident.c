/* Unit tests for pfi_ident_compute(): the same invocation always names
 * the same server, and each input that must separate servers does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "callerstate.h"
#include "ident.h"

/* The credentials every IDENT() below uses (tests change one field). */
static struct pfi_creds creds;
static struct pfi_caller_state caller;
static struct pfi_confinement conf;

/* Parses argv and computes its ident into out. */
static void ident_of(char *const *argv, char out[PFI_IDENT_BUF])
{
	struct pfi_options o;
	struct problem p = { 0 };
	int argc = 0;
	while (argv[argc])
		argc++;
	assert_int_equal(pfi_options_parse(argc, argv, &o, &p), 0);
	assert_int_equal(pfi_ident_compute(&o, &creds, &caller, &conf, out, &p), 0);
	pfi_options_free(&o);
}

#define IDENT(out, ...) do {                                           \
		char *argv_[] = { "prefork-interp", __VA_ARGS__, NULL };   \
		ident_of(argv_, out);                                      \
	} while (0)

static void test_stable_and_hex(void **state)
{
	char a[PFI_IDENT_BUF], b[PFI_IDENT_BUF];
	IDENT(a, "-U", "perl", "script", "arg1");
	IDENT(b, "-U", "perl", "script", "other", "args");
	assert_string_equal(a, b);         /* script args do not matter */
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	/* the same server whichever usage form names it */
	IDENT(b, "-U,perl", "script");
	assert_string_equal(a, b);
	IDENT(b, "-U perl", "script");
	assert_string_equal(a, b);
}

static void test_inputs_separate_servers(void **state)
{
	char base[PFI_IDENT_BUF], x[PFI_IDENT_BUF];
	IDENT(base, "-U", "perl", "script");
	IDENT(x, "-U", "perl", "script2");
	assert_string_not_equal(base, x);
	IDENT(x, "-U", "python3", "script");
	assert_string_not_equal(base, x);
	IDENT(x, "-U,perl,-w", "script");
	assert_string_not_equal(base, x);
	IDENT(x, "-U", "-G", "a", "perl", "script");
	assert_string_not_equal(base, x);
	/* a laundered server never answers an unlaundered client */
	IDENT(x, "-L", "perl", "script");
	assert_string_not_equal(base, x);
}

static void test_item_order_and_boundaries(void **state)
{
	char ab[PFI_IDENT_BUF], ba[PFI_IDENT_BUF], joined[PFI_IDENT_BUF];
	IDENT(ab, "-U", "-G", "a", "-G", "b", "perl", "s");
	IDENT(ba, "-U", "-G", "b", "-G", "a", "perl", "s");
	assert_string_not_equal(ab, ba);
	/* length-prefixed items: "a"+"b" is not "ab" */
	IDENT(joined, "-U", "-G", "ab", "perl", "s");
	assert_string_not_equal(ab, joined);
	/* -G X and -E X differ even with identical strings */
	IDENT(ab, "-U", "-G", "HOME", "perl", "s");
	IDENT(ba, "-U", "-E", "HOME", "perl", "s");
	assert_string_not_equal(ab, ba);
	/* ... already in the family part (pre-cleaning bounds the -E
	 * values of one family), not only through the -E value */
	assert_memory_not_equal(ab, ba, PFI_IDENT_FAMILY_LEN);
}

static void test_env_value_and_absence(void **state)
{
	char unset[PFI_IDENT_BUF], empty[PFI_IDENT_BUF], one[PFI_IDENT_BUF],
	     two[PFI_IDENT_BUF], again[PFI_IDENT_BUF];
	unsetenv("PFI_IDENT_TEST");
	IDENT(unset, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "", 1);
	IDENT(empty, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "1", 1);
	IDENT(one, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "2", 1);
	IDENT(two, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "1", 1);
	IDENT(again, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	assert_string_not_equal(unset, empty);   /* absent is not empty */
	assert_string_not_equal(empty, one);
	assert_string_not_equal(one, two);
	assert_string_equal(one, again);
	unsetenv("PFI_IDENT_TEST");
}

static void test_working_directory(void **state)
{
	char here[PFI_IDENT_BUF], root[PFI_IDENT_BUF];
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	/* from a directory of its own, which is never "/" */
	char dir[] = "/tmp/pfi-ident-cwd-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	IDENT(here, "-U", "perl", "s");
	assert_int_equal(chdir("/"), 0);
	IDENT(root, "-U", "perl", "s");
	assert_int_equal(chdir(cwd), 0);
	rmdir(dir);
	assert_string_not_equal(here, root);
}

/* A scratch directory D with D/bin and D/work; returns to where we were. */
static char scratch[64];

static void make_scratch(void)
{
	strcpy(scratch, "/tmp/pfi-ident-XXXXXX");
	assert_non_null(mkdtemp(scratch));
	char sub[128];
	snprintf(sub, sizeof sub, "%s/bin", scratch);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof sub, "%s/work", scratch);
	assert_int_equal(mkdir(sub, 0700), 0);
}

static void remove_scratch(const char *back)
{
	char sub[128];
	assert_int_equal(chdir(back), 0);
	snprintf(sub, sizeof sub, "%s/bin", scratch);
	rmdir(sub);
	snprintf(sub, sizeof sub, "%s/work", scratch);
	rmdir(sub);
	rmdir(scratch);
}

static void test_spellings_share(void **state)
{
	char cwd[4096], a[PFI_IDENT_BUF], b[PFI_IDENT_BUF], path[256];
	char part[PFI_IDENT_SCRIPT_LEN + 1];
	struct problem p = { 0 };
	assert_non_null(getcwd(cwd, sizeof cwd));
	make_scratch();
	snprintf(path, sizeof path, "%s/bin", scratch);
	assert_int_equal(chdir(path), 0);

	IDENT(a, "-U", "perl", "./x");
	IDENT(b, "-U", "perl", "../bin/x");
	assert_string_equal(a, b);
	IDENT(b, "-U", "perl", "x");
	assert_string_equal(a, b);
	snprintf(path, sizeof path, "%s/work/../bin/x", scratch);
	char *by_path[] = { "prefork-interp", "-U", "perl", path, NULL };
	ident_of(by_path, b);
	assert_string_equal(a, b);
	IDENT(b, "-U", "perl", "./y");
	assert_string_not_equal(a, b);
	/* the same name in another directory, from the same working
	 * directory, is another script: another server */
	IDENT(b, "-U", "perl", "../work/x");
	assert_string_not_equal(a, b);
	assert_memory_not_equal(a, b, PFI_IDENT_SCRIPT_LEN);

	/* --kill SCRIPT matches the script part, from anywhere */
	assert_int_equal(pfi_ident_script_part("x", part, &p), 0);
	assert_memory_equal(a, part, PFI_IDENT_SCRIPT_LEN);
	snprintf(path, sizeof path, "%s/work", scratch);
	assert_int_equal(chdir(path), 0);
	IDENT(b, "-U", "perl", "../bin/x");
	assert_string_not_equal(a, b);                 /* the cwd counts */
	assert_memory_equal(a, b, PFI_IDENT_SCRIPT_LEN); /* same script */
	assert_int_equal(pfi_ident_script_part("../bin/x", part, &p), 0);
	assert_memory_equal(a, part, PFI_IDENT_SCRIPT_LEN);
	remove_scratch(cwd);
}

static void test_parts(void **state)
{
	char base[PFI_IDENT_BUF], x[PFI_IDENT_BUF];
	setenv("PFI_IDENT_TEST", "1", 1);
	IDENT(base, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "2", 1);
	IDENT(x, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	/* an -E value changes only the whole: one family */
	assert_memory_equal(base, x, PFI_IDENT_FAMILY_LEN);
	assert_string_not_equal(base, x);
	/* another -E name, -G, interpreter: another family, same script */
	IDENT(x, "-U", "-E", "PFI_IDENT_OTHER", "perl", "s");
	assert_memory_equal(base, x, PFI_IDENT_SCRIPT_LEN);
	assert_memory_not_equal(base, x, PFI_IDENT_FAMILY_LEN);
	IDENT(x, "-U", "-G", "g", "-E", "PFI_IDENT_TEST", "perl", "s");
	assert_memory_not_equal(base, x, PFI_IDENT_FAMILY_LEN);
	IDENT(x, "-U", "-E", "PFI_IDENT_TEST", "python3", "s");
	assert_memory_equal(base, x, PFI_IDENT_SCRIPT_LEN);
	assert_memory_not_equal(base, x, PFI_IDENT_FAMILY_LEN);
	/* without -E the parts still differ from each other */
	IDENT(x, "-U", "perl", "s");
	assert_memory_not_equal(x + PFI_IDENT_SCRIPT_LEN, x + PFI_IDENT_FAMILY_LEN,
				PFI_IDENT_FAMILY_LEN - PFI_IDENT_SCRIPT_LEN);
	unsetenv("PFI_IDENT_TEST");
}

static void test_names(void **state)
{
	char ident[PFI_IDENT_BUF], hex[PFI_IDENT_MAX + 2];
	struct pfi_names n;
	memset(hex, 'a', PFI_IDENT_MAX);
	hex[PFI_IDENT_MAX] = '\0';
	pfi_names_init(&n, hex);
	assert_int_equal(pfi_name_parse(n.sock, ident), PFI_NAME_SOCKET);
	assert_string_equal(ident, hex);
	assert_int_equal(pfi_name_parse(n.lock, ident), PFI_NAME_LOCK);
	assert_true(pfi_ident_is_computed(ident));
	assert_int_equal(pfi_name_parse("lmy-server_1", ident), PFI_NAME_LOCK);
	assert_false(pfi_ident_is_computed(ident));
	assert_int_equal(pfi_name_parse("l", ident), PFI_NAME_NONE);
	assert_int_equal(pfi_name_parse("s.x", ident), PFI_NAME_NONE);
	assert_int_equal(pfi_name_parse("l../x", ident), PFI_NAME_NONE);
	assert_int_equal(pfi_name_parse("xabc", ident), PFI_NAME_NONE);
	hex[PFI_IDENT_MAX] = 'a';
	hex[PFI_IDENT_MAX + 1] = '\0';
	char longer[PFI_IDENT_MAX + 3] = "s";
	strcat(longer, hex);
	assert_int_equal(pfi_name_parse(longer, ident), PFI_NAME_NONE);
}

static void test_explicit_ident(void **state)
{
	char x[PFI_IDENT_BUF];
	IDENT(x, "-U", "-g", "my-server_1", "perl", "s");
	assert_string_equal(x, "my-server_1");
}

/* Every credential that matters separates servers, also for callers
 * that differ in nothing else; -g names stay as given (the client
 * compares the server's uid, gid and groups at connect instead). */
static void test_credentials_separate_servers(void **state)
{
	char base[PFI_IDENT_BUF], other[PFI_IDENT_BUF], g[PFI_IDENT_BUF];
	struct pfi_creds saved = creds;
	gid_t more[2] = { 4242, 4343 }, *own = creds.groups;
	size_t own_n = creds.n_groups;
	IDENT(base, "-U", "perl", "s");
	for (int field = 0; field < 17; field++) {
		creds = saved;
		switch (field) {
		case 0: case 1: case 2: case 3: creds.uid[field] ^= 1; break;
		case 4: case 5: case 6: case 7: creds.gid[field - 4] ^= 1; break;
		case 8: creds.groups = more; creds.n_groups = 2; break;
		case 9: creds.cap_inh ^= 1; break;
		case 10: creds.cap_prm ^= 2; break;
		case 11: creds.cap_eff ^= 4; break;
		case 12: creds.cap_bnd ^= 1ull << 21; break;
		case 13: creds.cap_amb ^= 1ull << 12; break;
		case 14: creds.no_new_privs ^= 1; break;
		case 15: creds.securebits ^= 0x10; break;
		case 16: creds.seccomp = 2; break;
		}
		IDENT(other, "-U", "perl", "s");
		if (strcmp(base, other) == 0)
			fail_msg("credential field %d does not separate servers",
				 field);
		IDENT(g, "-U", "-g", "named", "perl", "s");
		assert_string_equal(g, "named");
	}
	creds = saved;
	creds.groups = own;
	creds.n_groups = own_n;
	IDENT(other, "-U", "perl", "s");
	assert_string_equal(base, other);
	pfi_creds_free(&creds);
}

/* What a server cannot change without privilege separates servers; what
 * it applies per call (umask, soft limits, signal sets) does not. */
static void test_state_bounds_separate_servers(void **state)
{
	char base[PFI_IDENT_BUF], other[PFI_IDENT_BUF];
	struct pfi_caller_state saved = caller;
	IDENT(base, "-U", "perl", "s");
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++) {
		caller = saved;
		caller.rlimit[i].hard ^= 1;
		IDENT(other, "-U", "perl", "s");
		if (strcmp(base, other) == 0)
			fail_msg("hard limit %s does not separate servers",
			         pfi_rlimit_names[i]);
		caller = saved;
		caller.rlimit[i].soft ^= 1;
		IDENT(other, "-U", "perl", "s");
		if (strcmp(base, other) != 0)
			fail_msg("soft limit %s separates servers (a call "
			         "applies it)", pfi_rlimit_names[i]);
	}
	caller = saved;
	caller.nice = caller.nice == 19 ? 18 : caller.nice + 1;
	IDENT(other, "-U", "perl", "s");
	assert_string_not_equal(base, other);
	caller = saved;
	caller.umask ^= 077;
	caller.rlimit[7].soft ^= 1;
	caller.sigign ^= 1;
	caller.sigblock ^= 2;
	IDENT(other, "-U", "perl", "s");
	assert_string_equal(base, other);
	caller = saved;
}

/* /proc/self/status and the direct system calls (the fallback without
 * /proc) give the same credentials and state, so both name the same
 * server. */
static void test_proc_status_agrees_with_kernel(void **state)
{
	struct pfi_proc_status self, none = { .len = 0 };
	struct problem p = { 0 };
	struct pfi_creds a, b;
	struct pfi_caller_state sa, sb;
	pfi_proc_status_read(&self);
	assert_true(self.len > 0);
	assert_int_equal(pfi_creds_collect(&a, &self, &p), 0);
	assert_int_equal(pfi_creds_collect(&b, &none, &p), 0);
	assert_memory_equal(a.uid, b.uid, sizeof a.uid);
	assert_memory_equal(a.gid, b.gid, sizeof a.gid);
	assert_int_equal(a.n_groups, b.n_groups);
	if (a.n_groups)
		assert_memory_equal(a.groups, b.groups,
				    a.n_groups * sizeof *a.groups);
	assert_int_equal(a.cap_inh, b.cap_inh);
	assert_int_equal(a.cap_prm, b.cap_prm);
	assert_int_equal(a.cap_eff, b.cap_eff);
	assert_int_equal(a.cap_bnd, b.cap_bnd);
	assert_int_equal(a.cap_amb, b.cap_amb);
	assert_int_equal(a.no_new_privs, b.no_new_privs);
	assert_int_equal(a.securebits, b.securebits);
	assert_int_equal(a.seccomp, b.seccomp);
	pfi_creds_free(&a);
	pfi_creds_free(&b);

	/* with something to see: an ignored and a blocked signal */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigset_t set, oldset;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaction(SIGHUP, &ign, &old);
	sigprocmask(SIG_BLOCK, &set, &oldset);
	pfi_proc_status_read(&self);
	assert_int_equal(pfi_caller_state_collect(&sa, &self, &p), 0);
	assert_int_equal(pfi_caller_state_collect(&sb, &none, &p), 0);
	sigaction(SIGHUP, &old, NULL);
	sigprocmask(SIG_SETMASK, &oldset, NULL);
	assert_true(sa.sigign & (1ull << (SIGHUP - 1)));
	assert_true(sa.sigblock & (1ull << (SIGUSR2 - 1)));
	/* glibc's own two real-time signals only /proc shows */
	sa.sigign &= ~(3ull << 31);
	sa.sigblock &= ~(3ull << 31);
	assert_memory_equal(&sa, &sb, sizeof sa);
}

/* Values read from /proc/self/status are the ones its text holds: a
 * status made up here, unlike this process in every field, must come
 * back field by field (the agreement test above would also pass if the
 * parser never matched and both sides asked the kernel). */
static void test_proc_status_is_parsed(void **state)
{
	static const char text[] =
		"Name:\tx\nUmask:\t0027\nState:\tR (running)\n"
		"Uid:\t101\t102\t103\t104\nGid:\t201\t202\t203\t204\n"
		"Groups:\t301 302 \nSigBlk:\t000000000000000a\n"
		"SigIgn:\t0000000000000005\nSigCgt:\t0000000000000000\n"
		"CapInh:\t0000000000000001\nCapPrm:\t0000000000000002\n"
		"CapEff:\t0000000000000004\nCapBnd:\t0000000000000008\n"
		"CapAmb:\t0000000000000010\nNoNewPrivs:\t1\nSeccomp:\t0\n";
	struct pfi_proc_status made;
	struct problem p = { 0 };
	struct pfi_creds c;
	struct pfi_caller_state st;
	memcpy(made.text, text, sizeof text - 1);
	made.len = sizeof text - 1;
	assert_int_equal(pfi_creds_collect(&c, &made, &p), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c.uid[i], 101 + i);
		assert_int_equal(c.gid[i], 201 + i);
	}
	assert_int_equal(c.n_groups, 2);
	assert_int_equal(c.groups[0], 301);
	assert_int_equal(c.groups[1], 302);
	assert_int_equal(c.cap_inh, 1);
	assert_int_equal(c.cap_prm, 2);
	assert_int_equal(c.cap_eff, 4);
	assert_int_equal(c.cap_bnd, 8);
	assert_int_equal(c.cap_amb, 16);
	assert_int_equal(c.no_new_privs, 1);
	pfi_creds_free(&c);
	assert_int_equal(pfi_caller_state_collect(&st, &made, &p), 0);
	assert_int_equal(st.umask, 027);
	assert_int_equal(st.sigign, 5);
	assert_int_equal(st.sigblock, 10);

	/* one field missing: the kernel is asked instead, for all */
	static const char partial[] = "Umask:\t0027\nUid:\t101\t102\t103\t104\n";
	memcpy(made.text, partial, sizeof partial - 1);
	made.len = sizeof partial - 1;
	assert_int_equal(pfi_creds_collect(&c, &made, &p), 0);
	assert_int_equal(c.uid[0], getuid());
	pfi_creds_free(&c);
}

/* Items are length-prefixed: no two different lists run together into
 * the same bytes. */
static void test_confinement_items_unambiguous(void **state)
{
	struct pfi_confinement a = { 0 }, b = { 0 };
	assert_int_equal(pfi_confinement_add(&a, "cgroup", "0::/a\nns.net=x", 14), 0);
	assert_int_equal(pfi_confinement_add(&b, "cgroup", "0::/a", 5), 0);
	assert_int_equal(pfi_confinement_add(&b, "ns.net", "x", 1), 0);
	assert_false(a.len == b.len && memcmp(a.text, b.text, a.len) == 0);
	assert_int_equal(b.len, strlen("cgroup=5:0::/a\nns.net=1:x\n"));
	assert_memory_equal(b.text, "cgroup=5:0::/a\nns.net=1:x\n", b.len);
	pfi_confinement_free(&a);
	pfi_confinement_free(&b);
}

static int has_item(const struct pfi_confinement *c, const char *key)
{
	size_t n = strlen(key);
	for (size_t at = 0; at + n < c->len; at++)
		if ((at == 0 || c->text[at - 1] == '\n') &&
		    memcmp(c->text + at, key, n) == 0 && c->text[at + n] == '=')
			return 1;
	return 0;
}

/* What this process reads for itself has every item, and changing
 * what a caller can change for itself (its CPUs, scheduling policy,
 * OOM adjustment, timer slack, THP opt-out, memory policy and its
 * mode alone, I/O priority, personality) names
 * another server; reading twice
 * names the same one. */
static void test_confinement_separates_servers(void **state)
{
	struct problem p = { 0 };
	struct pfi_confinement saved = conf, now;
	char base[PFI_IDENT_BUF], other[PFI_IDENT_BUF];
	const char *keys[] = { "ns.cgroup", "ns.ipc", "ns.mnt", "ns.net",
		"ns.pid", "ns.pid_for_children", "ns.time",
		"ns.time_for_children", "ns.user", "ns.uts", "cgroup", "label",
		"label.apparmor", "oom_score_adj", "cpus", "sched.policy",
		"sched.priority", "ioprio", "timerslack", "personality",
		"mempolicy", "mdwe",
		"thp_disable", "memory_merge", "spec.store_bypass",
		"spec.indirect_branch", "spec.l1d_flush" };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (!has_item(&conf, keys[i]))
			fail_msg("no item %s", keys[i]);
	IDENT(base, "-U", "perl", "s");
	assert_int_equal(pfi_confinement_collect(&now, &p), 0);
	conf = now;
	IDENT(other, "-U", "perl", "s");
	assert_string_equal(base, other);
	pfi_confinement_free(&now);

	/* One change at a time, each against the state read just before
	 * it: a change that cannot be undone without privilege (raising
	 * oom_score_adj) must not make a later one look as if it separated
	 * servers.  A change this machine cannot make is named, not
	 * silently passed. */
	static const char *const what[] = { "CPU affinity",
		"scheduling policy", "OOM score adjustment", "timer slack",
		"THP opt-out", "NUMA memory policy", "I/O priority",
		"personality", "NUMA policy mode (same nodes)" };
	int made = 0;
	for (int change = 0; change < 9; change++) {
		cpu_set_t cpus, one;
		struct sched_param sp = { 0 };
		int policy = sched_getscheduler(0);
		unsigned long slack = (unsigned long)prctl(PR_GET_TIMERSLACK);
		int applied = 0;
		long ioprio = syscall(SYS_ioprio_get, 1, 0);
		int pers = personality(0xffffffff);
		unsigned long node0 = 1;
		/* the mode alone: from "preferred node 0" to "bind node 0" */
		if (change == 8)
			syscall(SYS_set_mempolicy, 1, &node0, 8 * sizeof node0);
		assert_int_equal(pfi_confinement_collect(&now, &p), 0);
		conf = now;
		IDENT(base, "-U", "perl", "s");
		pfi_confinement_free(&now);
		conf = saved;
		errno = 0;
		switch (change) {
		case 0:
			sched_getaffinity(0, sizeof cpus, &cpus);
			if (CPU_COUNT(&cpus) < 2) {
				errno = EDOM;  /* one CPU: nothing to narrow */
				break;
			}
			CPU_ZERO(&one);
			for (int i = 0; i < CPU_SETSIZE; i++)
				if (CPU_ISSET(i, &cpus)) {
					CPU_SET(i, &one);
					break;
				}
			applied = sched_setaffinity(0, sizeof one, &one) == 0;
			break;
		case 1:
			applied = sched_setscheduler(0, policy == SCHED_BATCH ?
			                             SCHED_OTHER : SCHED_BATCH, &sp) == 0;
			break;
		case 2: {
			FILE *f = fopen("/proc/self/oom_score_adj", "w");
			applied = f && fprintf(f, "%d", 777) > 0;
			if (f && fclose(f) != 0)
				applied = 0;
			break;
		}
		case 3:
			applied = prctl(PR_SET_TIMERSLACK, slack + 1000) == 0;
			break;
		case 4:
			applied = prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0;
			break;
		case 5:
			/* MPOL_PREFERRED for node 0, as numactl --preferred=0 */
			applied = syscall(SYS_set_mempolicy, 1, &node0,
			                  8 * sizeof node0) == 0;
			break;
		case 6:
			/* the idle class, as ionice -c 3: anyone may take it */
			applied = syscall(SYS_ioprio_set, 1, 0, 3 << 13) == 0;
			break;
		case 7:
			applied = pers >= 0 &&
			          personality((unsigned long)pers ^ ADDR_NO_RANDOMIZE) >= 0;
			break;
		case 8:
			/* MPOL_BIND, as numactl --membind=0 */
			applied = syscall(SYS_set_mempolicy, 2, &node0,
			                  8 * sizeof node0) == 0;
			break;
		}
		if (!applied) {
			const char *why = errno == EDOM ? "only one CPU" : strerror(errno);
			print_message("[ LEFT OUT ] %s: this process cannot "
			              "change it here (%s)\n", what[change], why);
			continue;
		}
		made++;
		assert_int_equal(pfi_confinement_collect(&now, &p), 0);
		conf = now;
		IDENT(other, "-U", "perl", "s");
		if (strcmp(base, other) == 0)
			fail_msg("a change of %s does not separate servers",
			         what[change]);
		pfi_confinement_free(&now);
		conf = saved;
		if (change == 0)
			sched_setaffinity(0, sizeof cpus, &cpus);
		if (change == 1)
			sched_setscheduler(0, policy, &sp);
		if (change == 3)
			prctl(PR_SET_TIMERSLACK, slack);
		if (change == 4)
			prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
		if (change == 5 || change == 8)        /* MPOL_DEFAULT */
			syscall(SYS_set_mempolicy, 0, NULL, 0UL);
		if (change == 6 && ioprio >= 0)
			syscall(SYS_ioprio_set, 1, 0, ioprio);
		if (change == 7)
			personality((unsigned long)pers);
	}
	conf = saved;
	if (!made)      /* nothing could be changed: not a pass */
		skip();
}

int main(void)
{
	struct problem p = { 0 };
	struct pfi_proc_status self;
	pfi_proc_status_read(&self);
	if (pfi_creds_collect(&creds, &self, &p) < 0 ||
	    pfi_caller_state_collect(&caller, &self, &p) < 0 ||
	    pfi_confinement_collect(&conf, &p) < 0) {
		fprintf(stderr, "%s\n", p.msg);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stable_and_hex),
		cmocka_unit_test(test_inputs_separate_servers),
		cmocka_unit_test(test_item_order_and_boundaries),
		cmocka_unit_test(test_env_value_and_absence),
		cmocka_unit_test(test_working_directory),
		cmocka_unit_test(test_explicit_ident),
		cmocka_unit_test(test_state_bounds_separate_servers),
		cmocka_unit_test(test_proc_status_agrees_with_kernel),
		cmocka_unit_test(test_proc_status_is_parsed),
		cmocka_unit_test(test_credentials_separate_servers),
		cmocka_unit_test(test_confinement_items_unambiguous),
		cmocka_unit_test(test_confinement_separates_servers),
		cmocka_unit_test(test_spellings_share),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
