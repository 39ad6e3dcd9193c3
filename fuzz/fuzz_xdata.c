/* Greeting extension data: feature tokens separated by single spaces.
 *
 * The decoder is checked against a small reference model whose token
 * table is learnt from the encoder (one bit at a time), so decoder and
 * encoder must agree on every known feature.  Besides the raw input,
 * the harness decodes an input-derived buffer of an input-chosen length
 * (two length bytes, then a pattern repeated to fill it), so lengths
 * around PFI_XDATA_MAX are reached without 4 KiB mutations. */
#include "fuzz.h"
#include "protocol.h"

#include <errno.h>

#define N_BITS 32

static struct {
	int learnt;
	unsigned known;
	size_t len[N_BITS];
	char token[N_BITS][PFI_FEATURE_MAX + 1];
} table;

static int token_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static void learn_tokens(void)
{
	for (unsigned i = 0; i < N_BITS; i++) {
		uint8_t buf[PFI_XDATA_MAX];
		int n = pfi_xdata_encode(1u << i, buf, sizeof buf);
		FUZZ_CHECK(n >= 0 && n <= PFI_FEATURE_MAX);
		if (n == 0)
			continue;
		for (int k = 0; k < n; k++)
			FUZZ_CHECK(token_char(buf[k]));
		table.known |= 1u << i;
		table.len[i] = (size_t)n;
		memcpy(table.token[i], buf, (size_t)n);
	}
	FUZZ_CHECK(table.known & PFI_FEATURE_FULL_ARGV);
	table.learnt = 1;
}

static int model_decode(const uint8_t *buf, size_t len, unsigned *features)
{
	*features = 0;
	if (len > PFI_XDATA_MAX)
		return -EMSGSIZE;
	if (len == 0)
		return 0;                   /* plain v1 */
	unsigned found = 0;
	for (size_t start = 0;;) {
		const uint8_t *sp = memchr(buf + start, ' ', len - start);
		size_t end = sp ? (size_t)(sp - buf) : len;
		size_t n = end - start;
		if (n == 0 || n > PFI_FEATURE_MAX)
			return -EPROTO;
		for (size_t k = start; k < end; k++)
			if (!token_char(buf[k]))
				return -EPROTO;
		for (unsigned i = 0; i < N_BITS; i++)
			if (table.len[i] == n &&
			    memcmp(table.token[i], buf + start, n) == 0)
				found |= 1u << i;
		if (!sp)
			break;
		start = end + 1;            /* may equal len: empty token */
	}
	*features = found;
	return 0;
}

static void check_decode(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	unsigned got = 0x5a5a5a5a, want;
	int r = pfi_xdata_decode(buf, size, &got);
	int model = model_decode(data, size, &want);
	FUZZ_CHECK(r == model);
	FUZZ_CHECK(got == want);            /* 0 on failure */
	FUZZ_CHECK((got & ~table.known) == 0);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	free(buf);

	if (r == 0)
		FUZZ_CHECK(size <= PFI_XDATA_MAX);
}

/* encode(mask) decodes back to mask's known bits, fits the limit, and
 * never writes more than the capacity it is given. */
static void check_encode(unsigned mask)
{
	uint8_t full[PFI_XDATA_MAX];
	int n = pfi_xdata_encode(mask, full, sizeof full);
	FUZZ_CHECK(n >= 0 && (size_t)n <= PFI_XDATA_MAX);
	FUZZ_CHECK((n == 0) == ((mask & table.known) == 0));

	uint8_t *exact = fuzz_dup(full, (size_t)n);
	FUZZ_CHECK(pfi_xdata_encode(mask, exact, (size_t)n) == n);
	FUZZ_CHECK(memcmp(exact, full, (size_t)n) == 0);
	unsigned back = 0;
	FUZZ_CHECK(pfi_xdata_decode(exact, (size_t)n, &back) == 0);
	FUZZ_CHECK(back == (mask & table.known));
	free(exact);

	if (n > 0) {
		uint8_t *small = fuzz_dup(full, (size_t)n - 1);
		FUZZ_CHECK(pfi_xdata_encode(mask, small, (size_t)n - 1) ==
			   -ENOBUFS);
		free(small);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!table.learnt)
		learn_tokens();

	check_decode(data, size);

	if (size >= 4)
		check_encode(fuzz_be32(data));
	else
		check_encode(size ? data[0] : 0);

	if (size > 2) {
		size_t target = ((size_t)data[0] << 8 | data[1]) %
				(2 * PFI_XDATA_MAX + 2);
		const uint8_t *pat = data + 2;
		size_t plen = size - 2;
		uint8_t *grown = malloc(target ? target : 1);
		FUZZ_CHECK(grown != NULL);
		for (size_t i = 0; i < target; i++)
			grown[i] = pat[i % plen];
		check_decode(grown, target);
		free(grown);
	}
	return 0;
}
