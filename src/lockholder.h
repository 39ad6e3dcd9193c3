/* Who holds a lock file, and whether that process is stopped.  A caller
 * waiting for the lock while the first caller starts the server would
 * otherwise wait as long as that caller stays stopped (Ctrl-Z during a
 * slow initialisation), where its standalone run would go on. */
#ifndef PFI_LOCKHOLDER_H
#define PFI_LOCKHOLDER_H

#include <stddef.h>
#include <sys/types.h>

#include "problem.h"

/* The devices a lock file can be named by in /proc/locks: its
 * filesystem's (the superblock's), which on btrfs is not the st_dev
 * that stat() gives (a device per subvolume), and st_dev itself. */
struct pfi_lockholder_file {
	dev_t dev[2];
	ino_t ino;
};

/* In the text of /proc/locks, the pid holding (not waiting for) a
 * flock() lock on the file.  Returns the pid, or 0 if no line names it
 * or its pid is not visible here (another pid namespace). */
pid_t pfi_lockholder_find(const char *proc_locks, size_t len,
                          const struct pfi_lockholder_file *f);

/* In the text of /proc/self/mountinfo, the device of mount `mnt_id`
 * (its third field); 0 if no line names it, else 1. */
int pfi_lockholder_mount_dev(const char *mountinfo, size_t len,
                             unsigned long mnt_id, dev_t *dev);

/* The state letter of a /proc/PID/stat text ('R', 'S', 'T', ...), or 0
 * if the text does not have one where the kernel puts it. */
char pfi_lockholder_state(const char *proc_stat, size_t len);

/* Fills *f for the file open on fd (O_PATH is enough): its inode and
 * devices (the filesystem's from /proc/self/fdinfo and mountinfo).
 * Returns 0, or -1 if fstat fails. */
int pfi_lockholder_file_of(int fd, struct pfi_lockholder_file *f);

/* Whether the holder of the flock() lock on the file is stopped by a
 * signal (state 'T'; a tracer's stop, 't', is waited for).  Returns its
 * pid if so, 0 if not or if that cannot be told. */
pid_t pfi_lockholder_stopped(const struct pfi_lockholder_file *f);

/* A wait on what a lock's holder does (take the lock after it, read the
 * greeting of the server it starts) looks at the holder every
 * PFI_LOCKHOLDER_LOOK_MS and gives up once PFI_LOCKHOLDER_LOOKS looks
 * in a row found it stopped: a stop that a SIGCONT ends at once is
 * waited out, not taken for a caller gone away. */
#define PFI_LOCKHOLDER_LOOK_MS 100
#define PFI_LOCKHOLDER_LOOKS 2

struct pfi_lockholder_watch {
	struct pfi_lockholder_file file;
	int stopped_looks;
};

/* One look at the holder of the file open on fd (the count of looks
 * starts again if it is another file than the last look's): the
 * holder's pid once it is time to give up, else 0. */
pid_t pfi_lockholder_look(struct pfi_lockholder_watch *w, int fd);

/* Fills p with the one line that says why the wait ended ("the server
 * is being started by process N, which is stopped") and returns
 * -ESRCH. */
int pfi_lockholder_give_up(pid_t holder, const char *dir, const char *lock,
                           struct problem *p);

#endif
