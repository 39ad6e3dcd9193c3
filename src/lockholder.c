#include "lockholder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procstatus.h"

/* Calls fn on each line of text (NUL-terminated copies; longer lines
 * are skipped) until it returns non-zero; returns that value or 0. */
static long each_line(const char *text, size_t len,
                      long (*fn)(const char *line, const void *arg),
                      const void *arg)
{
	const char *end = text + len;
	for (const char *s = text; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = (size_t)((nl ? nl : end) - s);
		char line[512];
		if (n < sizeof line) {
			memcpy(line, s, n);
			line[n] = '\0';
			long r = fn(line, arg);
			if (r)
				return r;
		}
		s += n + 1;
	}
	return 0;
}

/* One /proc/locks line: "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INO S E"
 * (MAJ and MIN in hex); a process blocked waiting for that lock shows
 * "N: -> FLOCK ...". */
static long holder_in_line(const char *line, const void *arg)
{
	const struct pfi_lockholder_file *f = arg;
	char kind[16], arrow[4];
	unsigned maj, min;
	unsigned long ino;
	long pid;

	if (sscanf(line, "%*[0-9]: %3s", arrow) == 1 && strcmp(arrow, "->") == 0)
		return 0;
	if (sscanf(line, "%*[0-9]: %15s %*s %*s %ld %x:%x:%lu", kind, &pid,
		   &maj, &min, &ino) != 5)
		return 0;
	if (strcmp(kind, "FLOCK") != 0 || ino != (unsigned long)f->ino ||
	    pid <= 0)
		return 0;
	for (size_t i = 0; i < sizeof f->dev / sizeof f->dev[0]; i++)
		if (major(f->dev[i]) == maj && minor(f->dev[i]) == min)
			return pid;
	return 0;
}

pid_t pfi_lockholder_find(const char *proc_locks, size_t len,
                          const struct pfi_lockholder_file *f)
{
	return (pid_t)each_line(proc_locks, len, holder_in_line, f);
}

struct mount_query {
	unsigned long id;
	dev_t *dev;
};

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT POINT ..." (decimal). */
static long mount_in_line(const char *line, const void *arg)
{
	const struct mount_query *q = arg;
	unsigned long id;
	unsigned maj, min;
	if (sscanf(line, "%lu %*u %u:%u ", &id, &maj, &min) != 3 || id != q->id)
		return 0;
	*q->dev = makedev(maj, min);
	return 1;
}

int pfi_lockholder_mount_dev(const char *mountinfo, size_t len,
                             unsigned long mnt_id, dev_t *dev)
{
	struct mount_query q = { mnt_id, dev };
	return each_line(mountinfo, len, mount_in_line, &q) ? 1 : 0;
}

char pfi_lockholder_state(const char *proc_stat, size_t len)
{
	/* "PID (COMM) S ...": COMM may hold spaces and ')', so the state
	 * follows the last ')'. */
	const char *close = NULL;
	for (size_t i = 0; i < len; i++)
		if (proc_stat[i] == ')')
			close = proc_stat + i;
	if (!close || (size_t)(close - proc_stat) + 2 >= len ||
	    close[1] != ' ')
		return 0;
	return close[2];
}

/* Every lock and mount on the host is listed: a busy host's lists can
 * be long, but they are read only while a caller waits, a few times a
 * second.  A longer list is cut: what was not read is not looked at
 * (the wait then goes on as if nobody were seen). */
#define PROC_LIST_MAX (1 << 20)

int pfi_lockholder_file_of(int fd, struct pfi_lockholder_file *f)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	f->ino = st.st_ino;
	f->dev[0] = f->dev[1] = st.st_dev;

	char path[64], info[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	const char *at;
	unsigned long mnt_id;
	if (pfi_proc_read(path, info, sizeof info) <= 0 ||
	    !(at = strstr(info, "mnt_id:")) ||
	    sscanf(at, "mnt_id: %lu", &mnt_id) != 1)
		return 0;
	char *mounts = malloc(PROC_LIST_MAX);
	if (!mounts)
		return 0;
	ssize_t len = pfi_proc_read("/proc/self/mountinfo", mounts, PROC_LIST_MAX);
	if (len > 0)
		pfi_lockholder_mount_dev(mounts, (size_t)len, mnt_id, &f->dev[0]);
	free(mounts);
	return 0;
}

pid_t pfi_lockholder_stopped(const struct pfi_lockholder_file *f)
{
	char *locks = malloc(PROC_LIST_MAX);
	if (!locks)
		return 0;
	ssize_t len = pfi_proc_read("/proc/locks", locks, PROC_LIST_MAX);
	pid_t pid = len > 0 ? pfi_lockholder_find(locks, (size_t)len, f) : 0;
	free(locks);
	if (pid <= 0)
		return 0;

	char path[64], stat[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	len = pfi_proc_read(path, stat, sizeof stat);
	if (len <= 0)
		return 0;
	return pfi_lockholder_state(stat, (size_t)len) == 'T' ? pid : 0;
}

pid_t pfi_lockholder_look(struct pfi_lockholder_watch *w, int fd)
{
	struct pfi_lockholder_file now;
	if (pfi_lockholder_file_of(fd, &now) < 0)
		return 0;
	if (memcmp(&now, &w->file, sizeof now) != 0) {
		w->file = now;
		w->stopped_looks = 0;
	}
	pid_t holder = pfi_lockholder_stopped(&w->file);
	w->stopped_looks = holder ? w->stopped_looks + 1 : 0;
	return w->stopped_looks >= PFI_LOCKHOLDER_LOOKS ? holder : 0;
}

int pfi_lockholder_give_up(pid_t holder, const char *dir, const char *lock,
                           struct problem *p)
{
	return problem_fail(p, ESRCH, "the server is being started by process "
			    "%ld (holding '%s/%s'), which is stopped; not "
			    "waiting for it", (long)holder, dir, lock);
}
