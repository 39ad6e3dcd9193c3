/* The caller-state block (docs/protocol.md, "caller-state").
 *
 * Decode: any bytes either decode or are refused (-EPROTO, -EMSGSIZE)
 * without touching the output; what decodes is a state the encoder
 * accepts, and encoding then decoding it gives the same state (the
 * encoder's canonical order may differ from the input's).  Encode: a
 * state built from the input encodes exactly when it is valid, into
 * an exact-size buffer, and decodes back to itself. */
#include "fuzz.h"
#include "protocol.h"

#include <errno.h>
#include <signal.h>

static uint64_t take64(const uint8_t **p, size_t *n)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = v << 8 | (*n ? **p : 0);
		if (*n) {
			(*p)++;
			(*n)--;
		}
	}
	return v;
}

static void check_decode(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	struct pfi_caller_state st, untouched;
	memset(&st, 0x5a, sizeof st);
	memcpy(&untouched, &st, sizeof st);
	int r = pfi_caller_state_decode(buf, size, &st);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EMSGSIZE);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	free(buf);
	if (r < 0) {
		FUZZ_CHECK(memcmp(&st, &untouched, sizeof st) == 0);
		return;
	}
	FUZZ_CHECK(size >= 4 && size - 4 <= PFI_CALLER_STATE_MAX);
	uint8_t again[PFI_CALLER_STATE_MAX + 4];
	int n = pfi_caller_state_encode(&st, again, sizeof again);
	FUZZ_CHECK(n > 4);
	struct pfi_caller_state back;
	FUZZ_CHECK(pfi_caller_state_decode(again, (size_t)n, &back) == 0);
	FUZZ_CHECK(memcmp(&st, &back, sizeof st) == 0);
}

static int valid(const struct pfi_caller_state *st)
{
	uint64_t never = 1ull << (SIGKILL - 1) | 1ull << (SIGSTOP - 1);
	if (st->umask > 0777 || st->nice < -20 || st->nice > 19 ||
	    ((st->sigign | st->sigblock) & never))
		return 0;
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++)
		if (st->rlimit[i].soft > st->rlimit[i].hard)
			return 0;
	return 1;
}

static void check_encode(const uint8_t *p, size_t n)
{
	struct pfi_caller_state st;
	memset(&st, 0, sizeof st);
	st.umask = (unsigned)(take64(&p, &n) % 01040);
	st.nice = (int)(take64(&p, &n) % 44) - 22;
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++) {
		/* small values, the largest finite one and infinity */
		uint64_t a = take64(&p, &n), b = take64(&p, &n);
		st.rlimit[i].soft = a >> 62 == 3 ? PFI_RLIM_INF :
				    a >> 62 == 2 ? PFI_RLIM_INF - 1 : a % 1000;
		st.rlimit[i].hard = b >> 62 == 3 ? PFI_RLIM_INF :
				    b >> 62 == 2 ? PFI_RLIM_INF - 1 : b;
	}
	st.sigign = take64(&p, &n);
	st.sigblock = take64(&p, &n);

	uint8_t full[PFI_CALLER_STATE_MAX + 4];
	int len = pfi_caller_state_encode(&st, full, sizeof full);
	if (!valid(&st)) {
		FUZZ_CHECK(len == -EINVAL);
		return;
	}
	FUZZ_CHECK(len > 4 && (size_t)len <= sizeof full);
	uint8_t *exact = fuzz_dup(full, (size_t)len);
	FUZZ_CHECK(pfi_caller_state_encode(&st, exact, (size_t)len) == len);
	struct pfi_caller_state back;
	FUZZ_CHECK(pfi_caller_state_decode(exact, (size_t)len, &back) == 0);
	FUZZ_CHECK(memcmp(&st, &back, sizeof st) == 0);
	free(exact);
	uint8_t *small = fuzz_dup(full, (size_t)len - 1);
	FUZZ_CHECK(pfi_caller_state_encode(&st, small, (size_t)len - 1) ==
		   -ENOBUFS);
	free(small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
