/* Runs files through LLVMFuzzerTestOneInput without libFuzzer: every
 * file named on the command line, and every regular file in every
 * directory named (not recursive, in name order).  Each input is passed
 * as an exact-size heap copy.  Used by `meson test --suite fuzz` so the
 * corpus is a regression test on any compiler; fails if nothing ran. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0, n;
	uint8_t *buf = malloc(cap);
	FUZZ_CHECK(buf != NULL);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			buf = realloc(buf, cap *= 2);
			FUZZ_CHECK(buf != NULL);
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "%s: read error\n", path);
		free(buf);
		return -1;
	}
	uint8_t *exact = fuzz_dup(buf, len);
	free(buf);
	fprintf(stderr, "running %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, unsigned *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name), failed = 0;
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		int w = snprintf(path, sizeof path, "%s/%s", dir,
				 names[i]->d_name);
		if (w > 0 && (size_t)w < sizeof path &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) < 0)
				failed = 1;
			else
				++*count;
		}
		free(names[i]);
	}
	free(names);
	return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			failed = 1;
		} else if (S_ISDIR(st.st_mode)) {
			failed |= run_dir(argv[i], &count) < 0;
		} else if (run_file(argv[i]) < 0) {
			failed = 1;
		} else {
			count++;
		}
	}
	fprintf(stderr, "%u inputs ran\n", count);
	if (count == 0) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...  (no inputs found)\n",
			argv[0]);
		return 1;
	}
	return failed;
}
