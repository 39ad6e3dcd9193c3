/* bench/runner: spawns commands and times them, for bench/bench.
 *
 *   runner seq ROUNDS FILE      paired alternating trials: each round runs
 *                               every command of FILE once, in an order
 *                               rotated by one per round; prints
 *                               "ROUND INDEX NANOSECONDS STATUS" lines;
 *                               with BENCH_SETTLE_MS set, pauses that long
 *                               after each trial, untimed, so that work a
 *                               server does after answering (reaping,
 *                               teardown, refilling) does not land on the
 *                               next variant's trial
 *   runner blocks ROUNDS BLOCK PAUSE_MS SETTLE_MS FILE
 *                               blocks of consecutive calls: each round
 *                               runs, for every command of FILE in an
 *                               order rotated by one per round, BLOCK
 *                               calls of that command, each followed by
 *                               an untimed PAUSE_MS (0: back to back),
 *                               then an untimed SETTLE_MS before the
 *                               next command's block (so that no server
 *                               is charged for another's aftermath);
 *                               prints "ROUND INDEX POSITION NANOSECONDS
 *                               STATUS" lines (POSITION 0 is the block's
 *                               first call, which follows the settle)
 *   runner par WORKERS SECONDS FILE
 *                               WORKERS processes each run the first
 *                               command of FILE in a loop for SECONDS;
 *                               prints "CALLS FAILURES NANOSECONDS"
 *
 * FILE has one command a line, fields separated by tabs; a field
 * "@env:NAME=VALUE" sets and "@unset:NAME" removes a variable for that
 * command, the rest are the argv. stdin is /dev/null, stdout and stderr
 * go to /dev/null (a command that fails is counted, not shown). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
	char **argv;
	char **envp;
};

static struct cmd cmds[64];
static int ncmds;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static char **env_copy(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **e = calloc(n + 64, sizeof *e);
	if (!e)
		die("calloc");
	memcpy(e, environ, n * sizeof *e);
	return e;
}

static void env_unset(char **e, const char *name)
{
	size_t len = strlen(name), w = 0;
	for (size_t r = 0; e[r]; r++)
		if (!(strncmp(e[r], name, len) == 0 && e[r][len] == '='))
			e[w++] = e[r];
	e[w] = NULL;
}

static void env_set(char **e, char *assign)
{
	char *eq = strchr(assign, '=');
	if (!eq)
		return;
	*eq = 0;
	env_unset(e, assign);
	*eq = '=';
	size_t n = 0;
	while (e[n])
		n++;
	e[n] = assign;
	e[n + 1] = NULL;
}

static void load(const char *file)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	if (!f)
		die(file);
	while (getline(&line, &cap, f) > 0 && ncmds < 64) {
		line[strcspn(line, "\n")] = 0;
		if (!*line)
			continue;
		struct cmd *c = &cmds[ncmds++];
		c->argv = calloc(256, sizeof *c->argv);
		c->envp = env_copy();
		size_t n = 0;
		for (char *tok = strtok(strdup(line), "\t"); tok && n < 255;
		     tok = strtok(NULL, "\t")) {
			if (strncmp(tok, "@env:", 5) == 0)
				env_set(c->envp, tok + 5);
			else if (strncmp(tok, "@unset:", 7) == 0)
				env_unset(c->envp, tok + 7);
			else
				c->argv[n++] = tok;
		}
	}
	free(line);
	fclose(f);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ms_to_ts(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	return ts;
}

static posix_spawn_file_actions_t fa;

static int run(const struct cmd *c)
{
	pid_t pid;
	int st;
	int r = posix_spawn(&pid, c->argv[0], &fa, NULL, c->argv, c->envp);
	if (r != 0) {
		errno = r;
		die(c->argv[0]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return st;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return fprintf(stderr, "usage: see the top of runner.c\n"), 2;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

	if (strcmp(argv[1], "seq") == 0) {
		int rounds = atoi(argv[2]);
		const char *settle_env = getenv("BENCH_SETTLE_MS");
		long settle_ms = settle_env ? atol(settle_env) : 0;
		struct timespec settle = ms_to_ts(settle_ms);
		load(argv[3]);
		for (int r = 0; r < rounds; r++)
			for (int k = 0; k < ncmds; k++) {
				int i = (r + k) % ncmds;
				long long t0 = now_ns();
				int st = run(&cmds[i]);
				long long t1 = now_ns();
				printf("%d %d %lld %d\n", r, i, t1 - t0, st);
				if (settle_ms > 0)
					nanosleep(&settle, NULL);
			}
		return 0;
	}
	if (strcmp(argv[1], "blocks") == 0 && argc >= 7) {
		int rounds = atoi(argv[2]), block = atoi(argv[3]);
		struct timespec pause = ms_to_ts(atol(argv[4]));
		struct timespec settle = ms_to_ts(atol(argv[5]));
		load(argv[6]);
		for (int r = 0; r < rounds; r++)
			for (int k = 0; k < ncmds; k++) {
				int i = (r + k) % ncmds;
				for (int pos = 0; pos < block; pos++) {
					long long t0 = now_ns();
					int st = run(&cmds[i]);
					long long t1 = now_ns();
					printf("%d %d %d %lld %d\n", r, i, pos,
					       t1 - t0, st);
					if (pause.tv_sec || pause.tv_nsec)
						nanosleep(&pause, NULL);
				}
				nanosleep(&settle, NULL);
			}
		return 0;
	}
	if (strcmp(argv[1], "par") == 0 && argc >= 5) {
		int workers = atoi(argv[2]);
		double secs = atof(argv[3]);
		load(argv[4]);
		int pfd[2];
		if (pipe(pfd) < 0)
			die("pipe");
		long long t0 = now_ns(), end = t0 + (long long)(secs * 1e9);
		for (int w = 0; w < workers; w++) {
			pid_t pid = fork();
			if (pid < 0)
				die("fork");
			if (pid == 0) {
				long calls = 0, fails = 0;
				while (now_ns() < end) {
					int st = run(&cmds[0]);
					calls++;
					if (st != 0)
						fails++;
				}
				long rec[2] = { calls, fails };
				if (write(pfd[1], rec, sizeof rec) != sizeof rec)
					_exit(3);
				_exit(0);
			}
		}
		close(pfd[1]);
		long calls = 0, fails = 0, rec[2];
		for (int w = 0; w < workers; w++) {
			if (read(pfd[0], rec, sizeof rec) != sizeof rec)
				die("read");
			calls += rec[0];
			fails += rec[1];
		}
		while (wait(NULL) > 0)
			;
		printf("%ld %ld %lld\n", calls, fails, now_ns() - t0);
		return 0;
	}
	return fprintf(stderr, "usage: see the top of runner.c\n"), 2;
}
