/* Only in prefork-interp-testhooks, never installed (src/meson.build
 * compiles this file into that executable alone).
 *
 * PFI_TEST_HOOK=WHERE:ACTION: at the hook named WHERE, announce on
 * stderr that the hook was reached, then try ACTION, and say on stderr
 * whether we survived it.  Some actions take their target from the
 * environment: PFI_TEST_HOOK_PID (a process to signal), PFI_TEST_HOOK_FD
 * (an fd the caller left open), PFI_TEST_HOOK_PATH (an AF_UNIX datagram
 * address).  Nothing here may use a system call before the attempt
 * except write(2), which the policy allows: getenv and the parsing are
 * plain memory. */
#include "testhook.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

struct hook_target {
	int sock;             /* the call socket */
	int fd;               /* $PFI_TEST_HOOK_FD, or -1 */
	pid_t pid;            /* $PFI_TEST_HOOK_PID, or 0 */
	const char *path;     /* $PFI_TEST_HOOK_PATH, or NULL */
};

static void say(const char *a, const char *b)
{
	if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 ||
	    write(2, "\n", 1) < 0)
		return;
}

/* sendmsg() of one byte without fds, as a client never sends it. */
static long sendmsg_plain(int via)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	return sendmsg(via, &msg, MSG_NOSIGNAL);
}

static long mapping(int prot, int flags, int fd)
{
	void *m = mmap(NULL, 4096, prot, flags, fd, 0);
	return m == MAP_FAILED ? -1 : 0;
}

static long act_none(const struct hook_target *t) { (void)t; return 0; }
static long act_open(const struct hook_target *t)
{ (void)t; return open("/etc/hostname", O_RDONLY); }
static long act_socket(const struct hook_target *t)
{ (void)t; return socket(AF_UNIX, SOCK_STREAM, 0); }
static long act_exec(const struct hook_target *t)
{
	char *const argv[] = { (char *)"true", NULL };
	(void)t;
	return execve("/bin/true", argv, argv + 1);
}
static long act_fork(const struct hook_target *t)
{ (void)t; return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }
static long act_ptrace(const struct hook_target *t)
{ (void)t; return ptrace(PTRACE_TRACEME, 0, 0, 0); }
static long act_mprotect(const struct hook_target *t)
{
	(void)t;
	return mprotect((void *)((uintptr_t)&say & ~(uintptr_t)4095), 4096,
			PROT_READ | PROT_WRITE | PROT_EXEC);
}
static long act_rlimit_nofile(const struct hook_target *t)
{
	struct rlimit rl = { 1, 1 };
	(void)t;
	return setrlimit(RLIMIT_NOFILE, &rl);
}
/* A core dump is a file the kernel writes (core_pattern "core": in the
 * caller's working directory) holding the client's memory, which a
 * compromised client fills as it likes: raise the soft limit to the
 * hard one, then die of a dumping signal. */
static long act_core_dump(const struct hook_target *t)
{
	struct rlimit rl;
	(void)t;
	if (getrlimit(RLIMIT_CORE, &rl) < 0)
		return -1;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		return -1;
	return kill(getpid(), SIGQUIT);
}
static long act_write_stdout(const struct hook_target *t)
{ (void)t; return write(1, "x", 1); }
static long act_kill_self_0(const struct hook_target *t)
{ (void)t; return kill(getpid(), 0); }
static long act_kill_self_term(const struct hook_target *t)
{ (void)t; return kill(getpid(), SIGTERM); }
static long act_kill_other(const struct hook_target *t)
{ return t->pid > 0 ? kill(t->pid, SIGUSR1) : -1; }
static long act_kill_group(const struct hook_target *t)
{ (void)t; return kill(0, 0); }

/* Memory: only private anonymous, never executable. */
static long act_mmap_exec(const struct hook_target *t)
{ (void)t; return mapping(PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1); }
static long act_mmap_anon(const struct hook_target *t)
{ (void)t; return mapping(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1); }
static long act_mmap_anon_shared(const struct hook_target *t)
{ (void)t; return mapping(PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1); }
static long act_mmap_shared_fd(const struct hook_target *t)
{ return mapping(PROT_READ | PROT_WRITE, MAP_SHARED, t->fd); }
static long act_mmap_private_fd(const struct hook_target *t)
{ return mapping(PROT_READ, MAP_PRIVATE, t->fd); }
static long act_mmap_fixed(const struct hook_target *t)
{
	(void)t;
	return mapping(PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1);
}

/* Sockets: only the call socket, only as the client uses it. */
static long act_send_sock(const struct hook_target *t)
{ return send(t->sock, "", 1, MSG_NOSIGNAL); }
static long act_send_sock_oob(const struct hook_target *t)
{ return send(t->sock, "", 1, MSG_NOSIGNAL | MSG_OOB); }
static long act_sendmsg_sock(const struct hook_target *t)
{ return pfi_wire_sendmsg_fd(t->sock, 0); }
static long act_send_stdout(const struct hook_target *t)
{ (void)t; return send(1, "x", 1, MSG_NOSIGNAL); }
static long act_sendmsg_stdout(const struct hook_target *t)
{ (void)t; return sendmsg_plain(1); }
static long act_sendmsg_fd(const struct hook_target *t)
{ return pfi_wire_sendmsg_fd(t->fd, 0); }
static long act_sendto_path(const struct hook_target *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!t->path || strlen(t->path) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, t->path);
	return sendto(t->fd, "x", 1, MSG_NOSIGNAL, (struct sockaddr *)&sa,
		      sizeof sa);
}
static long act_recvmsg_sock(const struct hook_target *t)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	return recvmsg(t->sock, &msg, MSG_DONTWAIT);
}
static long act_recvfrom_sock(const struct hook_target *t)
{
	char byte;
	return recvfrom(t->sock, &byte, 1, MSG_DONTWAIT, NULL, NULL);
}
static long act_read_stdin(const struct hook_target *t)
{
	char byte;
	(void)t;
	return read(0, &byte, 1);
}
static long act_read_fd(const struct hook_target *t)
{
	char byte;
	return read(t->fd, &byte, 1);
}

/* Another ABI's numbers (x86_64 only): i386's mkdir is number 39, the
 * number of x86_64's getpid, which the policy allows; only the filter's
 * architecture check stops it.  The path must lie below 4 GiB, where a
 * 32-bit argument can point: MAP_32BIT memory, which the policy allows
 * (private, anonymous). */
#if defined(__x86_64__)
static long act_mkdir_i386(const struct hook_target *t)
{
	if (!t->path || strlen(t->path) >= 4096)
		return -1;
	char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED)
		return -1;
	strcpy(low, t->path);
	long r;
	__asm__ volatile ("int $0x80"
			  : "=a"(r)
			  : "a"(39L), "b"(low), "c"(0700L)
			  : "memory", "r8", "r9", "r10", "r11");
	return r < 0 ? -1 : 0;
}
/* x32's getpid: the x86_64 number with bit 30 set. */
static long act_getpid_x32(const struct hook_target *t)
{ (void)t; return syscall(39 | 0x40000000L); }
#endif

static const struct {
	const char *name;
	long (*run)(const struct hook_target *t);
} actions[] = {
	{ "none", act_none },
	{ "open", act_open },
	{ "socket", act_socket },
	{ "exec", act_exec },
	{ "fork", act_fork },
	{ "ptrace", act_ptrace },
	{ "mprotect", act_mprotect },
	{ "rlimit-nofile", act_rlimit_nofile },
	{ "core-dump", act_core_dump },
	{ "write-stdout", act_write_stdout },
	{ "kill-self-0", act_kill_self_0 },
	{ "kill-self-term", act_kill_self_term },
	{ "kill-other", act_kill_other },
	{ "kill-group", act_kill_group },
	{ "mmap-exec", act_mmap_exec },
	{ "mmap-anon", act_mmap_anon },
	{ "mmap-anon-shared", act_mmap_anon_shared },
	{ "mmap-shared-fd", act_mmap_shared_fd },
	{ "mmap-private-fd", act_mmap_private_fd },
	{ "mmap-fixed", act_mmap_fixed },
	{ "send-sock", act_send_sock },
	{ "send-sock-oob", act_send_sock_oob },
	{ "sendmsg-sock", act_sendmsg_sock },
	{ "send-stdout", act_send_stdout },
	{ "sendmsg-stdout", act_sendmsg_stdout },
	{ "sendmsg-fd", act_sendmsg_fd },
	{ "sendto-path", act_sendto_path },
	{ "recvmsg-sock", act_recvmsg_sock },
	{ "recvfrom-sock", act_recvfrom_sock },
	{ "read-stdin", act_read_stdin },
	{ "read-fd", act_read_fd },
#if defined(__x86_64__)
	{ "mkdir-i386", act_mkdir_i386 },
	{ "getpid-x32", act_getpid_x32 },
#endif
};

void pfi_test_hook(const char *where, int sock)
{
	const char *spec = getenv("PFI_TEST_HOOK");
	size_t wl = strlen(where);
	if (!spec || strncmp(spec, where, wl) || spec[wl] != ':')
		return;
	const char *action = spec + wl + 1;
	const char *pid = getenv("PFI_TEST_HOOK_PID");
	const char *fd = getenv("PFI_TEST_HOOK_FD");
	const struct hook_target t = {
		.sock = sock, .fd = fd ? atoi(fd) : -1,
		.pid = pid ? (pid_t)atol(pid) : 0,
		.path = getenv("PFI_TEST_HOOK_PATH"),
	};

	say("pfi-test-hook: reached ", spec);
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		if (strcmp(action, actions[i].name))
			continue;
		if (actions[i].run == act_none)
			return;
		long r = actions[i].run(&t);
		say("pfi-test-hook: survived ",
		    r < 0 ? "(call failed)" : "(call succeeded)");
		return;
	}
	say("pfi-test-hook: unknown action ", action);
	_exit(125);
}
