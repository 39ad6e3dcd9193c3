/* Wait status: the last thing a server sends, and what the client turns
 * into its own exit (or death by a signal).
 *
 * The accepted set is built once by enumeration, independently of the
 * decoder's bit tests: normal exit with any code 0..255, or death by a
 * signal 1..SIGRTMAX whose default action can end a process (not one
 * that stops, continues or is ignored by default), with or without the
 * core-dump flag.  Nothing else (stopped, continued, stray high bits,
 * > INT_MAX) may be accepted. */
#include "fuzz.h"
#include "protocol.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#ifndef WCOREFLAG
#define WCOREFLAG 0x80
#endif

static uint8_t valid[0x10000 / 8];   /* every valid status is < 0x10000 */
static int built;

static void mark(unsigned st)
{
	valid[st / 8] |= (uint8_t)(1u << (st % 8));
}

static void build_valid(void)
{
	for (unsigned code = 0; code <= 255; code++)
		mark(code << 8);                         /* W_EXITCODE(code, 0) */
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
		    sig == SIGTTOU || sig == SIGCHLD || sig == SIGCONT ||
		    sig == SIGURG || sig == SIGWINCH)
			continue;
		mark((unsigned)sig);                     /* W_EXITCODE(0, sig) */
		mark((unsigned)sig | WCOREFLAG);
	}
	built = 1;
}

static int is_valid(uint32_t v)
{
	return v < 0x10000 && (valid[v / 8] >> (v % 8) & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!built)
		build_valid();

	uint8_t *buf = fuzz_dup(data, size);
	int st = -12345;
	int r = pfi_status_decode(buf, size, &st);
	free(buf);

	if (size != PFI_STATUS_LEN) {
		FUZZ_CHECK(r == -EPROTO);
		FUZZ_CHECK(st == -12345);
	} else {
		uint32_t v = fuzz_be32(data);
		FUZZ_CHECK((r == 0) == is_valid(v));
		if (r < 0) {
			FUZZ_CHECK(r == -EPROTO);
			FUZZ_CHECK(st == -12345);
		} else {
			FUZZ_CHECK((uint32_t)st == v && st >= 0);
			FUZZ_CHECK(WIFEXITED(st) != WIFSIGNALED(st));
			FUZZ_CHECK(!WIFSTOPPED(st) && !WIFCONTINUED(st));
			if (WIFSIGNALED(st))
				FUZZ_CHECK(WTERMSIG(st) >= 1 &&
					   WTERMSIG(st) <= SIGRTMAX);
			uint8_t again[PFI_STATUS_LEN];
			pfi_status_encode(st, again);
			FUZZ_CHECK(memcmp(again, data, PFI_STATUS_LEN) == 0);
		}
	}

	/* The other direction: any int the encoder is given comes back
	 * unchanged exactly when it is a terminated process's status. */
	if (size >= PFI_STATUS_LEN) {
		int in = (int)fuzz_be32(data + size - PFI_STATUS_LEN);
		uint8_t *enc = malloc(PFI_STATUS_LEN);
		FUZZ_CHECK(enc != NULL);
		pfi_status_encode(in, enc);
		int out = -1;
		int rr = pfi_status_decode(enc, PFI_STATUS_LEN, &out);
		FUZZ_CHECK((rr == 0) == (in >= 0 && is_valid((uint32_t)in)));
		if (rr == 0)
			FUZZ_CHECK(out == in);
		free(enc);
	}
	return 0;
}
