/* Request: 4-byte length, then NAME=value entries, an empty string, then
 * the argument strings, each NUL-terminated.
 *
 * Decode direction: the decoder must agree with a reference model on
 * what is well formed; every string it reports must lie inside the
 * buffer, be NUL-terminated there and contain no NUL; every entry must
 * come before every argument; an error returned by the visitor must be
 * passed back unchanged; and re-encoding what was decoded must give the
 * input back byte for byte (an exact-size buffer fits, one byte less
 * gives -ENOBUFS).
 * Encode direction: the input, split on NUL, is an environment (up to
 * the first empty string) and argument list; encoding then decoding
 * gives back the entries that contain '=' and every argument. */
#include "fuzz.h"
#include "protocol.h"

#include <errno.h>

#define VISITOR_ERROR (-ECANCELED)

struct list {
	char **v;                /* NULL-terminated */
	size_t n;
};

static void list_add(struct list *l, const char *s, size_t n)
{
	char **grown = realloc(l->v, (l->n + 2) * sizeof *grown);
	FUZZ_CHECK(grown != NULL);
	l->v = grown;
	l->v[l->n] = strndup(s, n);
	FUZZ_CHECK(l->v[l->n] != NULL);
	l->v[++l->n] = NULL;
}

static void list_free(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const char *const *list_ptr(const struct list *l)
{
	static const char *const empty[] = { NULL };
	return l->v ? (const char *const *)l->v : empty;
}

struct seen {
	const uint8_t *buf;
	size_t len;
	int in_args;
	size_t calls, fail_at;   /* fail_at: visit that returns an error */
	struct list env, args;
};

static int visit(struct seen *s, const char *str, size_t n)
{
	const uint8_t *p = (const uint8_t *)str;
	FUZZ_CHECK(p >= s->buf + 4 && n < s->len && p + n < s->buf + s->len);
	FUZZ_CHECK(p[n] == '\0');
	FUZZ_CHECK(memchr(p, '\0', n) == NULL);
	return s->calls++ == s->fail_at ? VISITOR_ERROR : 0;
}

static int on_env(void *ctx, const char *entry, size_t n)
{
	struct seen *s = ctx;
	FUZZ_CHECK(!s->in_args);
	FUZZ_CHECK(n > 0 && memchr(entry, '=', n) != NULL);
	int r = visit(s, entry, n);
	list_add(&s->env, entry, n);
	return r;
}

static int on_arg(void *ctx, const char *arg, size_t n)
{
	struct seen *s = ctx;
	s->in_args = 1;
	int r = visit(s, arg, n);
	list_add(&s->args, arg, n);
	return r;
}

/* Returns the number of strings (entries + arguments) if well formed,
 * else -1. */
static long model_strings(const uint8_t *d, size_t len)
{
	if (len <= 4 || fuzz_be32(d) != len - 4 || d[len - 1] != '\0')
		return -1;
	long strings = 0;
	int in_env = 1;
	for (size_t i = 4; i < len;) {
		size_t j = i;
		while (d[j])
			j++;
		if (in_env && j == i)
			in_env = 0;
		else if (in_env && !memchr(d + i, '=', j - i))
			return -1;
		else if (++strings > PFI_REQUEST_MAX_STRINGS)
			return -1;
		i = j + 1;
	}
	return in_env ? -1 : strings;
}

static void check_encoding(const struct list *env, const struct list *args,
                           const uint8_t *want, size_t want_len)
{
	size_t size = 0;
	FUZZ_CHECK(pfi_request_encode(list_ptr(env), list_ptr(args), NULL, 0,
				      &size) == 0);
	FUZZ_CHECK(size == want_len);

	uint8_t *exact = malloc(size);
	FUZZ_CHECK(exact != NULL);
	size_t size2 = 0;
	FUZZ_CHECK(pfi_request_encode(list_ptr(env), list_ptr(args), exact,
				      size, &size2) == 0);
	FUZZ_CHECK(size2 == size);
	if (want)
		FUZZ_CHECK(memcmp(exact, want, size) == 0);
	free(exact);

	uint8_t *small = malloc(size - 1);
	FUZZ_CHECK(small != NULL);
	FUZZ_CHECK(pfi_request_encode(list_ptr(env), list_ptr(args), small,
				      size - 1, &size2) == -ENOBUFS);
	free(small);
}

static void decode_direction(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	struct seen s = { .buf = buf, .len = size, .fail_at = (size_t)-1 };
	struct pfi_request_visitor v = { on_env, on_arg, &s };
	int r = pfi_request_decode(buf, size, &v);
	long strings = model_strings(data, size);

	FUZZ_CHECK(r == 0 || r == -EPROTO);
	FUZZ_CHECK((r == 0) == (strings >= 0));
	if (r == 0) {
		FUZZ_CHECK(s.calls == (size_t)strings);
		FUZZ_CHECK(s.env.n + s.args.n == s.calls);
		check_encoding(&s.env, &s.args, data, size);

		if (s.calls > 0) {
			/* The visitor's error stops decoding and comes back. */
			struct seen f = { .buf = buf, .len = size,
					  .fail_at = size % s.calls };
			v.ctx = &f;
			FUZZ_CHECK(pfi_request_decode(buf, size, &v) ==
				   VISITOR_ERROR);
			FUZZ_CHECK(f.calls == f.fail_at + 1);
			list_free(&f.env);
			list_free(&f.args);
		}
		/* Visitors may leave out either callback. */
		struct pfi_request_visitor none = { NULL, NULL, NULL };
		FUZZ_CHECK(pfi_request_decode(buf, size, &none) == 0);
	}
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	list_free(&s.env);
	list_free(&s.args);
	free(buf);
}

static void encode_direction(const uint8_t *data, size_t size)
{
	struct list env = { 0 }, args = { 0 }, kept = { 0 };
	size_t body = 1;                        /* the separator */
	int in_env = 1;
	for (size_t i = 0; i <= size;) {
		const uint8_t *nul = memchr(data + i, '\0', size - i);
		size_t n = nul ? (size_t)(nul - (data + i)) : size - i;
		const char *s = (const char *)data + i;
		if (in_env && n == 0) {
			in_env = 0;
		} else if (in_env) {
			list_add(&env, s, n);
			if (memchr(s, '=', n)) {
				list_add(&kept, s, n);
				body += n + 1;
			}
		} else {
			list_add(&args, s, n);
			body += n + 1;
		}
		i += n + 1;
	}
	check_encoding(&env, &args, NULL, 4 + body);

	size_t size_enc = 0;
	FUZZ_CHECK(pfi_request_encode(list_ptr(&env), list_ptr(&args), NULL,
				      0, &size_enc) == 0);
	uint8_t *enc = malloc(size_enc);
	FUZZ_CHECK(enc != NULL);
	FUZZ_CHECK(pfi_request_encode(list_ptr(&env), list_ptr(&args), enc,
				      size_enc, &size_enc) == 0);
	struct seen s = { .buf = enc, .len = size_enc, .fail_at = (size_t)-1 };
	struct pfi_request_visitor v = { on_env, on_arg, &s };
	FUZZ_CHECK(pfi_request_decode(enc, size_enc, &v) == 0);
	FUZZ_CHECK(s.env.n == kept.n && s.args.n == args.n);
	for (size_t i = 0; i < kept.n; i++)
		FUZZ_CHECK(strcmp(s.env.v[i], kept.v[i]) == 0);
	for (size_t i = 0; i < args.n; i++)
		FUZZ_CHECK(strcmp(s.args.v[i], args.v[i]) == 0);

	free(enc);
	list_free(&s.env);
	list_free(&s.args);
	list_free(&env);
	list_free(&args);
	list_free(&kept);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_direction(data, size);
	encode_direction(data, size);
	return 0;
}
