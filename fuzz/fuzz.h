/* Shared by the fuzz harnesses and the regression driver.
 *
 * A harness checks the decoders' own promises (round trips, limits,
 * agreement with a small reference model), so a failed check must stop
 * the run the same way a sanitizer report does: print and abort(). */
#ifndef PFI_FUZZ_H
#define PFI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                  \
	do {                                                              \
		if (!(cond))                                              \
			fuzz_fail(__FILE__, __LINE__, #cond);             \
	} while (0)

__attribute__((noreturn, unused))
static void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
	abort();
}

/* An exact-size heap copy: a decoder that reads one byte too far hits
 * the redzone behind it and AddressSanitizer reports it (libFuzzer's own
 * buffer is exact-size too, but the regression driver and AFL++'s
 * driver need not be). */
__attribute__((unused))
static uint8_t *fuzz_dup(const void *data, size_t size)
{
	/* calloc(0, 1) gives a unique pointer with no usable bytes under
	 * ASan, so even a zero-length buffer catches a stray read.  (calloc
	 * rather than malloc: gcc warns of "uninitialized" 0-byte buffers.) */
	uint8_t *copy = calloc(size, 1);
	FUZZ_CHECK(copy != NULL || size == 0);
	if (size)
		memcpy(copy, data, size);
	return copy;
}

__attribute__((unused))
static uint32_t fuzz_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#endif
