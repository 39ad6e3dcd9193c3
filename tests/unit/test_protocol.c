/* Unit tests for the wire codec on good and bad bytes. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "protocol.h"

#define BYTES(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* ---- greeting head ---- */

static void test_greeting_ours(void **state)
{
	uint32_t n = 77;
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\0\0\0\x09"), &n), 0);
	assert_int_equal(n, 9);
}

static void test_greeting_chiark_utils(void **state)
{
	uint32_t n = 77;
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\0\0\0\0"), &n), 0);
	assert_int_equal(n, 0);
}

static void test_greeting_wrong_magic(void **state)
{
	uint32_t n = 77;
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFJ\n\0\0\0\0"), &n),
			 -EPROTO);
	assert_int_equal(pfi_greeting_head_decode(BYTES("pfi\n\0\0\0\0"), &n),
			 -EPROTO);
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\r\0\0\0\0"), &n),
			 -EPROTO);
	assert_int_equal(n, 77);
}

static void test_greeting_xdata_limit(void **state)
{
	uint32_t n = 77;
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\0\0\x10\0"), &n), 0);
	assert_int_equal(n, PFI_XDATA_MAX);
	n = 77;
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\0\0\x10\x01"), &n),
			 -EMSGSIZE);
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\xff\xff\xff\xff"), &n),
			 -EMSGSIZE);
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\x80\0\0\0"), &n),
			 -EMSGSIZE);
	assert_int_equal(n, 77);
}

static void test_greeting_wrong_length(void **state)
{
	uint32_t n = 77;
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\0\0\0"), &n), -EPROTO);
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n"), &n), -EPROTO);
	assert_int_equal(pfi_greeting_head_decode(BYTES(""), &n), -EPROTO);
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI\n\0\0\0\0x"), &n),
			 -EPROTO);
	assert_int_equal(n, 77);
}

/* ---- xdata ---- */

static int xdata(const char *s, size_t len, unsigned *features)
{
	*features = 0xdead;
	return pfi_xdata_decode((const uint8_t *)s, len, features);
}

#define XDATA(s, f) xdata((s), sizeof(s) - 1, (f))

static void test_xdata_tokens(void **state)
{
	unsigned f;
	assert_int_equal(XDATA("", &f), 0);
	assert_int_equal(f, 0);
	assert_int_equal(XDATA("full-argv", &f), 0);
	assert_int_equal(f, PFI_FEATURE_FULL_ARGV);
	assert_int_equal(XDATA("signals full-argv x-2", &f), 0);
	assert_int_equal(f, PFI_FEATURE_FULL_ARGV);
	assert_int_equal(XDATA("signals", &f), 0);
	assert_int_equal(f, 0);
	assert_int_equal(XDATA("full-argvx", &f), 0);   /* not a prefix match */
	assert_int_equal(f, 0);
	assert_int_equal(XDATA("full-arg", &f), 0);
	assert_int_equal(f, 0);
}

static void test_xdata_bad_tokens(void **state)
{
	unsigned f;
	static const char *const bad[] = {
		"full-argv ", " full-argv", "full-argv  x", " ", "Full-Argv",
		"full_argv", "full-argv\n", "x\ty",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(xdata(bad[i], strlen(bad[i]), &f), -EPROTO);
		assert_int_equal(f, 0);
	}
	assert_int_equal(XDATA("full\0argv", &f), -EPROTO);
	assert_int_equal(f, 0);
}

static void test_xdata_token_length(void **state)
{
	char tok[PFI_FEATURE_MAX + 2];
	unsigned f;
	memset(tok, 'a', sizeof tok);
	assert_int_equal(xdata(tok, PFI_FEATURE_MAX, &f), 0);
	assert_int_equal(xdata(tok, PFI_FEATURE_MAX + 1, &f), -EPROTO);
}

static void test_xdata_oversized(void **state)
{
	char *buf = malloc(PFI_XDATA_MAX + 1);
	unsigned f;
	assert_non_null(buf);
	for (size_t i = 0; i < PFI_XDATA_MAX + 1; i++)
		buf[i] = i % 2 ? ' ' : 'a';              /* "a a a ... a" */
	assert_int_equal(xdata(buf, PFI_XDATA_MAX - 1, &f), 0);
	assert_int_equal(xdata(buf, PFI_XDATA_MAX + 1, &f), -EMSGSIZE);
	assert_int_equal(f, 0);
	free(buf);
}

static void test_xdata_encode(void **state)
{
	uint8_t buf[32];
	unsigned f = 0;
	assert_int_equal(pfi_xdata_encode(PFI_FEATURE_FULL_ARGV, buf, sizeof buf), 9);
	assert_memory_equal(buf, "full-argv", 9);
	assert_int_equal(pfi_xdata_decode(buf, 9, &f), 0);
	assert_int_equal(f, PFI_FEATURE_FULL_ARGV);

	assert_int_equal(pfi_xdata_encode(PFI_FEATURE_FULL_ARGV, buf, 8), -ENOBUFS);
	assert_int_equal(pfi_xdata_encode(0, buf, 0), 0);
	assert_int_equal(pfi_xdata_encode(1u << 31, buf, sizeof buf), 0);
}

/* ---- status ---- */

static int status(uint32_t v, int *st)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
	*st = -77;
	return pfi_status_decode(b, sizeof b, st);
}

static void test_status_exits(void **state)
{
	int st;
	static const int codes[] = { 0, 1, 255 };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(status((uint32_t)codes[i] << 8, &st), 0);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), codes[i]);
	}
}

static void test_status_signals(void **state)
{
	int st;
	assert_int_equal(status(SIGTERM, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_false(WCOREDUMP(st));

	assert_int_equal(status(SIGKILL, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);

	assert_int_equal(status((uint32_t)SIGRTMAX, &st), 0);
	assert_int_equal(WTERMSIG(st), SIGRTMAX);
	assert_int_equal(status(SIGHUP, &st), 0);
	assert_int_equal(status(SIGPIPE, &st), 0);

	assert_int_equal(status(SIGSEGV | 0x80, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
	assert_true(WCOREDUMP(st));
}

static void test_status_rejected(void **state)
{
	int st;
	static const uint32_t bad[] = {
		0x80000000u, 0xffffffffu,   /* > INT_MAX */
		0x137f,                     /* stopped by SIGSTOP */
		0x057f,                     /* stopped by SIGTRAP */
		0xffff,                     /* continued */
		0x10000, 0x10100,           /* stray high bits on an exit */
		0x10009,                    /* stray high bits on a signal */
		0x0180,                     /* exit with the core flag */
		0x010f,                     /* exit code and signal */
		0x7f,                       /* "signal" 127 reads as stopped */
		SIGSTOP, SIGTSTP, SIGCHLD,  /* cannot end a process */
		SIGCONT, SIGWINCH, SIGURG,
		SIGTTIN, SIGTTOU | 0x80,
		0x41, 0x7e,                 /* beyond SIGRTMAX (64) */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(status(bad[i], &st), -EPROTO);
		assert_int_equal(st, -77);
	}
}

static void test_status_truncated(void **state)
{
	int st = -77;
	assert_int_equal(pfi_status_decode(BYTES("\0\0\0"), &st), -EPROTO);
	assert_int_equal(pfi_status_decode(BYTES("\0\0\0\0\0"), &st), -EPROTO);
	assert_int_equal(pfi_status_decode(BYTES(""), &st), -EPROTO);
	assert_int_equal(st, -77);
}

static void test_status_round_trip(void **state)
{
	uint8_t b[PFI_STATUS_LEN];
	int st;
	pfi_status_encode(0x8b, b);
	assert_memory_equal(b, "\0\0\0\x8b", 4);
	pfi_status_encode(0xff00, b);
	assert_memory_equal(b, "\0\0\xff\0", 4);
	assert_int_equal(pfi_status_decode(b, sizeof b, &st), 0);
	assert_int_equal(st, 0xff00);
}

/* ---- request ---- */

struct collected {
	char text[512];              /* "E:entry|A:arg|..." */
	int calls, fail_at;
};

static int collect(struct collected *c, char tag, const char *s, size_t n)
{
	size_t used = strlen(c->text);
	assert_int_equal(s[n], '\0');
	assert_true(used + n + 3 < sizeof c->text);
	c->text[used] = tag;
	c->text[used + 1] = ':';
	memcpy(c->text + used + 2, s, n);
	c->text[used + 2 + n] = '|';
	c->text[used + 3 + n] = '\0';
	return ++c->calls == c->fail_at ? -ECANCELED : 0;
}

static int on_env(void *ctx, const char *s, size_t n)
{
	return collect(ctx, 'E', s, n);
}

static int on_arg(void *ctx, const char *s, size_t n)
{
	return collect(ctx, 'A', s, n);
}

static int decode(const void *buf, size_t len, struct collected *c)
{
	struct pfi_request_visitor v = { on_env, on_arg, c };
	memset(c, 0, sizeof *c);
	return pfi_request_decode(buf, len, &v);
}

#define WIRE "\0\0\0\x19" "A=1\0B=\0\0perl\0script\0\0x y\0"

static void test_request_encode(void **state)
{
	const char *env[] = { "A=1", "NOEQ", "B=", NULL };
	const char *args[] = { "perl", "script", "", "x y", NULL };
	uint8_t buf[64];
	size_t size = 0;

	assert_int_equal(pfi_request_encode(env, args, NULL, 0, &size), 0);
	assert_int_equal(size, sizeof WIRE - 1);
	size = 0;
	assert_int_equal(pfi_request_encode(env, args, buf, sizeof buf, &size), 0);
	assert_int_equal(size, sizeof WIRE - 1);
	assert_memory_equal(buf, WIRE, size);

	assert_int_equal(pfi_request_encode(env, args, buf, size - 1, &size),
			 -ENOBUFS);
	assert_int_equal(pfi_request_encode(env, args, buf, 3, &size), -ENOBUFS);
}

static void test_request_encode_empty(void **state)
{
	uint8_t buf[8];
	size_t size = 0;
	assert_int_equal(pfi_request_encode(NULL, NULL, buf, sizeof buf, &size), 0);
	assert_int_equal(size, 5);
	assert_memory_equal(buf, "\0\0\0\x01\0", 5);
}

static void test_request_encode_too_big(void **state)
{
	/* total (length prefix included) may be PFI_REQUEST_MAX, not more */
	size_t n = PFI_REQUEST_MAX - 4 - 1 - 1;
	char *big = malloc(n + 2);
	size_t size = 0;
	assert_non_null(big);
	memset(big, 'x', n + 1);
	big[n] = '\0';
	const char *args[] = { big, NULL };
	assert_int_equal(pfi_request_encode(NULL, args, NULL, 0, &size), 0);
	assert_int_equal(size, PFI_REQUEST_MAX);
	big[n] = 'x';
	big[n + 1] = '\0';
	assert_int_equal(pfi_request_encode(NULL, args, NULL, 0, &size), -E2BIG);
	free(big);
}

/* At most PFI_REQUEST_MAX_STRINGS entries and arguments, both ways. */
static void test_request_too_many_strings(void **state)
{
	const size_t cap = PFI_REQUEST_MAX_STRINGS;
	const char **args = calloc(cap + 2, sizeof *args);
	const char *env[] = { "A=1", NULL };
	size_t size = 0;
	assert_non_null(args);
	for (size_t i = 0; i < cap; i++)
		args[i] = "";
	assert_int_equal(pfi_request_encode(NULL, args, NULL, 0, &size), 0);
	assert_int_equal(pfi_request_encode(env, args, NULL, 0, &size), -E2BIG);
	args[cap] = "";
	assert_int_equal(pfi_request_encode(NULL, args, NULL, 0, &size), -E2BIG);

	/* The terminator and `cap` empty arguments, then one more. */
	uint8_t *wire = calloc(4 + cap + 2, 1);
	assert_non_null(wire);
	wire[0] = (uint8_t)((cap + 1) >> 24);
	wire[1] = (uint8_t)((cap + 1) >> 16);
	wire[2] = (uint8_t)((cap + 1) >> 8);
	wire[3] = (uint8_t)(cap + 1);
	struct pfi_request_visitor none = { NULL, NULL, NULL };
	assert_int_equal(pfi_request_decode(wire, 4 + cap + 1, &none), 0);
	wire[0] = (uint8_t)((cap + 2) >> 24);
	wire[1] = (uint8_t)((cap + 2) >> 16);
	wire[2] = (uint8_t)((cap + 2) >> 8);
	wire[3] = (uint8_t)(cap + 2);
	assert_int_equal(pfi_request_decode(wire, 4 + cap + 2, &none), -EPROTO);
	free(wire);
	free(args);
}

static void test_request_round_trip(void **state)
{
	struct collected c;
	assert_int_equal(decode(WIRE, sizeof WIRE - 1, &c), 0);
	assert_string_equal(c.text, "E:A=1|E:B=|A:perl|A:script|A:|A:x y|");
	assert_int_equal(c.calls, 6);
}

static void test_request_empty(void **state)
{
	struct collected c;
	assert_int_equal(decode("\0\0\0\x01\0", 5, &c), 0);
	assert_int_equal(c.calls, 0);
}

static void test_request_visitor_error(void **state)
{
	struct collected c;
	struct pfi_request_visitor v = { on_env, on_arg, &c };
	memset(&c, 0, sizeof c);
	c.fail_at = 3;
	assert_int_equal(pfi_request_decode((const uint8_t *)WIRE,
					    sizeof WIRE - 1, &v), -ECANCELED);
	assert_string_equal(c.text, "E:A=1|E:B=|A:perl|");
}

static void test_request_bad_length(void **state)
{
	struct collected c;
	/* length larger than the data */
	assert_int_equal(decode("\0\0\0\x09" "A=1\0\0x\0", 11, &c), -EPROTO);
	/* smaller */
	assert_int_equal(decode("\0\0\0\x06" "A=1\0\0x\0", 11, &c), -EPROTO);
	/* huge */
	assert_int_equal(decode("\xff\xff\xff\xff" "A=1\0\0x\0", 11, &c), -EPROTO);
	/* empty body, truncated length */
	assert_int_equal(decode("\0\0\0\0", 4, &c), -EPROTO);
	assert_int_equal(decode("\0\0\0", 3, &c), -EPROTO);
	assert_int_equal(decode("", 0, &c), -EPROTO);
	assert_int_equal(c.calls, 0);
}

static void test_request_missing_trailing_nul(void **state)
{
	struct collected c;
	assert_int_equal(decode("\0\0\0\x07" "A=1\0\0xy", 11, &c), -EPROTO);
	assert_int_equal(c.calls, 0);
}

static void test_request_env_without_equals(void **state)
{
	struct collected c;
	assert_int_equal(decode("\0\0\0\x0a" "A=1\0NOEQ\0\0", 14, &c), -EPROTO);
	assert_int_equal(decode("\0\0\0\x03" "A\0\0", 7, &c), -EPROTO);
	assert_int_equal(c.calls, 0);
}

static void test_request_no_separator(void **state)
{
	struct collected c;
	assert_int_equal(decode("\0\0\0\x08" "A=1\0B=2\0", 12, &c), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_ours),
		cmocka_unit_test(test_greeting_chiark_utils),
		cmocka_unit_test(test_greeting_wrong_magic),
		cmocka_unit_test(test_greeting_xdata_limit),
		cmocka_unit_test(test_greeting_wrong_length),
		cmocka_unit_test(test_xdata_tokens),
		cmocka_unit_test(test_xdata_bad_tokens),
		cmocka_unit_test(test_xdata_token_length),
		cmocka_unit_test(test_xdata_oversized),
		cmocka_unit_test(test_xdata_encode),
		cmocka_unit_test(test_status_exits),
		cmocka_unit_test(test_status_signals),
		cmocka_unit_test(test_status_rejected),
		cmocka_unit_test(test_status_truncated),
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_request_encode),
		cmocka_unit_test(test_request_encode_empty),
		cmocka_unit_test(test_request_encode_too_big),
		cmocka_unit_test(test_request_too_many_strings),
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_empty),
		cmocka_unit_test(test_request_visitor_error),
		cmocka_unit_test(test_request_bad_length),
		cmocka_unit_test(test_request_missing_trailing_nul),
		cmocka_unit_test(test_request_env_without_equals),
		cmocka_unit_test(test_request_no_separator),
	};
	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
