#include "shebang.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The sizes of the kernel's buffer: Linux 5.1 and later, and before. */
static const size_t kernel_buf_sizes[] = { 256, 128 };

/* Enough of the script to see well past the longer cut. */
#define HEAD_READ 4096

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Follows fs/binfmt_script.c: the line ends at the first newline, else
 * at the buffer's last byte; trailing blanks are dropped; after the
 * interpreter's name (up to a blank or NUL) and blanks, the rest is the
 * one argument, as a C string. */
int pfi_shebang_was_cut(const char *head, size_t len, size_t buf_size,
                        const char *arg)
{
	size_t end = buf_size - 1;
	if (len < 2 || head[0] != '#' || head[1] != '!' || len <= end ||
	    memchr(head, '\n', end))
		return 0;
	size_t e = end;
	while (e > 2 && blank(head[e - 1]))
		e--;
	size_t i = 2;
	while (i < e && blank(head[i]))
		i++;
	while (i < e && !blank(head[i]) && head[i] != '\0')
		i++;
	while (i < e && blank(head[i]))
		i++;
	if (i >= e)
		return 0;
	size_t arg_len = strnlen(head + i, e - i);
	if (strlen(arg) != arg_len || memcmp(arg, head + i, arg_len) != 0)
		return 0;
	/* Cut only if something but blanks was left out. */
	for (size_t k = end; k < len && head[k] != '\n'; k++)
		if (!blank(head[k]))
			return 1;
	return 0;
}

/* Reads up to `cap` bytes from the start of a regular file; -1 if it
 * is not one or cannot be read.  Opened without waiting, and looked at
 * before opening, so that a FIFO or device is never opened. */
static ssize_t read_head(const char *path, char *buf, size_t cap)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	ssize_t have = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		have = -1;
	while (have >= 0 && (size_t)have < cap) {
		ssize_t n = pread(fd, buf + have, cap - (size_t)have, have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				have = -1;
			break;
		}
		have += n;
	}
	close(fd);
	return have;
}

int pfi_shebang_check(const char *script, const char *arg,
                      struct problem *p)
{
	char head[HEAD_READ];
	ssize_t len = read_head(script, head, sizeof head);
	if (len < 0)
		return 0;
	for (size_t i = 0; i < sizeof kernel_buf_sizes /
			       sizeof kernel_buf_sizes[0]; i++) {
		size_t size = kernel_buf_sizes[i];
		if (!pfi_shebang_was_cut(head, (size_t)len, size, arg))
			continue;
		size_t n = strlen(arg);
		return problem_fail(p, E2BIG, "the '#!' line of '%s' is longer "
				    "than the %zu bytes the kernel passes on, "
				    "so the options reached us cut short "
				    "(ending in '%s%s'); shorten the line",
				    script, size - 1, n > 24 ? "..." : "",
				    arg + (n > 24 ? n - 24 : 0));
	}
	return 0;
}
