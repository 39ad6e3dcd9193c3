/* prefork-interp: run a script through its warm, persistent server.
 * This file only sequences the steps; each lives in its own file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include "call.h"
#include "config.h"
#include "ident.h"
#include "options.h"
#include "problem.h"
#include "rundir.h"
#include "sandbox.h"
#include "server.h"
#include "status.h"

static void __attribute__((noreturn)) fail(const struct problem *p, int code)
{
	fprintf(stderr, "prefork-interp: %s\n", p->msg);
	exit(code);
}

/* A closed stdin, stdout or stderr would be reused by the first file we
 * open and could not be passed to the server: put /dev/null there. */
static int ensure_stdio_open(struct problem *p)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int null = open("/dev/null", O_RDWR);
		if (null != fd)
			return problem_errno(p, errno, "cannot fill fd %d", fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct problem p = { 0 };
	struct pfi_options o;
	struct pfi_rundir rd;
	struct pfi_names names;
	struct pfi_reached server;
	char ident[PFI_IDENT_BUF];
	int setup_status, status;

	if (getauxval(AT_SECURE)) {
		problem_fail(&p, EPERM, "refusing to run set-uid or set-gid "
			     "(AT_SECURE): a caller could steer another "
			     "user's server");
		fail(&p, 126);
	}
	if (ensure_stdio_open(&p) < 0)
		fail(&p, 127);

	if (pfi_options_parse(argc, argv, &o, &p) < 0)
		fail(&p, 127);
	if (o.want_help) {
		fputs(pfi_usage, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (o.want_version) {
		printf("prefork-interp %s (sandbox %s)\n", PFI_VERSION,
		       pfi_sandbox_built_in() ? "on" : "off (debug build)");
		return fflush(stdout) == 0 ? 0 : 1;
	}

	if (pfi_ident_compute(&o, ident, &p) < 0)
		fail(&p, 127);
	if (pfi_rundir_open(o.run_dir ? o.run_dir : getenv(PFI_RUN_DIR_ENV),
			    &rd, &p) < 0)
		fail(&p, 127);
	pfi_names_init(&names, ident);

	if (o.mode == PFI_MODE_KILL) {
		if (pfi_server_kill(&rd, &names, &p) < 0)
			fail(&p, 127);
		return 0;
	}

	int r = pfi_server_reach(&o, &rd, &names, &server, &setup_status, &p);
	if (r == -ECHILD) {
		/* The script's own message is already on stderr; the caller
		 * then gets the status a standalone run would have given. */
		fprintf(stderr, "prefork-interp: initialisation of '%s' failed "
			"(%s %d)\n", o.script,
			WIFEXITED(setup_status) ? "exit status" : "signal",
			WIFEXITED(setup_status) ? WEXITSTATUS(setup_status)
						: WTERMSIG(setup_status));
		pfi_status_reproduce(setup_status, &p);
		fail(&p, 127);
	}
	if (r < 0)
		fail(&p, 127);
	pfi_rundir_close(&rd);

	if (pfi_sandbox_enter(server.fd, &p) < 0)
		fail(&p, 127);
	if (pfi_call_run(&o, &server, &status, &p) < 0)
		fail(&p, 127);
	pfi_status_reproduce(status, &p);
	fail(&p, 127);
}
