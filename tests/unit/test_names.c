/* Unit tests for the run-directory naming rule (src/names.c): the names
 * built for an ident parse back to it, and nothing else parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "names.h"

static void test_round_trip(void **state)
{
	struct pfi_names n;
	(void)state;
	pfi_names_init(&n, "my-server_1");
	assert_string_equal(n.sock, "smy-server_1");
	assert_string_equal(n.lock, "lmy-server_1");
	assert_string_equal(pfi_names_ident(n.sock), "my-server_1");
	assert_string_equal(pfi_names_ident(n.lock), "my-server_1");

	char longest[PFI_IDENT_BUF];
	memset(longest, 'a', PFI_IDENT_MAX);
	longest[PFI_IDENT_MAX] = 0;
	pfi_names_init(&n, longest);
	assert_int_equal(strlen(n.sock), PFI_IDENT_MAX + 1);
	assert_string_equal(pfi_names_ident(n.lock), longest);
}

static void test_not_ours(void **state)
{
	char too_long[PFI_IDENT_MAX + 3];
	(void)state;
	assert_null(pfi_names_ident("."));
	assert_null(pfi_names_ident(".."));
	assert_null(pfi_names_ident("s"));
	assert_null(pfi_names_ident("l"));
	assert_null(pfi_names_ident("xabc"));
	assert_null(pfi_names_ident(""));
	memset(too_long, 'a', sizeof too_long - 1);
	too_long[0] = 's';
	too_long[sizeof too_long - 1] = 0;
	assert_null(pfi_names_ident(too_long));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_not_ours),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
