/* Unit tests for pfi_shebang_was_cut(): which argument the kernel
 * passes for a '#!' line longer than its buffer, and when that lost
 * something. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "shebang.h"

#define BUF 256

/* "#!/c -U,-G,xxx...,perl,-w,-I/srv/app/lib\n" with the padding chosen
 * so that byte 255 (the first the kernel drops) is `at` characters into
 * ",perl,-w,-I/srv/app/lib". */
static const char tail[] = ",perl,-w,-I/srv/app/lib";
#define WHOLE_TAIL (sizeof tail - 1)

static size_t long_line(char *out, size_t at, const char *after)
{
	const char *head = "#!/c -U,-G,";
	size_t pad = BUF - 1 - strlen(head) - at;
	size_t n = 0;
	memcpy(out, head, strlen(head));
	n += strlen(head);
	memset(out + n, 'x', pad);
	n += pad;
	strcpy(out + n, tail);
	n += strlen(tail);
	strcpy(out + n, after);
	return n + strlen(after);
}

/* What the kernel passes: bytes 5 to 254. */
static void cut_arg(const char *line, char *arg)
{
	memcpy(arg, line + 5, BUF - 1 - 5);
	arg[BUF - 1 - 5] = '\0';
}

static void test_cut_in_interpreter_arguments(void **state)
{
	char line[1024], arg[BUF];
	size_t len = long_line(line, 15, "\nprint 1;\n");
	cut_arg(line, arg);
	assert_string_equal(arg + strlen(arg) - 14, "perl,-w,-I/srv");
	assert_int_equal(pfi_shebang_was_cut(line, len, BUF, arg), 1);
}

static void test_other_argument_is_not_ours(void **state)
{
	char line[1024], arg[BUF];
	size_t len = long_line(line, 15, "\n");
	cut_arg(line, arg);
	arg[3] = 'Z';
	assert_int_equal(pfi_shebang_was_cut(line, len, BUF, arg), 0);
	/* a command line naming the script with a shorter argument */
	assert_int_equal(pfi_shebang_was_cut(line, len, BUF, "-U,perl"), 0);
}

static void test_line_that_fits(void **state)
{
	const char *line = "#!/c -U,perl,-w\nprint 1;\n";
	assert_int_equal(pfi_shebang_was_cut(line, strlen(line), BUF,
					     "-U,perl,-w"), 0);
}

static void test_only_blanks_beyond_the_cut(void **state)
{
	char line[1024], arg[BUF];
	/* the whole line is in the first 255 bytes, then blanks */
	size_t len = long_line(line, WHOLE_TAIL, "");
	memset(line + len, ' ', 300);
	line[len + 300] = '\t';
	line[len + 301] = '\n';
	len += 302;
	cut_arg(line, arg);
	assert_int_equal(pfi_shebang_was_cut(line, len, BUF, arg), 0);
}

static void test_newline_as_the_last_byte_read(void **state)
{
	/* the newline at byte 255: the kernel finds it, nothing cut */
	char line[1024], arg[BUF];
	size_t len = long_line(line, WHOLE_TAIL, "\nprint 1;\n");
	assert_int_equal(line[BUF - 1], '\n');
	cut_arg(line, arg);
	assert_int_equal(pfi_shebang_was_cut(line, len, BUF, arg), 0);
}

static void test_not_a_shebang(void **state)
{
	char line[1024];
	memset(line, 'x', 600);
	assert_int_equal(pfi_shebang_was_cut(line, 600, BUF, "x"), 0);
}

static void test_short_file_without_newline(void **state)
{
	const char *line = "#!/c -U,perl";
	assert_int_equal(pfi_shebang_was_cut(line, strlen(line), BUF,
					     "-U,perl"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_in_interpreter_arguments),
		cmocka_unit_test(test_other_argument_is_not_ours),
		cmocka_unit_test(test_line_that_fits),
		cmocka_unit_test(test_only_blanks_beyond_the_cut),
		cmocka_unit_test(test_newline_as_the_last_byte_read),
		cmocka_unit_test(test_not_a_shebang),
		cmocka_unit_test(test_short_file_without_newline),
	};
	return cmocka_run_group_tests_name("shebang", tests, NULL, NULL);
}
