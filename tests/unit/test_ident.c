/* Unit tests for pfi_ident_compute(): the same invocation always names
 * the same server, and each input that must separate servers does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ident.h"

/* Parses argv and computes its ident into out. */
static void ident_of(char *const *argv, char out[PFI_IDENT_BUF])
{
	struct pfi_options o;
	struct problem p = { 0 };
	int argc = 0;
	while (argv[argc])
		argc++;
	assert_int_equal(pfi_options_parse(argc, argv, &o, &p), 0);
	assert_int_equal(pfi_ident_compute(&o, out, &p), 0);
	pfi_options_free(&o);
}

#define IDENT(out, ...) do {                                           \
		char *argv_[] = { "prefork-interp", __VA_ARGS__, NULL };   \
		ident_of(argv_, out);                                      \
	} while (0)

static void test_stable_and_hex(void **state)
{
	char a[PFI_IDENT_BUF], b[PFI_IDENT_BUF];
	IDENT(a, "-U", "perl", "script", "arg1");
	IDENT(b, "-U", "perl", "script", "other", "args");
	assert_string_equal(a, b);         /* script args do not matter */
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	/* the same server whichever usage form names it */
	IDENT(b, "-U,perl", "script");
	assert_string_equal(a, b);
	IDENT(b, "-U perl", "script");
	assert_string_equal(a, b);
}

static void test_inputs_separate_servers(void **state)
{
	char base[PFI_IDENT_BUF], x[PFI_IDENT_BUF];
	IDENT(base, "-U", "perl", "script");
	IDENT(x, "-U", "perl", "script2");
	assert_string_not_equal(base, x);
	IDENT(x, "-U", "python3", "script");
	assert_string_not_equal(base, x);
	IDENT(x, "-U,perl,-w", "script");
	assert_string_not_equal(base, x);
	IDENT(x, "-U", "-G", "a", "perl", "script");
	assert_string_not_equal(base, x);
	/* a laundered server never answers an unlaundered client */
	IDENT(x, "-L", "perl", "script");
	assert_string_not_equal(base, x);
}

static void test_item_order_and_boundaries(void **state)
{
	char ab[PFI_IDENT_BUF], ba[PFI_IDENT_BUF], joined[PFI_IDENT_BUF];
	IDENT(ab, "-U", "-G", "a", "-G", "b", "perl", "s");
	IDENT(ba, "-U", "-G", "b", "-G", "a", "perl", "s");
	assert_string_not_equal(ab, ba);
	/* length-prefixed items: "a"+"b" is not "ab" */
	IDENT(joined, "-U", "-G", "ab", "perl", "s");
	assert_string_not_equal(ab, joined);
	/* -G X and -E X differ even with identical strings */
	IDENT(ab, "-U", "-G", "HOME", "perl", "s");
	IDENT(ba, "-U", "-E", "HOME", "perl", "s");
	assert_string_not_equal(ab, ba);
}

static void test_env_value_and_absence(void **state)
{
	char unset[PFI_IDENT_BUF], empty[PFI_IDENT_BUF], one[PFI_IDENT_BUF],
	     two[PFI_IDENT_BUF], again[PFI_IDENT_BUF];
	unsetenv("PFI_IDENT_TEST");
	IDENT(unset, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "", 1);
	IDENT(empty, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "1", 1);
	IDENT(one, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "2", 1);
	IDENT(two, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	setenv("PFI_IDENT_TEST", "1", 1);
	IDENT(again, "-U", "-E", "PFI_IDENT_TEST", "perl", "s");
	assert_string_not_equal(unset, empty);   /* absent is not empty */
	assert_string_not_equal(empty, one);
	assert_string_not_equal(one, two);
	assert_string_equal(one, again);
	unsetenv("PFI_IDENT_TEST");
}

static void test_working_directory(void **state)
{
	char here[PFI_IDENT_BUF], root[PFI_IDENT_BUF];
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	IDENT(here, "-U", "perl", "s");
	assert_int_equal(chdir("/"), 0);
	IDENT(root, "-U", "perl", "s");
	assert_int_equal(chdir(cwd), 0);
	if (strcmp(cwd, "/") != 0)
		assert_string_not_equal(here, root);
}

static void test_explicit_ident(void **state)
{
	char x[PFI_IDENT_BUF];
	IDENT(x, "-U", "-g", "my-server_1", "perl", "s");
	assert_string_equal(x, "my-server_1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stable_and_hex),
		cmocka_unit_test(test_inputs_separate_servers),
		cmocka_unit_test(test_item_order_and_boundaries),
		cmocka_unit_test(test_env_value_and_absence),
		cmocka_unit_test(test_working_directory),
		cmocka_unit_test(test_explicit_ident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
