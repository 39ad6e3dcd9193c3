#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childsig.h"
#include "fd.h"
#include "forkfail.h"
#include "launder.h"
#include "watcher.h"

/* The fds a setup process is handed, in chiark-utils' order. */
struct setup_fds {
	int listen, call, watch_in, watch_err;
};

static int make_listener(const struct pfi_rundir *rd, const char *sock_name,
                         struct stat *bound, struct problem *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (pfi_rundir_entry_path(rd, sock_name, sa.sun_path,
				  sizeof sa.sun_path) < 0)
		return problem_fail(p, ENAMETOOLONG, "socket path too long");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return problem_errno(p, errno, "cannot create a socket");
	/* Mode 0600 whatever the caller's umask: ours.c takes a socket for
	 * ours only if nobody else may write to it. */
	mode_t old_umask = umask(0177);
	int bound_ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	umask(old_umask);
	if (!bound_ok ||
	    fstatat(rd->fd, sock_name, bound, AT_SYMLINK_NOFOLLOW) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int err = errno;
		close(fd);
		return problem_errno(p, err, "cannot listen on '%s/%s'",
				     rd->path, sock_name);
	}
	return fd;
}

static int keep_across_exec(int fd)
{
	return fcntl(fd, F_SETFD, 0);
}

/* The server outlives the caller that starts it, so it must hold none of
 * that caller's other fds: a pipe kept open would leave the caller's
 * reader waiting for EOF, and every later call's executor would inherit
 * it.  Closes every fd from 3 up except those in `keep`. */
static void close_other_fds(int *keep, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned from = 3;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			pfi_fd_close_range(from, (unsigned)keep[i] - 1);
		from = (unsigned)keep[i] + 1;
	}
	pfi_fd_close_range(from, ~0U);
}

/* In the child: becomes the interpreter running the script.  Reports an
 * exec failure's errno through `err_pipe` (close-on-exec). */
static void __attribute__((noreturn))
become_setup(const struct pfi_options *o, const struct setup_fds *f,
             const struct stat *bound, int err_pipe)
{
	int err = 0;
	if (keep_across_exec(f->listen) < 0 || keep_across_exec(f->call) < 0 ||
	    keep_across_exec(f->watch_in) < 0 ||
	    keep_across_exec(f->watch_err) < 0)
		goto fail;

	/* -L: nothing of the caller's environment but the -E variables
	 * (and, below, none of its arguments) reaches the initialisation;
	 * the interpreter is also looked up in the fixed PATH. */
	if (o->laundered && (errno = -pfi_launder_environment(o)) != 0)
		goto fail;

	char env[160];
	/* ",xdata": we decode the greeting's xdata length as the protocol
	 * says (big-endian), so the server may offer extensions there;
	 * chiark-utils' client does not, and gets none. */
	snprintf(env, sizeof env, "v1,%lld.%09ld,xdata %d,%d,%d,%d",
		 (long long)bound->st_mtim.tv_sec, (long)bound->st_mtim.tv_nsec,
		 f->listen, f->call, f->watch_in, f->watch_err);
	if (setenv("PREFORK_INTERP", env, 1) < 0)
		goto fail;
	int keep[] = { f->listen, f->call, f->watch_in, f->watch_err, err_pipe };
	close_other_fds(keep, sizeof keep / sizeof keep[0]);
	/* The script's initialisation must not read the caller's stdin
	 * or write to its stdout: those belong to the first call.  Only
	 * now, with the caller's other fds closed: they may take every
	 * number its limit on open files allows (ulimit -n 40, fds 3 to
	 * 30, and the client's own). */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0)
		goto fail;

	const char **argv = pfi_script_argv(o);
	if (!argv)
		goto fail;
	if (o->laundered)
		argv[o->n_interp_args + 2] = NULL;
	pfi_childsig_give_back();
	execvp(o->interp, (char *const *)argv);
fail:
	err = errno;
	if (write(err_pipe, &err, sizeof err) < 0)
		_exit(126);
	_exit(127);
}

static int wait_for(pid_t pid, int *status, struct problem *p)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return problem_errno(p, errno, "waiting for the setup");
	return 0;
}

/* Runs the setup and waits for it to hand over to the server. */
static int run_setup(const struct pfi_options *o, const struct setup_fds *f,
                     const struct stat *bound, int *setup_status,
                     struct problem *p)
{
	int err_pipe[2];
	if (pipe2(err_pipe, O_CLOEXEC) < 0)
		return problem_errno(p, errno, "cannot create a pipe");
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(err_pipe[0]);
		close(err_pipe[1]);
		return pfi_fork_failed(p, err, "the setup");
	}
	if (pid == 0)
		become_setup(o, f, bound, err_pipe[1]);
	close(err_pipe[1]);

	int exec_err = 0;
	ssize_t got;
	while ((got = read(err_pipe[0], &exec_err, sizeof exec_err)) < 0 &&
	       errno == EINTR)
		;
	close(err_pipe[0]);
	int r = wait_for(pid, setup_status, p);
	if (r < 0)
		return r;
	if (got == sizeof exec_err)
		return problem_errno(p, exec_err, "cannot run interpreter '%s'",
				     o->interp);
	if (*setup_status != 0)
		return -ECHILD;
	return 0;
}

/* Everything but the clean-up of the socket after a failure. */
static int spawn(const struct pfi_options *o, const struct pfi_rundir *rd,
                 const struct pfi_names *names, int *setup_status,
                 struct problem *p)
{
	AUTO_CLOSE_PAIR int watch_in[2] = { -1, -1 };
	AUTO_CLOSE_PAIR int watch_err[2] = { -1, -1 };
	AUTO_CLOSE_PAIR int call[2] = { -1, -1 };
	AUTO_CLOSE int listen_fd = -1;
	struct stat bound;
	int r;

	if ((r = pfi_names_remove_socket(rd, names, p)) < 0)
		return r;
	if ((listen_fd = make_listener(rd, names->sock, &bound, p)) < 0)
		return listen_fd;
	if (pipe2(watch_in, O_CLOEXEC) < 0 || pipe2(watch_err, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, call) < 0)
		return problem_errno(p, errno, "cannot create the server's pipes");
	if (fcntl(watch_err[0], F_SETFL, O_NONBLOCK) < 0)
		return problem_errno(p, errno, "fcntl");

	struct pfi_watch w = {
		.rd = rd, .sock_name = names->sock, .script = o->script,
		.dev = bound.st_dev, .ino = bound.st_ino,
		.stdin_fd = watch_in[0], .out_fd = watch_err[1],
	};
	if ((r = pfi_watcher_start(&w, p)) < 0)
		return r;
	/* The watcher's ends are its own: the setup must not inherit them. */
	pfi_fd_close(&watch_in[0]);
	pfi_fd_close(&watch_err[1]);

	const struct setup_fds f = {
		.listen = listen_fd, .call = call[1],
		.watch_in = watch_in[1], .watch_err = watch_err[0],
	};
	if ((r = run_setup(o, &f, &bound, setup_status, p)) < 0)
		return r;
	return pfi_fd_take(&call[0]);
}

int pfi_spawn_server(const struct pfi_options *o, const struct pfi_rundir *rd,
                     const struct pfi_names *names, int *setup_status,
                     struct problem *p)
{
	*setup_status = 0;
	int r = spawn(o, rd, names, setup_status, p);
	if (r < 0) {
		struct problem ignored;
		pfi_names_remove_socket(rd, names, &ignored);
	}
	return r;
}
