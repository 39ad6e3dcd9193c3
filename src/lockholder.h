/* Who holds a lock file, and whether that process is stopped.  A caller
 * waiting for the lock while the first caller starts the server would
 * otherwise wait as long as that caller stays stopped (Ctrl-Z during a
 * slow initialisation), where its standalone run would go on. */
#ifndef PFI_LOCKHOLDER_H
#define PFI_LOCKHOLDER_H

#include <stddef.h>
#include <sys/types.h>

#include "problem.h"

/* In the text of /proc/locks, the pid holding (not waiting for) a
 * flock() lock on inode `ino` of the device MAJ:MIN.  Returns the pid,
 * or 0 if no line names it or its pid is not visible here. */
pid_t pfi_lockholder_find(const char *proc_locks, size_t len,
                          unsigned maj, unsigned min, unsigned long ino);

/* The state letter of a /proc/PID/stat text ('R', 'S', 'T', ...), or 0
 * if the text does not have one where the kernel puts it. */
char pfi_lockholder_state(const char *proc_stat, size_t len);

/* Whether the holder of the flock() lock on the file st_dev/st_ino is
 * stopped by a signal (state 'T'; a tracer's stop, 't', is waited for).
 * Returns its pid if so, 0 if not or if that cannot be told. */
pid_t pfi_lockholder_stopped(dev_t dev, ino_t ino);

/* A wait on what a lock's holder does (take the lock after it, read the
 * greeting of the server it starts) looks at the holder every
 * PFI_LOCKHOLDER_LOOK_MS and gives up once PFI_LOCKHOLDER_LOOKS looks
 * in a row found it stopped: a stop that a SIGCONT ends at once is
 * waited out, not taken for a caller gone away. */
#define PFI_LOCKHOLDER_LOOK_MS 100
#define PFI_LOCKHOLDER_LOOKS 2

struct pfi_lockholder_watch {
	dev_t dev;                  /* the lock file */
	ino_t ino;
	int stopped_looks;
};

/* One look: the holder's pid once it is time to give up, else 0. */
pid_t pfi_lockholder_look(struct pfi_lockholder_watch *w);

/* Fills p with the one line that says why the wait ended ("the server
 * is being started by process N, which is stopped") and returns
 * -ESRCH. */
int pfi_lockholder_give_up(pid_t holder, const char *dir, const char *lock,
                           struct problem *p);

#endif
