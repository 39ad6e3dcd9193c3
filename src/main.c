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
#include "callerfds.h"
#include "callerstate.h"
#include "childsig.h"
#include "config.h"
#include "creds.h"
#include "direct.h"
#include "ident.h"
#include "list.h"
#include "options.h"
#include "problem.h"
#include "proctitle.h"
#include "rundir.h"
#include "sandbox.h"
#include "say.h"
#include "server.h"
#include "shebang.h"
#include "status.h"
#include "stop.h"
#include "ttyjob.h"

static void __attribute__((noreturn)) fail(const struct problem *p, int code)
{
	pfi_say("%s", p->msg);
	exit(code);
}

/* What --help or --version printed must have been written (a full disk,
 * a closed pipe): else the one line saying so. */
static int flushed_or_fail(const char *what, struct problem *p)
{
	if (fflush(stdout) == 0)
		return 0;
	problem_errno(p, errno, "writing %s", what);
	fail(p, 127);
}

/* A closed stdin, stdout or stderr would be reused by the first file we
 * open and could not be passed to the server: put /dev/null there.
 * Which were closed is kept in *closed (bit fd), so that printing to a
 * closed stdout is still the mistake it is, not silence. */
static int ensure_stdio_open(unsigned *closed, struct problem *p)
{
	*closed = 0;
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		*closed |= 1u << fd;
		int null = open("/dev/null", O_RDWR);
		if (null != fd)
			return problem_errno(p, errno, "cannot fill fd %d", fd);
	}
	return 0;
}

/* --help, --version and --list print to stdout: the caller closed it. */
static void stdout_open_or_fail(unsigned closed, const char *what,
                                struct problem *p)
{
	if (!(closed & 1u << STDOUT_FILENO))
		return;
	problem_fail(p, EBADF, "standard output is closed: nowhere to "
		     "write %s", what);
	fail(p, 127);
}

/* The option wins over the variable; the default is to warn. */
static int choose_fallback(struct pfi_options *o, struct problem *p)
{
	const char *env = getenv(PFI_FALLBACK_ENV);
	if (o->fallback != PFI_FALLBACK_UNSET)
		return 0;
	o->fallback = PFI_FALLBACK_WARN;
	if (!env || !*env)
		return 0;
	return pfi_fallback_parse(env, PFI_FALLBACK_ENV, &o->fallback, p);
}

/* The script cannot be served (p says why): run it as a standalone run
 * would, unless the caller asked for strictness (docs/design.md section 1). */
static void __attribute__((noreturn))
run_unserved(const struct pfi_options *o, const struct pfi_caller_state *st,
             struct problem *p)
{
	if (o->fallback == PFI_FALLBACK_REFUSE)
		fail(p, 127);
	if (o->fallback == PFI_FALLBACK_WARN) {
		struct problem cannot_run;
		if (pfi_direct_findable(o, &cannot_run) < 0)
			fail(&cannot_run, 127);
		pfi_say("running '%s' without a server (not accelerated): "
			"%s; --fallback=quiet silences this line", o->script,
			p->msg);
	}
	pfi_direct_exec(o, st, p);
	fail(p, 127);
}

/* --list, --kill, --kill-all: nothing runs, and nothing is made (a run
 * directory not made yet holds no server). */
static int manage(const struct pfi_options *o, const char *run_dir,
                  struct problem *p)
{
	struct pfi_rundir rd;
	char what[PFI_IDENT_BUF] = "";
	enum pfi_stop_match match = PFI_STOP_ALL;
	size_t stopped = 0;
	int r;

	if (o->mode == PFI_MODE_KILL && o->explicit_ident) {
		match = PFI_STOP_IDENT;
		snprintf(what, sizeof what, "%s", o->explicit_ident);
	} else if (o->mode == PFI_MODE_KILL) {
		match = PFI_STOP_SCRIPT;
		if ((r = pfi_ident_script_part(o->script, what, p)) < 0)
			return r;
	}
	if ((r = pfi_rundir_open(run_dir, PFI_RUNDIR_LOOK, &rd, p)) < 0)
		return r;
	if (o->mode == PFI_MODE_LIST)
		r = pfi_list_servers(&rd, stdout, p);
	else if (rd.fd >= 0)
		r = pfi_stop_servers(&rd, match, what, &stopped, p);
	pfi_rundir_close(&rd);
	/* A script that is gone may still have its server (that is then
	 * why it is stopped); with none, a path naming no script is a
	 * mistake to name, not a quiet success. */
	if (r >= 0 && match == PFI_STOP_SCRIPT && stopped == 0)
		r = pfi_stop_check_script(o->script, p);
	return r < 0 ? r : 0;
}

int main(int argc, char **argv)
{
	struct problem p = { 0 };
	struct pfi_options o;
	struct pfi_rundir rd;
	struct pfi_names names;
	struct pfi_reached server;
	struct pfi_caller_state caller;
	struct pfi_caller_fds extra;
	struct problem extra_problem = { 0 };
	struct pfi_creds creds;
	struct pfi_confinement conf = { 0 };
	struct pfi_proc_status self;
	char ident[PFI_IDENT_BUF];
	const char *run_dir;
	unsigned stdio_closed;
	int setup_status = 0, status, r;

	/* First, before anything here changes any of it (or opens an fd). */
	int extra_r = pfi_caller_fds_collect(&extra, &extra_problem);
	pfi_proc_status_read(&self);
	if (pfi_caller_state_collect(&caller, &self, &p) < 0 ||
	    pfi_childsig_take(&caller, &p) < 0)
		fail(&p, 127);
	pfi_proctitle_init(argc, argv);

	if (getauxval(AT_SECURE)) {
		problem_fail(&p, EPERM, "refusing to run set-uid or set-gid "
			     "(AT_SECURE): a caller could steer another "
			     "user's server");
		fail(&p, 126);
	}
	if (ensure_stdio_open(&stdio_closed, &p) < 0)
		fail(&p, 127);

	/* Before the options: cut short, they may not parse at all, and
	 * the cut is then the problem to name. */
	if (argc >= 3 && pfi_shebang_check(argv[2], argv[1], &p) < 0)
		fail(&p, 127);
	if (pfi_options_parse(argc, argv, &o, &p) < 0)
		fail(&p, 127);
	if (o.want_help) {
		stdout_open_or_fail(stdio_closed, "the usage", &p);
		fputs(pfi_usage, stdout);
		return flushed_or_fail("the usage", &p);
	}
	if (o.want_version) {
		stdout_open_or_fail(stdio_closed, "the version", &p);
		printf("%s %s (sandbox %s)\n"
		       "expects Proc::Prefork::Interp %s (protocol v1 with "
		       "extensions; other v1 servers work too)\n",
		       PFI_PROGRAM, PFI_VERSION,
		       pfi_sandbox_built_in() ? "on" : "off (debug build)",
		       PFI_MODULE_VERSION);
		return flushed_or_fail("the version", &p);
	}

	if (choose_fallback(&o, &p) < 0)
		fail(&p, 127);
	run_dir = o.run_dir ? o.run_dir : getenv(PFI_RUN_DIR_ENV);
	if (o.mode == PFI_MODE_LIST)
		stdout_open_or_fail(stdio_closed, "the list", &p);
	if (o.mode == PFI_MODE_LIST || o.mode == PFI_MODE_KILL ||
	    o.mode == PFI_MODE_KILL_ALL) {
		if (manage(&o, run_dir, &p) < 0)
			fail(&p, 127);
		return 0;
	}

	if (pfi_creds_collect(&creds, &self, &p) < 0)
		fail(&p, 127);
	/* Filters cannot be compared, so no server can be known to run
	 * under exactly the caller's. */
	if (creds.seccomp) {
		problem_fail(&p, EPERM, "the caller runs under a seccomp "
			     "filter, which no shared server can be known to "
			     "have");
		run_unserved(&o, &caller, &p);
	}
	/* Job control on the caller's own terminal is not a call's. */
	if (pfi_ttyjob_check(&caller, &extra, &p) < 0)
		run_unserved(&o, &caller, &p);
	if (pfi_caller_fds_check(&extra, &caller, &p) < 0)
		run_unserved(&o, &caller, &p);
	/* A -g name is used as given: nothing to read for it. */
	if (!o.explicit_ident && pfi_confinement_collect(&conf, &p) < 0)
		fail(&p, 127);
	r = pfi_ident_compute(&o, &creds, &caller, &conf, ident, &p);
	pfi_creds_free(&creds);
	pfi_confinement_free(&conf);
	if (r < 0 || pfi_rundir_open(run_dir, PFI_RUNDIR_MAKE, &rd, &p) < 0 ||
	    pfi_rundir_reachable(&rd, &p) < 0)
		run_unserved(&o, &caller, &p);
	/* Fds a call cannot carry are the script's all the same. */
	if (extra_r < 0)
		run_unserved(&o, &caller, &extra_problem);
	pfi_names_init(&names, ident);

	r = pfi_server_reach(&o, &rd, &names, &server, &setup_status, &p);
	/* (-ECHILD without a status is a wait that failed, not the script) */
	if (r == -ECHILD && setup_status != 0) {
		/* The script's own message is already on stderr; the caller
		 * then gets the status a standalone run would have given. */
		pfi_say("initialisation of '%s' failed (%s %d)", o.script,
			WIFEXITED(setup_status) ? "exit status" : "signal",
			WIFEXITED(setup_status) ? WEXITSTATUS(setup_status)
						: WTERMSIG(setup_status));
		pfi_status_reproduce(setup_status, &p);
		fail(&p, 127);
	}
	/* Out of numbers under the caller's limit on open files (fds packed
	 * up to near it): reaching or starting a server takes a few more
	 * than a standalone run needs, which may still have room. */
	if (r == -EXDEV || r == -EMFILE)
		run_unserved(&o, &caller, &p);
	if (r < 0)
		fail(&p, 127);
	pfi_rundir_close(&rd);

	if (pfi_sandbox_enter(server.fd, &p) < 0)
		fail(&p, 127);
	if (pfi_call_run(&o, &server, &caller, &extra, &status, &p) < 0)
		fail(&p, 127);
	pfi_status_reproduce(status, &p);
	fail(&p, 127);
}
