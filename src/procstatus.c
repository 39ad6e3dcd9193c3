#include "procstatus.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

ssize_t pfi_proc_read(const char *path, char *buf, size_t size)
{
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	size_t have = 0;
	while (have + 1 < size) {
		ssize_t n = read(fd, buf + have, size - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			buf[0] = '\0';
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	return (ssize_t)have;
}

void pfi_proc_status_read(struct pfi_proc_status *ps)
{
	ssize_t have = pfi_proc_read("/proc/self/status", ps->text,
				     sizeof ps->text);
	/* A file that filled the buffer may be cut short: not trusted. */
	ps->len = have > 0 && (size_t)have < sizeof ps->text - 1
		  ? (size_t)have : 0;
}

const char *pfi_proc_status_field(const struct pfi_proc_status *ps,
                                  const char *name, size_t *len)
{
	/* "\nName:" found with memmem (the file starts with "Name:", which
	 * no caller asks for): a line-by-line scan per field cost more than
	 * everything else the client does before connecting. */
	char key[40];
	size_t kl = strlen(name) + 2;
	if (!ps->len || kl >= sizeof key)
		return NULL;
	key[0] = '\n';
	memcpy(key + 1, name, kl - 2);
	key[kl - 1] = ':';
	const char *at = memmem(ps->text, ps->len, key, kl);
	if (!at)
		return NULL;
	const char *v = at + kl, *end = ps->text + ps->len;
	const char *nl = memchr(v, '\n', (size_t)(end - v));
	if (!nl)
		nl = end;
	while (v < nl && (*v == ' ' || *v == '\t'))
		v++;
	*len = (size_t)(nl - v);
	return v;
}

int pfi_proc_status_hex64(const struct pfi_proc_status *ps, const char *name,
                          uint64_t *out)
{
	size_t n;
	const char *v = pfi_proc_status_field(ps, name, &n);
	if (!v || n != 16)
		return -ENOENT;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -ENOENT;
		x = x << 4 | d;
	}
	*out = x;
	return 0;
}
