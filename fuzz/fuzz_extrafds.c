/* The extra-fds block (docs/protocol.md, "extra-fds").
 *
 * Decode: any bytes either decode or are refused (-EPROTO, -EMSGSIZE)
 * without touching the outputs; what decodes is 1..64 numbers, strictly
 * ascending from 3, and encoding them gives back exactly the input (the
 * encoding is canonical).  Encode: numbers taken from the input encode
 * exactly when they are a valid list, into an exact-size buffer, and
 * decode back to themselves. */
#include "fuzz.h"
#include "protocol.h"

#include <errno.h>

static void check_decode(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	int fds[PFI_EXTRA_FDS_MAX];
	memset(fds, 0x5a, sizeof fds);
	size_t n = 12345;
	int r = pfi_extra_fds_decode(buf, size, fds, &n);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EMSGSIZE);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	free(buf);
	if (r < 0) {
		FUZZ_CHECK(n == 12345);
		for (size_t i = 0; i < PFI_EXTRA_FDS_MAX; i++)
			FUZZ_CHECK(fds[i] == 0x5a5a5a5a);
		return;
	}
	FUZZ_CHECK(n >= 1 && n <= PFI_EXTRA_FDS_MAX && size == 4 + 4 * n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(fds[i] >= PFI_EXTRA_FD_MIN &&
			   (i == 0 || fds[i] > fds[i - 1]));
	uint8_t again[PFI_EXTRA_FDS_BLOCK];
	FUZZ_CHECK(pfi_extra_fds_encode(fds, n, again, sizeof again) ==
		   (int)size);
	FUZZ_CHECK(memcmp(again, data, size) == 0);
}

static void check_encode(const uint8_t *p, size_t size)
{
	/* one count byte, then 4-byte numbers (as many as the count asks,
	 * zeros past the end of the input) */
	size_t n = size ? p[0] % (PFI_EXTRA_FDS_MAX + 2) : 0;
	int fds[PFI_EXTRA_FDS_MAX + 1] = { 0 };
	int valid = n >= 1 && n <= PFI_EXTRA_FDS_MAX;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = 0;
		for (size_t b = 0; b < 4; b++) {
			size_t at = 1 + 4 * i + b;
			v = v << 8 | (at < size ? p[at] : 0);
		}
		fds[i] = (int)v;
		if (fds[i] < PFI_EXTRA_FD_MIN || (i > 0 && fds[i] <= fds[i - 1]))
			valid = 0;
	}
	uint8_t full[PFI_EXTRA_FDS_BLOCK + 4];
	int len = pfi_extra_fds_encode(fds, n, full, sizeof full);
	if (!valid) {
		FUZZ_CHECK(len == -EINVAL);
		return;
	}
	FUZZ_CHECK(len == (int)(4 + 4 * n));
	uint8_t *exact = fuzz_dup(full, (size_t)len);
	FUZZ_CHECK(pfi_extra_fds_encode(fds, n, exact, (size_t)len) == len);
	int back[PFI_EXTRA_FDS_MAX];
	size_t got = 0;
	FUZZ_CHECK(pfi_extra_fds_decode(exact, (size_t)len, back, &got) == 0);
	FUZZ_CHECK(got == n && memcmp(back, fds, n * sizeof *fds) == 0);
	free(exact);
	uint8_t *small = fuzz_dup(full, (size_t)len - 1);
	FUZZ_CHECK(pfi_extra_fds_encode(fds, n, small, (size_t)len - 1) ==
		   -ENOBUFS);
	free(small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
