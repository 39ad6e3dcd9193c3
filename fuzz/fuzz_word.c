/* Words of the `signals` extension: what the server sends while a call
 * runs (stopped, continued, then the final status), and what makes the
 * client stop itself.
 *
 * The accepted set is built by enumeration, independently of the
 * decoder's bit tests: "continued" is exactly 0xffff; "stopped" is
 * (sig << 8 | 0x7f) for the four signals whose default action stops a
 * process; a final status is whatever pfi_status_decode accepts (its
 * own harness checks that set).  Anything else is -EPROTO with the
 * output untouched. */
#include "fuzz.h"
#include "protocol.h"

#include <errno.h>
#include <signal.h>

static int stop_signal_of(uint32_t v)
{
	static const int stops[] = { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU };
	for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
		if (v == ((uint32_t)stops[i] << 8 | 0x7f))
			return stops[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	struct pfi_call_word w = { .event = 77, .wait_status = -1,
				   .stop_signal = -1 };
	int r = pfi_call_word_decode(buf, size, &w);
	free(buf);

	if (size != PFI_STATUS_LEN) {
		FUZZ_CHECK(r == -EPROTO && w.event == 77);
		return 0;
	}
	uint32_t v = fuzz_be32(data);
	int st;
	int ends = pfi_status_decode(data, size, &st) == 0;
	int stop = stop_signal_of(v);
	FUZZ_CHECK((r == 0) == (v == 0xffff || stop || ends));
	if (r < 0) {
		FUZZ_CHECK(r == -EPROTO);
		FUZZ_CHECK(w.event == 77 && w.wait_status == -1 &&
			   w.stop_signal == -1);
	} else if (v == 0xffff) {
		FUZZ_CHECK(w.event == PFI_CALL_CONTINUED);
	} else if (stop) {
		FUZZ_CHECK(w.event == PFI_CALL_STOPPED && w.stop_signal == stop);
		uint8_t again[PFI_STATUS_LEN];
		pfi_stopped_word_encode(stop, again);
		FUZZ_CHECK(memcmp(again, data, PFI_STATUS_LEN) == 0);
	} else {
		FUZZ_CHECK(w.event == PFI_CALL_ENDED && w.wait_status == st);
	}
	return 0;
}
