/* The title a process shows in ps and /proc/PID/cmdline.  The watcher is
 * forked from the client without exec, so it would show the command line
 * of the call that started the server (its arguments may hold secrets,
 * and every user can read them) for the server's whole life.  It
 * overwrites that memory with a title naming only the script. */
#ifndef PFI_PROCTITLE_H
#define PFI_PROCTITLE_H

/* Records where the argument and environment strings lie.  Call first
 * thing in main(), before anything changes the environment. */
void pfi_proctitle_init(int argc, char **argv);

/* Replaces the command line with `title` (truncated to fit the original
 * arguments and environment).  Afterwards neither argv nor the original
 * environment strings may be used: `title` must not point into them. */
void pfi_proctitle_set(const char *title);

#endif
