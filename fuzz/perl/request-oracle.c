/* The C side of the differential fuzzers of the servers' decoders
 * (fuzz/perl/fuzz_request.pl, fuzz/perl/fuzz_callerstate.pl,
 * fuzz/perl/fuzz_extrafds.pl, fuzz/python/fuzz_decoders.py): answers,
 * one line per record, what src/protocol.c makes of a request, a
 * caller-state block or an extra-fds block.
 *
 * Records on stdin: a command byte, a 4-byte big-endian length N, then
 * N bytes.
 *   'D' (decode): the N bytes are a whole request as sent (length field
 *       included); answers "ERR" or "OK <hex>", where <hex> encodes the
 *       entries, each followed by NUL, a 0x01 byte, then the arguments,
 *       each followed by NUL.
 *   'E' (encode): the N bytes are NUL-terminated strings: environment
 *       entries up to an empty string, then arguments; answers
 *       "OK <hex of the encoded request>" or "ERR".
 *   'C' (caller state): the N bytes are a whole caller-state block as
 *       sent (length field included); answers "ERR" or "OK <hex>", where
 *       <hex> is the block that pfi_caller_state_encode makes of the
 *       decoded state (its canonical form, length field included).
 *   'X' (extra fds): the N bytes are a whole extra-fds block as sent
 *       (length field included); answers "ERR" or "OK <hex>", where
 *       <hex> is the block that pfi_extra_fds_encode makes of the
 *       decoded numbers (length field included; the encoding is
 *       canonical, so it is the input itself).
 * Exits 0 at EOF, 2 on a malformed record. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

struct out {
	uint8_t *buf;
	size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->buf = realloc(o->buf, o->cap);
		if (!o->buf)
			exit(3);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static int on_env(void *ctx, const char *s, size_t n);

/* Entries, then 0x01 once before the first argument (entries hold no
 * 0x01 of ours: the marker is written exactly once, see `args_begun`). */
struct decoded {
	struct out o;
	int args_begun;
};

static void begin_args(struct decoded *d)
{
	if (!d->args_begun)
		put(&d->o, "\1", 1);
	d->args_begun = 1;
}

static int on_arg(void *ctx, const char *s, size_t n)
{
	struct decoded *d = ctx;
	begin_args(d);
	put(&d->o, s, n);
	put(&d->o, "", 1);
	return 0;
}

static int on_env(void *ctx, const char *s, size_t n)
{
	struct decoded *d = ctx;
	put(&d->o, s, n);
	put(&d->o, "", 1);
	return 0;
}

static void answer_ok(const struct out *o)
{
	fputs("OK ", stdout);
	for (size_t i = 0; i < o->len; i++)
		printf("%02x", o->buf[i]);
	putchar('\n');
}

static void decode(const uint8_t *in, size_t n)
{
	struct decoded d = { { NULL, 0, 0 }, 0 };
	struct pfi_request_visitor v = { on_env, on_arg, &d };
	if (pfi_request_decode(in, n, &v) < 0) {
		puts("ERR");
	} else {
		begin_args(&d);
		answer_ok(&d.o);
	}
	free(d.o.buf);
}

/* Splits the record into environment entries (up to the first empty
 * string) and arguments (the rest, empty ones included); a missing
 * final NUL ends the last string at the record's end.  The lists point
 * into `s`, which has a NUL after its n bytes. */
static void split(const char *s, size_t n, const char **env, const char **args)
{
	size_t i = 0, k = 0;
	while (i < n) {
		size_t len = strnlen(s + i, n - i);
		if (len == 0) {
			i++;
			break;
		}
		env[k++] = s + i;
		i += len + 1;
	}
	env[k] = NULL;
	for (k = 0; i < n; i += strnlen(s + i, n - i) + 1)
		args[k++] = s + i;
	args[k] = NULL;
}

static void encode(const uint8_t *in, size_t n)
{
	char *s = malloc(n + 1);
	const char **env = calloc(n + 2, sizeof *env);
	const char **args = calloc(n + 2, sizeof *args);
	if (!s || !env || !args)
		exit(3);
	memcpy(s, in, n);
	s[n] = '\0';
	split(s, n, env, args);
	size_t size = 0;
	struct out o = { 0 };
	if (pfi_request_encode(env, args, NULL, 0, &size) < 0) {
		puts("ERR");
	} else {
		o.buf = malloc(size);
		if (!o.buf || pfi_request_encode(env, args, o.buf, size, &size) < 0)
			exit(3);
		o.len = size;
		answer_ok(&o);
	}
	free(o.buf);
	free(env);
	free(args);
	free(s);
}

static void caller_state(const uint8_t *in, size_t n)
{
	struct pfi_caller_state st;
	uint8_t block[PFI_CALLER_STATE_MAX + 4];
	if (pfi_caller_state_decode(in, n, &st) < 0) {
		puts("ERR");
		return;
	}
	int len = pfi_caller_state_encode(&st, block, sizeof block);
	if (len < 0)
		exit(3);    /* a decoded state must encode */
	struct out o = { block, (size_t)len, sizeof block };
	answer_ok(&o);
}

static void extra_fds(const uint8_t *in, size_t n)
{
	int fds[PFI_EXTRA_FDS_MAX];
	size_t count;
	uint8_t block[PFI_EXTRA_FDS_BLOCK];
	if (pfi_extra_fds_decode(in, n, fds, &count) < 0) {
		puts("ERR");
		return;
	}
	int len = pfi_extra_fds_encode(fds, count, block, sizeof block);
	if (len < 0)
		exit(3);    /* decoded numbers must encode */
	struct out o = { block, (size_t)len, sizeof block };
	answer_ok(&o);
}

int main(void)
{
	uint8_t head[5];
	while (fread(head, 1, 5, stdin) == 5) {
		size_t n = (size_t)head[1] << 24 | (size_t)head[2] << 16 |
			   (size_t)head[3] << 8 | head[4];
		uint8_t *in = malloc(n ? n : 1);
		if (!in || fread(in, 1, n, stdin) != n)
			return 2;
		if (head[0] == 'D')
			decode(in, n);
		else if (head[0] == 'E')
			encode(in, n);
		else if (head[0] == 'C')
			caller_state(in, n);
		else if (head[0] == 'X')
			extra_fds(in, n);
		else
			return 2;
		free(in);
		fflush(stdout);
	}
	return ferror(stdin) ? 2 : 0;
}
