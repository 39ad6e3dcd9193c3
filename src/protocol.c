/* Wire codec: see protocol.h.  No I/O, no allocation. */
#include "protocol.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

int pfi_greeting_head_decode(const uint8_t *buf, size_t len,
                             uint32_t *xdata_len)
{
	if (len != PFI_GREETING_HEAD)
		return -EPROTO;
	if (memcmp(buf, PFI_MAGIC, PFI_MAGIC_LEN) != 0)
		return -EPROTO;
	uint32_t n = get_be32(buf + PFI_MAGIC_LEN);
	if (n > PFI_XDATA_MAX)
		return -EMSGSIZE;
	*xdata_len = n;
	return 0;
}

static const struct {
	const char *token;
	unsigned bit;
} known_features[] = {
	{ "full-argv", PFI_FEATURE_FULL_ARGV },
};

#define N_KNOWN (sizeof(known_features) / sizeof(known_features[0]))

static int token_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static unsigned feature_bit(const uint8_t *tok, size_t len)
{
	for (size_t i = 0; i < N_KNOWN; i++) {
		const char *name = known_features[i].token;
		if (strlen(name) == len && memcmp(name, tok, len) == 0)
			return known_features[i].bit;
	}
	return 0;
}

int pfi_xdata_decode(const uint8_t *buf, size_t len, unsigned *features)
{
	*features = 0;
	if (len > PFI_XDATA_MAX)
		return -EMSGSIZE;
	if (len == 0)
		return 0;

	unsigned found = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != ' ') {
			if (!token_char_ok(buf[i]))
				return -EPROTO;
			continue;
		}
		size_t toklen = i - start;
		if (toklen == 0 || toklen > PFI_FEATURE_MAX)
			return -EPROTO;
		found |= feature_bit(buf + start, toklen);
		start = i + 1;
	}
	*features = found;
	return 0;
}

int pfi_xdata_encode(unsigned features, uint8_t *buf, size_t cap)
{
	size_t used = 0;
	for (size_t i = 0; i < N_KNOWN; i++) {
		if (!(features & known_features[i].bit))
			continue;
		size_t n = strlen(known_features[i].token);
		size_t need = n + (used ? 1 : 0);
		if (need > cap - used)
			return -ENOBUFS;
		if (used)
			buf[used++] = ' ';
		memcpy(buf + used, known_features[i].token, n);
		used += n;
	}
	return (int)used;
}

/* A process can only have died of a signal whose default action ends
 * it; reproducing any other (SIGSTOP, SIGCHLD, ...) would not end us. */
static int signal_can_kill(int sig)
{
	switch (sig) {
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
		return 0;
	default:
		return sig >= 1 && sig <= SIGRTMAX;
	}
}

int pfi_status_decode(const uint8_t *buf, size_t len, int *wait_status)
{
	if (len != PFI_STATUS_LEN)
		return -EPROTO;
	uint32_t v = get_be32(buf);
	if (v > INT_MAX)
		return -EPROTO;
	int st = (int)v;
	/* Only the status of a process that has ended makes sense here;
	 * a "stopped" or "continued" status, or stray high bits, does not. */
	if (WIFEXITED(st)) {
		if (st & ~0xff00)
			return -EPROTO;
	} else if (WIFSIGNALED(st)) {
		if (st & ~0xff || !signal_can_kill(WTERMSIG(st)))
			return -EPROTO;
	} else {
		return -EPROTO;
	}
	*wait_status = st;
	return 0;
}

void pfi_status_encode(int wait_status, uint8_t out[PFI_STATUS_LEN])
{
	put_be32(out, (uint32_t)wait_status);
}

/* Adds one NUL-terminated string to the encoding, or only measures it. */
static int put_string(const char *s, uint8_t *buf, size_t cap, size_t *used)
{
	size_t n = strlen(s) + 1;
	if (n > PFI_REQUEST_MAX - *used)
		return -E2BIG;
	if (buf) {
		if (n > cap - *used)
			return -ENOBUFS;
		memcpy(buf + *used, s, n);
	}
	*used += n;
	return 0;
}

int pfi_request_encode(const char *const *env, const char *const *args,
                       uint8_t *buf, size_t cap, size_t *size)
{
	size_t used = 4, strings = 0;
	int r;

	if (buf && cap < 4)
		return -ENOBUFS;
	for (; env && *env; env++) {
		if (!strchr(*env, '='))
			continue;
		if (++strings > PFI_REQUEST_MAX_STRINGS)
			return -E2BIG;
		if ((r = put_string(*env, buf, cap, &used)) < 0)
			return r;
	}
	if ((r = put_string("", buf, cap, &used)) < 0)
		return r;
	for (; args && *args; args++) {
		if (++strings > PFI_REQUEST_MAX_STRINGS)
			return -E2BIG;
		if ((r = put_string(*args, buf, cap, &used)) < 0)
			return r;
	}
	if (buf)
		put_be32(buf, (uint32_t)(used - 4));
	*size = used;
	return 0;
}

int pfi_request_decode(const uint8_t *buf, size_t len,
                       const struct pfi_request_visitor *visitor)
{
	if (len < 4)
		return -EPROTO;
	uint32_t body = get_be32(buf);
	if (body > PFI_REQUEST_MAX || body != len - 4)
		return -EPROTO;
	const uint8_t *p = buf + 4, *end = buf + len;
	if (body == 0 || end[-1] != '\0')
		return -EPROTO;

	int in_env = 1, r;
	size_t strings = 0;
	while (p < end) {
		const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = (size_t)(nul - p);   /* nul exists: end[-1] == 0 */
		if (in_env && n == 0) {
			in_env = 0;
		} else if (++strings > PFI_REQUEST_MAX_STRINGS) {
			return -EPROTO;
		} else if (in_env) {
			if (!memchr(p, '=', n))
				return -EPROTO;
			if (visitor->on_env &&
			    (r = visitor->on_env(visitor->ctx, (const char *)p, n)) < 0)
				return r;
		} else if (visitor->on_arg &&
			   (r = visitor->on_arg(visitor->ctx, (const char *)p, n)) < 0) {
			return r;
		}
		p = nul + 1;
	}
	return in_env ? -EPROTO : 0;
}
