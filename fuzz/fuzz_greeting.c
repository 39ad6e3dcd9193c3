/* Greeting: what a client reads first from a server it has just
 * connected to.  The input is the whole greeting as sent (8-byte head,
 * then xdata); the harness decodes it the way the client does and
 * checks the head decoder against the format in docs/design.md section 3. */
#include "fuzz.h"
#include "protocol.h"

#include <errno.h>

#define UNTOUCHED 0xdeadbeefu

static void check_head(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	uint32_t xdata_len = UNTOUCHED;
	int r = pfi_greeting_head_decode(buf, size, &xdata_len);

	int magic_ok = size >= PFI_MAGIC_LEN &&
		       memcmp(data, PFI_MAGIC, PFI_MAGIC_LEN) == 0;
	if (size != PFI_GREETING_HEAD || !magic_ok) {
		FUZZ_CHECK(r == -EPROTO);
	} else if (fuzz_be32(data + PFI_MAGIC_LEN) > PFI_XDATA_MAX) {
		FUZZ_CHECK(r == -EMSGSIZE);
	} else {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(xdata_len == fuzz_be32(data + PFI_MAGIC_LEN));
		FUZZ_CHECK(xdata_len <= PFI_XDATA_MAX);
	}
	if (r < 0)
		FUZZ_CHECK(xdata_len == UNTOUCHED);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);   /* input is read-only */
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_head(data, size);
	if (size < PFI_GREETING_HEAD)
		return 0;

	/* As the client reads it: the head, then exactly xdata_len bytes. */
	check_head(data, PFI_GREETING_HEAD);
	uint32_t xdata_len;
	if (pfi_greeting_head_decode(data, PFI_GREETING_HEAD, &xdata_len) < 0)
		return 0;
	size_t rest = size - PFI_GREETING_HEAD;
	if (xdata_len > rest)
		return 0;                   /* the peer went away mid-greeting */
	uint8_t *xdata = fuzz_dup(data + PFI_GREETING_HEAD, xdata_len);
	unsigned features = ~0u;
	int r = pfi_xdata_decode(xdata, xdata_len, &features);
	FUZZ_CHECK(r == 0 || r == -EPROTO);
	FUZZ_CHECK(r == 0 ? (features & ~(PFI_FEATURE_FULL_ARGV |
					  PFI_FEATURE_CALLER_STATE |
					  PFI_FEATURE_SIGNALS |
					  PFI_FEATURE_EXTRA_FDS)) == 0
			  : features == 0);
	if (xdata_len == 0)
		FUZZ_CHECK(r == 0 && features == 0);  /* plain v1 */
	free(xdata);
	return 0;
}
