/* Unit tests for the wire codec on good and bad bytes. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* A declined call is told by the whole head, nothing less: it is no
 * greeting (the decoder refuses it), and no greeting is declined. */
static void test_greeting_declined(void **state)
{
	uint32_t n = 77;
	assert_true(pfi_greeting_head_declined(BYTES("PFI-\0\0\0\0")));
	assert_int_equal(pfi_greeting_head_decode(BYTES("PFI-\0\0\0\0"), &n),
			 -EPROTO);
	assert_false(pfi_greeting_head_declined(BYTES("PFI\n\0\0\0\0")));
	assert_false(pfi_greeting_head_declined(BYTES("PFI-\0\0\0\x01")));
	assert_false(pfi_greeting_head_declined(BYTES("PFI-\0\0\0")));
	assert_false(pfi_greeting_head_declined(BYTES("")));
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
	assert_int_equal(XDATA("x-future full-argv x-2", &f), 0);
	assert_int_equal(f, PFI_FEATURE_FULL_ARGV);
	assert_int_equal(XDATA("x-future", &f), 0);
	assert_int_equal(f, 0);
	assert_int_equal(XDATA("signals full-argv", &f), 0);
	assert_int_equal(f, PFI_FEATURE_FULL_ARGV | PFI_FEATURE_SIGNALS);
	assert_int_equal(XDATA("signals", &f), 0);
	assert_int_equal(f, PFI_FEATURE_SIGNALS);
	assert_int_equal(XDATA("signal", &f), 0);      /* not a prefix match */
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

/* ---- the signals extension: step-2 bits, signal bytes, words ---- */

static void test_uses_signals(void **state)
{
	assert_int_equal(pfi_uses_signals(0), 0);
	assert_int_equal(pfi_uses_signals(PFI_FEATURE_FULL_ARGV), 0);
	assert_int_equal(pfi_uses_signals(PFI_FEATURE_SIGNALS), 0x02);
	assert_int_equal(pfi_uses_signals(PFI_FEATURE_SIGNALS |
					  PFI_FEATURE_FULL_ARGV), 0x02);
}

static void test_signal_byte(void **state)
{
	uint8_t b = 0xaa;
	assert_int_equal(pfi_signal_byte_encode(SIGTERM, &b), 0);
	assert_int_equal(b, 15);
	assert_int_equal(pfi_signal_byte_encode(64, &b), 0);
	assert_int_equal(b, 64);
	b = 0xaa;
	assert_int_equal(pfi_signal_byte_encode(0, &b), -EINVAL);
	assert_int_equal(pfi_signal_byte_encode(65, &b), -EINVAL);
	assert_int_equal(pfi_signal_byte_encode(-1, &b), -EINVAL);
	assert_int_equal(b, 0xaa);
}

static int word(uint32_t v, struct pfi_call_word *w)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
	*w = (struct pfi_call_word){ .event = 99, .wait_status = -77,
				     .stop_signal = -77 };
	return pfi_call_word_decode(b, sizeof b, w);
}

static void test_word_stopped(void **state)
{
	static const int stops[] = { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU };
	struct pfi_call_word w;
	for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
		assert_int_equal(word((uint32_t)stops[i] << 8 | 0x7f, &w), 0);
		assert_int_equal(w.event, PFI_CALL_STOPPED);
		assert_int_equal(w.stop_signal, stops[i]);
		uint8_t b[4];
		pfi_stopped_word_encode(stops[i], b);
		assert_int_equal(pfi_call_word_decode(b, 4, &w), 0);
		assert_true(WIFSTOPPED(b[2] << 8 | b[3]));
		assert_int_equal(w.stop_signal, stops[i]);
	}
}

static void test_word_continued_and_ended(void **state)
{
	struct pfi_call_word w;
	assert_int_equal(word(0xffff, &w), 0);
	assert_int_equal(w.event, PFI_CALL_CONTINUED);
	assert_int_equal(word(3 << 8, &w), 0);
	assert_int_equal(w.event, PFI_CALL_ENDED);
	assert_int_equal(w.wait_status, 3 << 8);
	assert_int_equal(word(SIGTERM, &w), 0);
	assert_int_equal(w.event, PFI_CALL_ENDED);
	assert_int_equal(w.wait_status, SIGTERM);
}

static void test_word_rejected(void **state)
{
	struct pfi_call_word w;
	static const uint32_t bad[] = {
		SIGTERM << 8 | 0x7f,        /* "stopped" by a non-stop signal */
		SIGCONT << 8 | 0x7f, 0x7f, 0xff7f, 65 << 8 | 0x7f,
		0x1137f,                    /* stray bits (a ptrace event) */
		(uint32_t)SIGTSTP << 8 | 0x7f | 0x80000000u,
		0x1ffff, 0xfffe, 0xffffffffu, /* near "continued" */
		SIGTSTP,                    /* died of a stop signal */
		0x10000,                    /* exit with stray bits */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(word(bad[i], &w), -EPROTO);
		assert_int_equal(w.event, 99);
		assert_int_equal(w.stop_signal, -77);
		assert_int_equal(w.wait_status, -77);
	}
	assert_int_equal(pfi_call_word_decode(BYTES("\0\0\xff"), &w), -EPROTO);
	assert_int_equal(pfi_call_word_decode(BYTES("\0\0\xff\xff\0"), &w),
			 -EPROTO);
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


/* ---- caller-state block and the step-2 byte ---- */

static void test_step2_byte(void **state)
{
	assert_int_equal(pfi_step2_encode(0), 0);
	assert_int_equal(pfi_step2_encode(PFI_FEATURE_FULL_ARGV), 0);
	assert_int_equal(pfi_step2_encode(PFI_FEATURE_CALLER_STATE), 0x01);
	assert_int_equal(pfi_step2_encode(PFI_FEATURE_CALLER_STATE |
					  PFI_FEATURE_FULL_ARGV), 0x01);
	unsigned f = 0;
	assert_int_equal(pfi_xdata_decode(BYTES("full-argv caller-state"), &f), 0);
	assert_int_equal(f, PFI_FEATURE_FULL_ARGV | PFI_FEATURE_CALLER_STATE);
}

static void sample_state(struct pfi_caller_state *st)
{
	memset(st, 0, sizeof *st);
	st->umask = 022;
	st->nice = -5;
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++) {
		st->rlimit[i].soft = (uint64_t)i * 1000;
		st->rlimit[i].hard = PFI_RLIM_INF;
	}
	st->rlimit[RLIMIT_NOFILE].soft = 64;
	st->rlimit[RLIMIT_NOFILE].hard = 4096;
	st->rlimit[RLIMIT_CORE].soft = PFI_RLIM_INF;
	st->sigign = 1ull << (SIGHUP - 1) | 1ull << 63;
	st->sigblock = 1ull << (SIGUSR1 - 1);
}

static const char sample_body[] =
	"umask=0022\0nice=-5\0rlimit.cpu=0:inf\0rlimit.fsize=1000:inf\0"
	"rlimit.data=2000:inf\0rlimit.stack=3000:inf\0rlimit.core=inf:inf\0"
	"rlimit.rss=5000:inf\0rlimit.nproc=6000:inf\0rlimit.nofile=64:4096\0"
	"rlimit.memlock=8000:inf\0rlimit.as=9000:inf\0rlimit.locks=10000:inf\0"
	"rlimit.sigpending=11000:inf\0rlimit.msgqueue=12000:inf\0"
	"rlimit.nice=13000:inf\0rlimit.rtprio=14000:inf\0"
	"rlimit.rttime=15000:inf\0sigign=8000000000000001\0"
	"sigblock=0000000000000200";   /* the final NUL is the string's */

static void test_caller_state_encode(void **state)
{
	struct pfi_caller_state st, back;
	uint8_t buf[PFI_CALLER_STATE_MAX + 4];
	sample_state(&st);
	int n = pfi_caller_state_encode(&st, buf, sizeof buf);
	assert_int_equal(n, 4 + sizeof sample_body);
	assert_memory_equal(buf + 4, sample_body, sizeof sample_body);
	assert_int_equal(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3],
			 sizeof sample_body);
	assert_int_equal(pfi_caller_state_decode(buf, (size_t)n, &back), 0);
	assert_memory_equal(&st, &back, sizeof st);
	/* exactly the size it needs, and not one byte less */
	assert_int_equal(pfi_caller_state_encode(&st, buf, (size_t)n), n);
	assert_int_equal(pfi_caller_state_encode(&st, buf, (size_t)n - 1),
			 -ENOBUFS);
	assert_int_equal(pfi_caller_state_encode(&st, buf, 3), -ENOBUFS);
}

static void test_caller_state_encode_refuses_impossible(void **state)
{
	struct pfi_caller_state st;
	uint8_t buf[PFI_CALLER_STATE_MAX + 4];
	sample_state(&st); st.umask = 01000;
	assert_int_equal(pfi_caller_state_encode(&st, buf, sizeof buf), -EINVAL);
	sample_state(&st); st.nice = 20;
	assert_int_equal(pfi_caller_state_encode(&st, buf, sizeof buf), -EINVAL);
	sample_state(&st); st.nice = -21;
	assert_int_equal(pfi_caller_state_encode(&st, buf, sizeof buf), -EINVAL);
	sample_state(&st); st.rlimit[3].soft = 5; st.rlimit[3].hard = 4;
	assert_int_equal(pfi_caller_state_encode(&st, buf, sizeof buf), -EINVAL);
	sample_state(&st); st.sigign |= 1ull << (SIGKILL - 1);
	assert_int_equal(pfi_caller_state_encode(&st, buf, sizeof buf), -EINVAL);
	sample_state(&st); st.sigblock |= 1ull << (SIGSTOP - 1);
	assert_int_equal(pfi_caller_state_encode(&st, buf, sizeof buf), -EINVAL);
}

/* Decodes the sample with entry `key` replaced by `entry` (NULL: left
 * out; key NULL: `entry` added at the end). */
static int decode_edited(const char *key, const char *entry)
{
	uint8_t buf[2 * sizeof sample_body + 64];
	size_t used = 4;
	const char *p = sample_body, *end = sample_body + sizeof sample_body;
	while (p < end) {
		size_t n = strlen(p) + 1;
		const char *put = p;
		if (key && strncmp(p, key, strlen(key)) == 0 &&
		    p[strlen(key)] == '=')
			put = entry;
		if (put) {
			memcpy(buf + used, put, strlen(put) + 1);
			used += strlen(put) + 1;
		}
		p += n;
	}
	if (!key) {
		memcpy(buf + used, entry, strlen(entry) + 1);
		used += strlen(entry) + 1;
	}
	uint32_t body = (uint32_t)(used - 4);
	buf[0] = body >> 24; buf[1] = body >> 16; buf[2] = body >> 8; buf[3] = body;
	struct pfi_caller_state st;
	memset(&st, 0x5a, sizeof st);
	int r = pfi_caller_state_decode(buf, used, &st);
	if (r < 0) {
		struct pfi_caller_state untouched;
		memset(&untouched, 0x5a, sizeof untouched);
		assert_memory_equal(&st, &untouched, sizeof st);
	}
	return r;
}

static void test_caller_state_decode_keys(void **state)
{
	assert_int_equal(decode_edited("umask", "umask=0022"), 0);
	assert_int_equal(decode_edited("umask", NULL), -EPROTO);
	assert_int_equal(decode_edited("rlimit.rttime", NULL), -EPROTO);
	assert_int_equal(decode_edited("sigblock", NULL), -EPROTO);
	assert_int_equal(decode_edited(NULL, "umask=0022"), -EPROTO);
	assert_int_equal(decode_edited(NULL, "rlimit.cpu=1:2"), -EPROTO);
	assert_int_equal(decode_edited(NULL, "rlimit.bogus=1:2"), -EPROTO);
	assert_int_equal(decode_edited(NULL, "future=1"), -EPROTO);
	assert_int_equal(decode_edited(NULL, "noequals"), -EPROTO);
	assert_int_equal(decode_edited(NULL, ""), -EPROTO);
	assert_int_equal(decode_edited(NULL, "=1"), -EPROTO);
	assert_int_equal(decode_edited("umask", "UMASK=0022"), -EPROTO);
	assert_int_equal(decode_edited("rlimit.nofile", "rlimit.=1:2"), -EPROTO);
}

static void test_caller_state_decode_values(void **state)
{
	static const struct { const char *key, *entry; int ok; } cases[] = {
		{ "umask", "umask=0000", 1 }, { "umask", "umask=0777", 1 },
		{ "umask", "umask=022", 0 }, { "umask", "umask=0800", 0 },
		{ "umask", "umask=1022", 0 }, { "umask", "umask=00022", 0 },
		{ "umask", "umask=", 0 }, { "umask", "umask=0x12", 0 },
		{ "nice", "nice=0", 1 }, { "nice", "nice=19", 1 },
		{ "nice", "nice=-20", 1 }, { "nice", "nice=20", 0 },
		{ "nice", "nice=-21", 0 }, { "nice", "nice=+1", 0 },
		{ "nice", "nice=-0", 0 }, { "nice", "nice=05", 0 },
		{ "nice", "nice=", 0 }, { "nice", "nice=-", 0 },
		{ "nice", "nice=1 ", 0 },
		{ "rlimit.cpu", "rlimit.cpu=0:0", 1 },
		{ "rlimit.cpu", "rlimit.cpu=inf:inf", 1 },
		{ "rlimit.cpu", "rlimit.cpu=18446744073709551614:inf", 1 },
		{ "rlimit.cpu", "rlimit.cpu=18446744073709551615:inf", 0 },
		{ "rlimit.cpu", "rlimit.cpu=18446744073709551616:inf", 0 },
		{ "rlimit.cpu", "rlimit.cpu=99999999999999999999:inf", 0 },
		{ "rlimit.cpu", "rlimit.cpu=inf:5", 0 },
		{ "rlimit.cpu", "rlimit.cpu=6:5", 0 },
		{ "rlimit.cpu", "rlimit.cpu=01:5", 0 },
		{ "rlimit.cpu", "rlimit.cpu=1:", 0 },
		{ "rlimit.cpu", "rlimit.cpu=:1", 0 },
		{ "rlimit.cpu", "rlimit.cpu=1", 0 },
		{ "rlimit.cpu", "rlimit.cpu=1:2:3", 0 },
		{ "rlimit.cpu", "rlimit.cpu=-1:2", 0 },
		{ "rlimit.cpu", "rlimit.cpu=INF:inf", 0 },
		{ "sigign", "sigign=0000000000000000", 1 },
		{ "sigign", "sigign=fffffffffffbfeff", 1 },
		{ "sigign", "sigign=0000000000000100", 0 },   /* SIGKILL */
		{ "sigblock", "sigblock=0000000000040000", 0 }, /* SIGSTOP */
		{ "sigign", "sigign=000000000000000", 0 },
		{ "sigign", "sigign=00000000000000000", 0 },
		{ "sigign", "sigign=000000000000000A", 0 },
		{ "sigign", "sigign=000000000000000g", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r = decode_edited(cases[i].key, cases[i].entry);
		if ((r == 0) != cases[i].ok)
			fail_msg("'%s' decoded with %d", cases[i].entry, r);
		if (!cases[i].ok)
			assert_int_equal(r, -EPROTO);
	}
}

static void test_caller_state_decode_framing(void **state)
{
	struct pfi_caller_state st;
	uint8_t buf[PFI_CALLER_STATE_MAX + 8];
	sample_state(&st);
	int n = pfi_caller_state_encode(&st, buf, sizeof buf);
	assert_true(n > 4);
	assert_int_equal(pfi_caller_state_decode(buf, (size_t)n - 1, &st), -EPROTO);
	assert_int_equal(pfi_caller_state_decode(buf, 3, &st), -EPROTO);
	buf[n] = 0;
	assert_int_equal(pfi_caller_state_decode(buf, (size_t)n + 1, &st), -EPROTO);
	assert_int_equal(pfi_caller_state_decode(BYTES("\0\0\0\0"), &st), -EPROTO);
	assert_int_equal(pfi_caller_state_decode(BYTES("\0\0\x20\x01"), &st),
			 -EMSGSIZE);
	assert_int_equal(pfi_caller_state_decode(BYTES("\xff\xff\xff\xff"), &st),
			 -EMSGSIZE);
	/* the last entry without its NUL */
	uint32_t body = (uint32_t)n - 5;
	buf[0] = body >> 24; buf[1] = body >> 16; buf[2] = body >> 8; buf[3] = body;
	assert_int_equal(pfi_caller_state_decode(buf, (size_t)n - 1, &st), -EPROTO);
}

/* ---- the extra-fds extension ---- */

static void test_uses_extra_fds(void **state)
{
	unsigned f = 0;
	assert_int_equal(pfi_xdata_decode(BYTES("full-argv extra-fds"), &f), 0);
	assert_int_equal(f, PFI_FEATURE_FULL_ARGV | PFI_FEATURE_EXTRA_FDS);
	assert_int_equal(pfi_uses_extra_fds(f, 1), 0x04);
	assert_int_equal(pfi_uses_extra_fds(f, 0), 0);   /* nothing to send */
	assert_int_equal(pfi_uses_extra_fds(PFI_FEATURE_SIGNALS, 5), 0);
	/* the step-2 byte of the offer alone does not carry it */
	assert_int_equal(pfi_step2_encode(PFI_FEATURE_EXTRA_FDS), 0);
}

static void test_extra_fds_round_trip(void **state)
{
	const int fds[] = { 3, 9, 63, 200, INT32_MAX };
	uint8_t buf[PFI_EXTRA_FDS_BLOCK];
	int n = pfi_extra_fds_encode(fds, 5, buf, sizeof buf);
	assert_int_equal(n, 24);
	assert_memory_equal(buf, "\0\0\0\x14" "\0\0\0\x03" "\0\0\0\x09"
			    "\0\0\0\x3f" "\0\0\0\xc8" "\x7f\xff\xff\xff", 24);
	int back[PFI_EXTRA_FDS_MAX];
	size_t count = 0;
	assert_int_equal(pfi_extra_fds_decode(buf, (size_t)n, back, &count), 0);
	assert_int_equal(count, 5);
	assert_memory_equal(back, fds, sizeof fds);
	assert_int_equal(pfi_extra_fds_encode(fds, 5, buf, 23), -ENOBUFS);

	int many[PFI_EXTRA_FDS_MAX + 1];
	for (int i = 0; i <= PFI_EXTRA_FDS_MAX; i++)
		many[i] = 3 + i;
	assert_int_equal(pfi_extra_fds_encode(many, PFI_EXTRA_FDS_MAX, buf,
					      sizeof buf), PFI_EXTRA_FDS_BLOCK);
	assert_int_equal(pfi_extra_fds_decode(buf, sizeof buf, back, &count), 0);
	assert_int_equal(count, PFI_EXTRA_FDS_MAX);
	assert_int_equal(pfi_extra_fds_encode(many, PFI_EXTRA_FDS_MAX + 1, buf,
					      sizeof buf), -EINVAL);
}

static void test_extra_fds_encode_refuses(void **state)
{
	uint8_t buf[PFI_EXTRA_FDS_BLOCK];
	const int low[] = { 2 }, negative[] = { -1 }, same[] = { 5, 5 },
		  down[] = { 9, 4 };
	assert_int_equal(pfi_extra_fds_encode(low, 0, buf, sizeof buf), -EINVAL);
	assert_int_equal(pfi_extra_fds_encode(low, 1, buf, sizeof buf), -EINVAL);
	assert_int_equal(pfi_extra_fds_encode(negative, 1, buf, sizeof buf),
			 -EINVAL);
	assert_int_equal(pfi_extra_fds_encode(same, 2, buf, sizeof buf), -EINVAL);
	assert_int_equal(pfi_extra_fds_encode(down, 2, buf, sizeof buf), -EINVAL);
}

static int extra(const char *s, size_t len, size_t *count)
{
	int fds[PFI_EXTRA_FDS_MAX];
	*count = 777;
	return pfi_extra_fds_decode((const uint8_t *)s, len, fds, count);
}

static void test_extra_fds_decode_refuses(void **state)
{
	size_t c;
	static const struct {
		const char *bytes;
		size_t len;
		int r;
	} bad[] = {
		{ "", 0, -EPROTO },
		{ "\0\0\0", 3, -EPROTO },
		{ "\0\0\0\0", 4, -EPROTO },                       /* N = 0 */
		{ "\0\0\0\x03" "\0\0\x05", 7, -EPROTO },          /* not 4N */
		{ "\0\0\0\x04" "\0\0\0\x05" "\0", 9, -EPROTO },   /* longer */
		{ "\0\0\0\x08" "\0\0\0\x05", 8, -EPROTO },        /* shorter */
		{ "\0\0\0\x04" "\0\0\0\x02", 8, -EPROTO },        /* fd 2 */
		{ "\0\0\0\x04" "\x80\0\0\0", 8, -EPROTO },        /* 2^31 */
		{ "\0\0\0\x04" "\xff\xff\xff\xff", 8, -EPROTO },  /* -1 */
		{ "\0\0\0\x08" "\0\0\0\x07" "\0\0\0\x07", 12, -EPROTO },
		{ "\0\0\0\x08" "\0\0\0\x07" "\0\0\0\x06", 12, -EPROTO },
		{ "\0\0\x01\x04", 4, -EMSGSIZE },                 /* N = 65 */
		{ "\xff\xff\xff\xfc", 4, -EMSGSIZE },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(extra(bad[i].bytes, bad[i].len, &c), bad[i].r);
		assert_int_equal(c, 777);
	}
	assert_int_equal(extra("\0\0\0\x04" "\0\0\0\x03", 8, &c), 0);
	assert_int_equal(c, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_ours),
		cmocka_unit_test(test_greeting_chiark_utils),
		cmocka_unit_test(test_greeting_wrong_magic),
		cmocka_unit_test(test_greeting_xdata_limit),
		cmocka_unit_test(test_greeting_wrong_length),
		cmocka_unit_test(test_greeting_declined),
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
		cmocka_unit_test(test_uses_signals),
		cmocka_unit_test(test_signal_byte),
		cmocka_unit_test(test_word_stopped),
		cmocka_unit_test(test_word_continued_and_ended),
		cmocka_unit_test(test_word_rejected),
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
		cmocka_unit_test(test_step2_byte),
		cmocka_unit_test(test_caller_state_encode),
		cmocka_unit_test(test_caller_state_encode_refuses_impossible),
		cmocka_unit_test(test_caller_state_decode_keys),
		cmocka_unit_test(test_caller_state_decode_values),
		cmocka_unit_test(test_caller_state_decode_framing),
		cmocka_unit_test(test_uses_extra_fds),
		cmocka_unit_test(test_extra_fds_round_trip),
		cmocka_unit_test(test_extra_fds_encode_refuses),
		cmocka_unit_test(test_extra_fds_decode_refuses),
	};
	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
