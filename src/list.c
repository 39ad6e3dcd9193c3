#include "list.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lockholder.h"
#include "ours.h"
#include "procstatus.h"
#include "say.h"
#include "sockdiag.h"

struct proc {
	pid_t pid, ppid;
	unsigned long long start_ticks;
};

struct row {
	const struct pfi_server_entry *e;
	unsigned long sock_inode;     /* 0: nobody listens */
	pid_t server;                 /* 0: not found */
	int holders;
};

struct listener_query {
	struct row *rows;
	size_t n;
	dev_t fs_dev;    /* the run directory's filesystem, as the kernel
	                  * names it (on btrfs not stat()'s st_dev) */
};

/* Whether the path a socket was bound under ends in "/s<ident>". */
static int bound_as(const struct pfi_sockdiag_listener *l, const char *ident)
{
	size_t want = strlen(ident) + 2;
	return l->name_len >= want &&
	       l->name[l->name_len - want] == '/' &&
	       l->name[l->name_len - want + 1] == 's' &&
	       memcmp(l->name + l->name_len - want + 2, ident, want - 2) == 0;
}

/* A socket is a row's listener if it is bound to that row's very file
 * (device and inode: the name alone is the same in every run directory
 * that serves the script, and under a -g name in every user's), and
 * under its name (the kernel gives only 32 bits of the inode). */
static void match_listener(const struct pfi_sockdiag_listener *l, void *arg)
{
	struct listener_query *q = arg;
	for (size_t i = 0; i < q->n; i++) {
		const struct pfi_server_entry *e = q->rows[i].e;
		if ((pfi_sockdiag_same_file(l, e->dev, e->ino) ||
		     pfi_sockdiag_same_file(l, q->fs_dev, e->ino)) &&
		    bound_as(l, e->ident))
			q->rows[i].sock_inode = l->sock_ino;
	}
}

/* Finds the inode of the socket listening on each row's socket file. */
static int find_listeners(const struct pfi_rundir *rd, struct row *rows,
                          size_t n, struct problem *p)
{
	struct pfi_lockholder_file dir;
	if (pfi_lockholder_file_of(rd->fd, &dir) < 0)
		return problem_errno(p, errno, "cannot stat the run directory");
	struct listener_query q = { rows, n, dir.dev[0] };
	return pfi_sockdiag_listeners(match_listener, &q, p);
}

static int read_proc(pid_t pid, struct proc *pr)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (pfi_proc_read(path, buf, sizeof buf) < 0)
		return -1;
	/* The name in parentheses may hold anything: parse after it. */
	char *after = strrchr(buf, ')');
	int ppid;
	unsigned long long start;
	if (!after || sscanf(after + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u "
			     "%*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			     &ppid, &start) != 2)
		return -1;
	pr->pid = pid;
	pr->ppid = ppid;
	pr->start_ticks = start;
	return 0;
}

/* Our processes (same uid), for parents and start times. */
static struct proc *our_processes(size_t *n_out)
{
	DIR *d = opendir("/proc");
	struct proc *list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	*n_out = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		struct stat st;
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    st.st_uid != geteuid())
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			struct proc *grown = realloc(list, cap * sizeof *list);
			if (!grown)
				break;
			list = grown;
		}
		if (read_proc(atoi(de->d_name), &list[n]) == 0)
			n++;
	}
	closedir(d);
	*n_out = n;
	return list;
}

static int holds_socket(pid_t pid, unsigned long inode)
{
	char path[64], link[64], want[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof want, "socket:[%lu]", inode);
	DIR *d = opendir(path);
	struct dirent *de;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		ssize_t len = readlinkat(dirfd(d), de->d_name, link,
					 sizeof link - 1);
		if (len > 0) {
			link[len] = '\0';
			found = !strcmp(link, want);
		}
	}
	closedir(d);
	return found;
}

/* The server: a holder of the listening socket whose parent is not. */
static void find_server(struct row *row, const struct proc *procs, size_t n)
{
	char *holds = calloc(n ? n : 1, 1);
	if (!holds)
		return;
	for (size_t i = 0; i < n; i++)
		holds[i] = (char)holds_socket(procs[i].pid, row->sock_inode);
	for (size_t i = 0; i < n; i++) {
		if (!holds[i])
			continue;
		row->holders++;
		int parent_holds = 0;
		for (size_t j = 0; j < n; j++)
			if (holds[j] && procs[j].pid == procs[i].ppid)
				parent_holds = 1;
		if (!parent_holds)
			row->server = procs[i].pid;
	}
	free(holds);
}

static unsigned long pss_kb(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	if (pfi_proc_read(path, buf, sizeof buf) < 0)
		return 0;
	const char *pss = strstr(buf, "\nPss:");
	return pss ? strtoul(pss + 5, NULL, 10) : 0;
}

/* Calls served, as the server's title states it ("... 12 calls]"): the
 * server alone knows.  "-" when the title does not say. */
static void calls_from_title(const char *title, char *out, size_t cap)
{
	snprintf(out, cap, "-");
	for (const char *c = strstr(title, " call"); c;
	     c = strstr(c + 1, " call")) {
		const char *digits = c;
		while (digits > title && isdigit((unsigned char)digits[-1]))
			digits--;
		if (digits < c && (digits == title || digits[-1] == ' ' ||
				   digits[-1] == ',' || digits[-1] == '[')) {
			snprintf(out, cap, "%.*s", (int)(c - digits), digits);
			return;
		}
	}
}

static void format_duration(long secs, char *out, size_t cap)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(out, cap, "%lds", secs);
	else if (secs < 3600)
		snprintf(out, cap, "%ldm%02lds", secs / 60, secs % 60);
	else if (secs < 86400)
		snprintf(out, cap, "%ldh%02ldm", secs / 3600, secs / 60 % 60);
	else
		snprintf(out, cap, "%ldd%02ldh", secs / 86400, secs / 3600 % 24);
}

static time_t boot_time(void)
{
	char buf[8192];
	if (pfi_proc_read("/proc/stat", buf, sizeof buf) < 0)
		return 0;
	const char *b = strstr(buf, "\nbtime ");
	return b ? (time_t)strtoll(b + 7, NULL, 10) : 0;
}

static void print_row(FILE *out, const struct row *row,
                      const struct proc *procs, size_t n, time_t now,
                      time_t boot, int listeners_known)
{
	char idle[32], started[32] = "-", mem[32] = "-", title[512] = "";
	char cwd[1024] = "?", path[64], calls[24];

	format_duration((long)(now - row->e->used.tv_sec), idle, sizeof idle);
	if (!row->server) {
		fprintf(out, "%-8s %-19s %-8s %6s %9s  %s (%s)\n", "-", "-",
			idle, "-", "-", row->e->ident, listeners_known
			? "no server listening" : "server not known");
		return;
	}
	unsigned long kb = 0;
	for (size_t i = 0; i < n; i++) {
		if (procs[i].pid == row->server) {
			time_t t = boot + (time_t)(procs[i].start_ticks /
					   (unsigned long long)sysconf(_SC_CLK_TCK));
			struct tm tm;
			if (boot && localtime_r(&t, &tm))
				strftime(started, sizeof started,
					 "%Y-%m-%d %H:%M:%S", &tm);
		}
		if (procs[i].pid == row->server || procs[i].ppid == row->server)
			kb += pss_kb(procs[i].pid);
	}
	snprintf(mem, sizeof mem, "%.1f MB", kb / 1024.0);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)row->server);
	ssize_t len = pfi_proc_read(path, title, sizeof title);
	for (ssize_t i = 0; i < len - 1; i++)
		if (title[i] == '\0')
			title[i] = ' ';
	calls_from_title(title, calls, sizeof calls);
	snprintf(path, sizeof path, "/proc/%d/cwd", (int)row->server);
	ssize_t clen = readlink(path, cwd, sizeof cwd - 1);
	if (clen > 0)
		cwd[clen] = '\0';
	/* Script names and directories are anybody's choice of bytes:
	 * escaped, none can move the cursor, retitle the terminal or make
	 * a row look like two. */
	char title_shown[4 * sizeof title], cwd_shown[4 * sizeof cwd];
	pfi_say_escape(title, title_shown, sizeof title_shown);
	pfi_say_escape(cwd, cwd_shown, sizeof cwd_shown);
	fprintf(out, "%-8d %-19s %-8s %6s %9s  %s (in %s)\n",
		(int)row->server, started, idle, calls, mem, title_shown,
		cwd_shown);
}

int pfi_list_servers(const struct pfi_rundir *rd, FILE *out,
                     struct problem *p)
{
	struct pfi_server_entry *list = NULL;
	size_t n = 0, n_rows = 0, n_procs = 0;
	char path_shown[4 * sizeof rd->path];
	pfi_say_escape(rd->path, path_shown, sizeof path_shown);
	if (rd->fd < 0) {
		/* Not made yet (PFI_RUNDIR_NONE_YET): nobody served there. */
		fprintf(out, "# run directory %s (none yet)\n", path_shown);
		fprintf(out, "%-8s %-19s %-8s %6s %9s  %s\n", "PID", "STARTED",
			"IDLE", "CALLS", "MEMORY", "SERVER");
		return fflush(out) == 0 ? 0
			: problem_errno(p, errno, "writing the list");
	}
	int r = pfi_ours_list(rd, &list, &n, p);
	if (r < 0)
		return r;
	struct row *rows = calloc(n ? n : 1, sizeof *rows);
	if (!rows) {
		free(list);
		return problem_errno(p, ENOMEM, "listing servers");
	}
	for (size_t i = 0; i < n; i++)
		if (list[i].has_socket)
			rows[n_rows++].e = &list[i];
	/* Without the kernel's word on which socket is bound to which
	 * file, no server is shown: a name alone would show another run
	 * directory's server, or another user's, as this one's. */
	struct problem unknown = { 0 };
	int known = n_rows == 0 || find_listeners(rd, rows, n_rows, &unknown) == 0;
	struct proc *procs = our_processes(&n_procs);
	for (size_t i = 0; i < n_rows; i++)
		if (rows[i].sock_inode)
			find_server(&rows[i], procs, n_procs);

	time_t now = time(NULL), boot = boot_time();
	fprintf(out, "# run directory %s\n", path_shown);
	if (!known)
		fprintf(out, "# servers not known: %s\n", unknown.msg);
	fprintf(out, "%-8s %-19s %-8s %6s %9s  %s\n", "PID", "STARTED",
		"IDLE", "CALLS", "MEMORY", "SERVER");
	for (size_t i = 0; i < n_rows; i++)
		print_row(out, &rows[i], procs, n_procs, now, boot, known);
	free(procs);
	free(rows);
	free(list);
	if (fflush(out) != 0)
		return problem_errno(p, errno, "writing the list");
	return 0;
}
