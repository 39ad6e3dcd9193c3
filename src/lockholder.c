#include "lockholder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* One /proc/locks line: "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INO S E";
 * a process blocked waiting for that lock shows "N: -> FLOCK ...". */
static pid_t holder_in_line(const char *line, unsigned maj, unsigned min,
                            unsigned long ino)
{
	char kind[16], arrow[4];
	unsigned lmaj, lmin;
	unsigned long lino;
	long pid;

	if (sscanf(line, "%*[0-9]: %3s", arrow) == 1 && strcmp(arrow, "->") == 0)
		return 0;
	if (sscanf(line, "%*[0-9]: %15s %*s %*s %ld %x:%x:%lu", kind, &pid,
		   &lmaj, &lmin, &lino) != 5)
		return 0;
	if (strcmp(kind, "FLOCK") != 0 || lmaj != maj || lmin != min ||
	    lino != ino || pid <= 0)
		return 0;
	return (pid_t)pid;
}

pid_t pfi_lockholder_find(const char *proc_locks, size_t len, unsigned maj,
                          unsigned min, unsigned long ino)
{
	const char *end = proc_locks + len;
	for (const char *s = proc_locks; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = (size_t)((nl ? nl : end) - s);
		char line[256];
		if (n < sizeof line) {
			memcpy(line, s, n);
			line[n] = '\0';
			pid_t pid = holder_in_line(line, maj, min, ino);
			if (pid > 0)
				return pid;
		}
		s += n + 1;
	}
	return 0;
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

/* Reads up to size-1 bytes of a /proc file; returns the length, -1 on
 * failure. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

pid_t pfi_lockholder_stopped(dev_t dev, ino_t ino)
{
	/* Every lock on the host is listed: a busy host's list can be long,
	 * but this runs only while a lock is held, a few times a second. */
	size_t size = 1 << 20;
	char *locks = malloc(size);
	if (!locks)
		return 0;
	ssize_t len = read_small("/proc/locks", locks, size);
	pid_t pid = len > 0 ? pfi_lockholder_find(locks, (size_t)len,
		major(dev), minor(dev), (unsigned long)ino) : 0;
	free(locks);
	if (pid <= 0)
		return 0;

	char path[64], stat[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	len = read_small(path, stat, sizeof stat);
	if (len <= 0)
		return 0;
	return pfi_lockholder_state(stat, (size_t)len) == 'T' ? pid : 0;
}

pid_t pfi_lockholder_look(struct pfi_lockholder_watch *w)
{
	pid_t holder = pfi_lockholder_stopped(w->dev, w->ino);
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
