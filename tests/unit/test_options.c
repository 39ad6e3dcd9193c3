/* Unit tests for pfi_options_parse(): the three usage forms, option
 * rules, and the errors a user can run into. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "options.h"

/* A parse result, kept across the assertions of one test and freed by
 * the teardown even when an assertion fails. */
struct parsed {
	struct pfi_options o;
	struct problem p;
	int r;
};

static struct parsed parsed;

static int teardown(void **state)
{
	pfi_options_free(&parsed.o);
	return 0;
}

#define PARSE(...)                                                        \
	do {                                                              \
		/* static: the results point into argv */               \
		static char *argv_[] = { "prefork-interp", __VA_ARGS__,   \
					 NULL };                          \
		memset(&parsed.p, 0, sizeof parsed.p);                    \
		parsed.r = pfi_options_parse(                             \
			(int)(sizeof argv_ / sizeof argv_[0]) - 1,         \
			argv_, &parsed.o, &parsed.p);                     \
	} while (0)

/* The error path: the returned code, the recorded code, and a word of
 * the message. */
static void expect_failure(const char *in_message)
{
	assert_int_equal(parsed.r, -EINVAL);
	assert_int_equal(parsed.p.code, EINVAL);
	assert_non_null(strstr(parsed.p.msg, in_message));
}

static void expect_run(const char *interp, const char *script)
{
	assert_int_equal(parsed.r, 0);
	assert_int_equal(parsed.p.code, 0);
	assert_true(parsed.o.unlaundered);
	assert_false(parsed.o.want_help);
	assert_string_equal(parsed.o.interp, interp);
	assert_string_equal(parsed.o.script, script);
}

static void test_plain_form(void **state)
{
	PARSE("-U", "perl", "script", "a", "b");
	expect_run("perl", "script");
	assert_int_equal(parsed.o.mode, PFI_MODE_NORMAL);
	assert_int_equal(parsed.o.n_interp_args, 0);
	assert_null(parsed.o.interp_args[0]);
	assert_string_equal(parsed.o.script_args[0], "a");
	assert_string_equal(parsed.o.script_args[1], "b");
	assert_null(parsed.o.script_args[2]);
	assert_int_equal(parsed.o.n_items, 0);
	assert_null(parsed.o.explicit_ident);
}

static void test_plain_form_script_args_are_argv(void **state)
{
	PARSE("-U", "perl", "script", "-U", "--kill", "x,y");
	expect_run("perl", "script");
	assert_int_equal(parsed.o.mode, PFI_MODE_NORMAL);
	assert_string_equal(parsed.o.script_args[0], "-U");
	assert_string_equal(parsed.o.script_args[1], "--kill");
	assert_string_equal(parsed.o.script_args[2], "x,y");
}

static void test_combined_form(void **state)
{
	PARSE("-U,perl", "script", "a");
	expect_run("perl", "script");
	assert_int_equal(parsed.o.n_interp_args, 0);
	assert_null(parsed.o.interp_args[0]);
	assert_string_equal(parsed.o.script_args[0], "a");
	assert_null(parsed.o.script_args[1]);
}

static void test_combined_form_interp_args(void **state)
{
	PARSE("-U,perl,-w,-T", "script", "a");
	expect_run("perl", "script");
	assert_int_equal(parsed.o.n_interp_args, 2);
	assert_string_equal(parsed.o.interp_args[0], "-w");
	assert_string_equal(parsed.o.interp_args[1], "-T");
	assert_null(parsed.o.interp_args[2]);
	assert_string_equal(parsed.o.script_args[0], "a");
}

static void test_combined_form_no_script_args(void **state)
{
	PARSE("-Uf,python3", "script");
	expect_run("python3", "script");
	assert_int_equal(parsed.o.mode, PFI_MODE_FRESH);
	assert_null(parsed.o.script_args[0]);
}

static void test_spaced_form(void **state)
{
	PARSE("-U  perl -w", "script", "a b");
	expect_run("perl", "script");
	assert_int_equal(parsed.o.n_interp_args, 1);
	assert_string_equal(parsed.o.interp_args[0], "-w");
	assert_null(parsed.o.interp_args[1]);
	assert_string_equal(parsed.o.script_args[0], "a b");
}

static void test_ident_items_in_order_combined(void **state)
{
	PARSE("-U,-E,HOME,-G,x y,-EUSER,-Gz,perl", "s");
	expect_run("perl", "s");
	assert_int_equal(parsed.o.n_items, 4);
	assert_int_equal(parsed.o.items[0].kind, 'E');
	assert_string_equal(parsed.o.items[0].value, "HOME");
	assert_int_equal(parsed.o.items[1].kind, 'G');
	assert_string_equal(parsed.o.items[1].value, "x y");
	assert_int_equal(parsed.o.items[2].kind, 'E');
	assert_string_equal(parsed.o.items[2].value, "USER");
	assert_int_equal(parsed.o.items[3].kind, 'G');
	assert_string_equal(parsed.o.items[3].value, "z");
}

static void test_ident_items_in_order_plain(void **state)
{
	PARSE("-GA", "-U", "-E", "LANG", "-G", "", "perl", "s");
	expect_run("perl", "s");
	assert_int_equal(parsed.o.n_items, 3);
	assert_int_equal(parsed.o.items[0].kind, 'G');
	assert_string_equal(parsed.o.items[0].value, "A");
	assert_int_equal(parsed.o.items[1].kind, 'E');
	assert_string_equal(parsed.o.items[1].value, "LANG");
	assert_int_equal(parsed.o.items[2].kind, 'G');
	assert_string_equal(parsed.o.items[2].value, "");
}

static void test_E_needs_a_name(void **state)
{
	PARSE("-U", "-E", "A=B", "perl", "s");
	expect_failure("-E needs an environment variable name");
	pfi_options_free(&parsed.o);
	PARSE("-U", "-E", "", "perl", "s");
	expect_failure("-E needs");
	pfi_options_free(&parsed.o);
	/* A forgotten name swallows the next option: say so, rather than
	 * that -U is missing. */
	PARSE("-E", "-U", "perl", "s");
	expect_failure("-E needs an environment variable name, not '-U'");
}

static void test_g_valid(void **state)
{
	PARSE("-U", "-g", "my_Ident-09", "perl", "s");
	expect_run("perl", "s");
	assert_string_equal(parsed.o.explicit_ident, "my_Ident-09");
	pfi_options_free(&parsed.o);

	PARSE("-U", "-g0123456789012345678901234567890123456789"
		    "012345678901234567890123", "perl", "s");
	expect_run("perl", "s");
	assert_int_equal(strlen(parsed.o.explicit_ident), PFI_IDENT_MAX);
}

static void test_g_invalid(void **state)
{
	PARSE("-U", "-g", "a/b", "perl", "s");
	expect_failure("-g needs 1 to 64 characters");
	assert_non_null(strstr(parsed.p.msg, "'a/b'"));
	pfi_options_free(&parsed.o);

	PARSE("-U", "-g", "", "perl", "s");
	expect_failure("-g needs");
	pfi_options_free(&parsed.o);

	PARSE("-U", "-g", "with space", "perl", "s");
	expect_failure("-g needs");
	pfi_options_free(&parsed.o);

	PARSE("-U", "-g0123456789012345678901234567890123456789"
		    "0123456789012345678901234", "perl", "s");   /* 65 */
	expect_failure("-g needs");
	assert_null(parsed.o.explicit_ident);
}

static void test_missing_U(void **state)
{
	PARSE("perl", "script");
	expect_failure("need -U");
	pfi_options_free(&parsed.o);
	PARSE("-f,perl", "script");
	expect_failure("need -U");
}

static void test_laundered(void **state)
{
	(void)state;
	PARSE("-L,perl,-w", "script", "a");
	assert_int_equal(parsed.r, 0);
	assert_true(parsed.o.laundered);
	assert_false(parsed.o.unlaundered);
	assert_string_equal(parsed.o.interp, "perl");
	assert_string_equal(parsed.o.script, "script");
	assert_string_equal(parsed.o.script_args[0], "a");
	pfi_options_free(&parsed.o);
	PARSE("-L", "-E", "PERL5LIB", "perl", "script");
	assert_int_equal(parsed.r, 0);
	assert_true(parsed.o.laundered);
	pfi_options_free(&parsed.o);
	PARSE("-LU,perl", "script");
	expect_failure("-U and -L cannot be combined");
	pfi_options_free(&parsed.o);
	PARSE("-U,-L,perl", "script");
	expect_failure("-U and -L cannot be combined");
	pfi_options_free(&parsed.o);
	PARSE("perl", "script");
	expect_failure("or -L");
}

static void test_unknown_option(void **state)
{
	PARSE("-U", "-x", "perl", "s");
	expect_failure("unknown option '-x'");
	pfi_options_free(&parsed.o);
	PARSE("-Ux", "perl", "s");
	expect_failure("unknown option '-x' in -Ux");
	pfi_options_free(&parsed.o);
	PARSE("-U", "--frob", "perl", "s");
	expect_failure("unknown option '--frob'");
	pfi_options_free(&parsed.o);
	PARSE("-U,--frob,perl", "s");
	expect_failure("unknown option '--frob'");
	pfi_options_free(&parsed.o);
	/* The combined form is split only as the first argument. */
	PARSE("--run-dir=/r", "-U,perl", "s");
	expect_failure("'-U,perl': options joined with ',' are split only in "
		       "the first argument");
	pfi_options_free(&parsed.o);
	PARSE("-f", "-U,perl", "s");
	expect_failure("'-U,perl': options joined with ','");
}

static void test_missing_value(void **state)
{
	PARSE("-U", "-E");
	expect_failure("option -E needs a value");
	pfi_options_free(&parsed.o);
	PARSE("-U,-g");
	expect_failure("option -g needs a value");
	pfi_options_free(&parsed.o);
	PARSE("-U", "--run-dir");
	expect_failure("option --run-dir needs a value");
}

static void test_missing_interpreter(void **state)
{
	char *argv0[] = { "prefork-interp", NULL };
	parsed.r = pfi_options_parse(1, argv0, &parsed.o, &parsed.p);
	expect_failure("no interpreter given");
	pfi_options_free(&parsed.o);

	PARSE("-U");
	expect_failure("no interpreter given");
	pfi_options_free(&parsed.o);
	PARSE("-U", "--");
	expect_failure("no interpreter given");
	pfi_options_free(&parsed.o);
	PARSE("-U,-Gx", "script");
	expect_failure("no interpreter given");
	pfi_options_free(&parsed.o);
	PARSE("", "script");
	expect_failure("empty interpreter name");
}

static void test_missing_script(void **state)
{
	PARSE("-U", "perl");
	expect_failure("no script given to run with perl (a '#!' line names "
		       "the interpreter after its options: -U,perl)");
	pfi_options_free(&parsed.o);
	/* '#!prefork-interp -U': the kernel's script is taken for the
	 * interpreter. */
	PARSE("-U", "./s.pl");
	expect_failure("no script given to run with ./s.pl (a '#!' line");
	pfi_options_free(&parsed.o);
	PARSE("-U,perl,-w");
	expect_failure("no script given to run with perl");
	assert_null(strstr(parsed.p.msg, "'#!'"));
	pfi_options_free(&parsed.o);
	PARSE("-U", "perl", "");
	expect_failure("empty script name");
}

static void test_empty_item_in_combined(void **state)
{
	PARSE("-U,,perl", "s");
	expect_failure("empty item");
	pfi_options_free(&parsed.o);
	PARSE("-U,perl,", "s");
	expect_failure("empty item");
}

static void test_double_dash(void **state)
{
	PARSE("-U", "--", "-perl", "s");
	expect_run("-perl", "s");
}

static void test_help_and_version(void **state)
{
	PARSE("--help");
	assert_int_equal(parsed.r, 0);
	assert_true(parsed.o.want_help);
	pfi_options_free(&parsed.o);

	PARSE("-h", "perl");            /* no -U, no script: still help */
	assert_int_equal(parsed.r, 0);
	assert_true(parsed.o.want_help);
	pfi_options_free(&parsed.o);

	PARSE("--version");
	assert_int_equal(parsed.r, 0);
	assert_true(parsed.o.want_version);
	assert_false(parsed.o.want_help);
	assert_non_null(strstr(pfi_usage, "-U"));
}

static void test_fresh_and_kill(void **state)
{
	PARSE("-Uf", "perl", "s");
	expect_run("perl", "s");
	assert_int_equal(parsed.o.mode, PFI_MODE_FRESH);
	pfi_options_free(&parsed.o);

	PARSE("-U", "--kill", "perl", "s");
	expect_run("perl", "s");
	assert_int_equal(parsed.o.mode, PFI_MODE_KILL);
	pfi_options_free(&parsed.o);

	PARSE("-U", "-f", "-f", "perl", "s");
	assert_int_equal(parsed.r, 0);
	assert_int_equal(parsed.o.mode, PFI_MODE_FRESH);
}

static void test_fresh_with_kill_conflicts(void **state)
{
	PARSE("-U", "-f", "--kill", "perl", "s");
	expect_failure("-f and --kill cannot be combined");
	pfi_options_free(&parsed.o);
	PARSE("-U,--kill,-f,perl", "s");
	expect_failure("-f and --kill cannot be combined");
}

static void test_run_dir(void **state)
{
	PARSE("-U", "--run-dir=/tmp/a", "perl", "s");
	expect_run("perl", "s");
	assert_string_equal(parsed.o.run_dir, "/tmp/a");
	pfi_options_free(&parsed.o);

	PARSE("-U", "--run-dir", "/tmp/b", "perl", "s");
	expect_run("perl", "s");
	assert_string_equal(parsed.o.run_dir, "/tmp/b");
}

static void test_management_modes(void **state)
{
	PARSE("--list");
	assert_int_equal(parsed.r, 0);
	assert_int_equal(parsed.o.mode, PFI_MODE_LIST);
	assert_null(parsed.o.script);
	pfi_options_free(&parsed.o);

	PARSE("--kill-all");
	assert_int_equal(parsed.r, 0);
	assert_int_equal(parsed.o.mode, PFI_MODE_KILL_ALL);
	pfi_options_free(&parsed.o);

	/* --kill SCRIPT: no interpreter, no -U needed */
	PARSE("--kill", "./x");
	assert_int_equal(parsed.r, 0);
	assert_int_equal(parsed.o.mode, PFI_MODE_KILL);
	assert_string_equal(parsed.o.script, "./x");
	assert_null(parsed.o.interp);
	pfi_options_free(&parsed.o);

	PARSE("--kill", "-g", "name");
	assert_int_equal(parsed.r, 0);
	assert_string_equal(parsed.o.explicit_ident, "name");
	pfi_options_free(&parsed.o);

	PARSE("--list", "perl", "s");
	expect_failure("--list takes no interpreter or script");
	pfi_options_free(&parsed.o);
	/* combined form: the word after it would be the script */
	PARSE("-U,--list", "s");
	expect_failure("--list takes no interpreter or script");
	pfi_options_free(&parsed.o);
	PARSE("-U,--kill-all", "s");
	expect_failure("--kill-all takes no interpreter or script");
	pfi_options_free(&parsed.o);
	PARSE("--list", "--kill");
	expect_failure("--kill and --list cannot be combined");
	pfi_options_free(&parsed.o);
	PARSE("--kill-all", "--kill", "s");
	expect_failure("--kill and --kill-all cannot be combined");
	pfi_options_free(&parsed.o);
	PARSE("--kill");
	expect_failure("--kill needs a script");
}

/* What --list and --kill-all would ignore, or --kill would not stop,
 * is refused rather than dropped: "--kill-all -g NAME" stopping every
 * server, "--kill a b c" stopping only b. */
static void test_management_leftovers(void **state)
{
	PARSE("--kill-all", "-g", "name");
	expect_failure("-g names one server: not with --kill-all");
	pfi_options_free(&parsed.o);
	PARSE("--list", "-g", "name");
	expect_failure("-g names one server: not with --list");
	pfi_options_free(&parsed.o);
	PARSE("--kill", "a", "b", "c");
	expect_failure("--kill takes no arguments after the script ('c')");
	pfi_options_free(&parsed.o);
	PARSE("--kill,-U,perl", "s", "arg");
	expect_failure("--kill takes no arguments after the script ('arg')");
	pfi_options_free(&parsed.o);
	/* the interpreter's own arguments are part of the #! line */
	PARSE("--kill,-U,perl,-w", "s");
	assert_int_equal(parsed.r, 0);
	assert_string_equal(parsed.o.script, "s");
	pfi_options_free(&parsed.o);
	PARSE("--kill", "-g", "name", "-U", "perl", "s");
	assert_int_equal(parsed.r, 0);
	assert_string_equal(parsed.o.explicit_ident, "name");
}

static void test_fallback(void **state)
{
	PARSE("-U", "--fallback=quiet", "perl", "s");
	expect_run("perl", "s");
	assert_int_equal(parsed.o.fallback, PFI_FALLBACK_QUIET);
	pfi_options_free(&parsed.o);

	PARSE("-U,--fallback=refuse,perl", "s");
	expect_run("perl", "s");
	assert_int_equal(parsed.o.fallback, PFI_FALLBACK_REFUSE);
	pfi_options_free(&parsed.o);

	PARSE("-U", "--fallback", "warn", "perl", "s");
	expect_run("perl", "s");
	assert_int_equal(parsed.o.fallback, PFI_FALLBACK_WARN);
	pfi_options_free(&parsed.o);

	PARSE("-U", "perl", "s");
	assert_int_equal(parsed.o.fallback, PFI_FALLBACK_UNSET);
	pfi_options_free(&parsed.o);

	PARSE("-U", "--fallback=loud", "perl", "s");
	expect_failure("--fallback must be warn, quiet or refuse, not 'loud'");
	pfi_options_free(&parsed.o);
	PARSE("-U", "--fallback");
	expect_failure("option --fallback needs a value");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_management_modes, teardown),
		cmocka_unit_test_teardown(test_management_leftovers, teardown),
		cmocka_unit_test_teardown(test_fallback, teardown),
		cmocka_unit_test_teardown(test_plain_form, teardown),
		cmocka_unit_test_teardown(test_plain_form_script_args_are_argv, teardown),
		cmocka_unit_test_teardown(test_combined_form, teardown),
		cmocka_unit_test_teardown(test_combined_form_interp_args, teardown),
		cmocka_unit_test_teardown(test_combined_form_no_script_args, teardown),
		cmocka_unit_test_teardown(test_spaced_form, teardown),
		cmocka_unit_test_teardown(test_ident_items_in_order_combined, teardown),
		cmocka_unit_test_teardown(test_ident_items_in_order_plain, teardown),
		cmocka_unit_test_teardown(test_E_needs_a_name, teardown),
		cmocka_unit_test_teardown(test_g_valid, teardown),
		cmocka_unit_test_teardown(test_g_invalid, teardown),
		cmocka_unit_test_teardown(test_missing_U, teardown),
		cmocka_unit_test_teardown(test_unknown_option, teardown),
		cmocka_unit_test_teardown(test_missing_value, teardown),
		cmocka_unit_test_teardown(test_missing_interpreter, teardown),
		cmocka_unit_test_teardown(test_missing_script, teardown),
		cmocka_unit_test_teardown(test_empty_item_in_combined, teardown),
		cmocka_unit_test_teardown(test_double_dash, teardown),
		cmocka_unit_test_teardown(test_help_and_version, teardown),
		cmocka_unit_test_teardown(test_fresh_and_kill, teardown),
		cmocka_unit_test_teardown(test_fresh_with_kill_conflicts, teardown),
		cmocka_unit_test_teardown(test_run_dir, teardown),
		cmocka_unit_test_teardown(test_laundered, teardown),
	};
	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
