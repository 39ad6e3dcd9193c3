/* problem.c: one line naming what went wrong, whatever the length of
 * the path or word in it: a text too long for the line keeps its head
 * and its tail (where the cause is said), cut between UTF-8 characters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "problem.h"

/* True if s is well-formed UTF-8 (enough for what the tests write). */
static int utf8_ok(const char *s)
{
	const unsigned char *c = (const unsigned char *)s;
	while (*c) {
		int more = *c < 0x80 ? 0 : (*c & 0xe0) == 0xc0 ? 1
			 : (*c & 0xf0) == 0xe0 ? 2 : (*c & 0xf8) == 0xf0 ? 3 : -1;
		if (more < 0)
			return 0;
		c++;
		for (int i = 0; i < more; i++, c++)
			if ((*c & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static void test_short_text_is_kept_whole(void **state)
{
	(void)state;
	struct problem p = { 0 };
	assert_int_equal(problem_fail(&p, EINVAL, "bad '%s'", "x"), -EINVAL);
	assert_int_equal(p.code, EINVAL);
	assert_string_equal(p.msg, "bad 'x'");
	assert_int_equal(problem_errno(&p, ENOENT, "cannot open '%s'", "/a"),
			 -ENOENT);
	assert_string_equal(p.msg, "cannot open '/a': No such file or directory");
	/* No code given: still a failure. */
	assert_true(problem_fail(&p, 0, "x") < 0);
	assert_int_equal(p.code, EIO);
}

static void test_long_text_keeps_head_and_cause(void **state)
{
	(void)state;
	static char path[5000];
	memset(path, 'x', sizeof path - 1);
	path[0] = '/';
	struct problem p = { 0 };
	problem_errno(&p, ENAMETOOLONG, "cannot open '%s'", path);
	size_t len = strlen(p.msg);
	assert_true(len <= sizeof p.msg - 1);
	assert_true(len >= sizeof p.msg - 8);
	assert_memory_equal(p.msg, "cannot open '/xxx", 17);
	const char *end = "x': File name too long";
	assert_string_equal(p.msg + len - strlen(end), end);
	assert_non_null(strstr(p.msg, "xxx...xxx"));
	/* Exactly one cut. */
	assert_ptr_equal(strstr(p.msg, "..."), strrchr(p.msg, '.') - 2);
}

static void test_cut_between_utf8_characters(void **state)
{
	(void)state;
	/* Two- and three-byte characters at every alignment. */
	static char word[6000];
	const char *units[] = { "\xc3\xa9", "\xe2\x82\xac", "a" };
	size_t n = 0;
	for (int i = 0; n + 3 < sizeof word - 1; i++) {
		const char *u = units[i % 3];
		memcpy(word + n, u, strlen(u));
		n += strlen(u);
	}
	word[n] = '\0';
	for (int shift = 0; shift < 3; shift++) {
		struct problem p = { 0 };
		problem_fail(&p, EINVAL, "%.*sunknown option '%s'", shift,
			     "ab", word);
		assert_true(strlen(p.msg) < sizeof p.msg);
		assert_true(utf8_ok(p.msg));
		assert_non_null(strstr(p.msg, "..."));
	}
}

static void vformat(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	problem_vformat(out, cap, fmt, ap);
	va_end(ap);
}

/* What pfi_say prints (a problem's text inside a longer line). */
static void test_vformat_exact(void **state)
{
	(void)state;
	char out[16];
	vformat(out, sizeof out, "%s", "short");
	assert_string_equal(out, "short");
	vformat(out, sizeof out, "%s", "0123456789abcdef");
	assert_string_equal(out, "012345...abcdef");
	vformat(out, sizeof out, "%s: %s", "running 'x'", "cause");
	assert_string_equal(out, "runnin... cause");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_text_is_kept_whole),
		cmocka_unit_test(test_long_text_keeps_head_and_cause),
		cmocka_unit_test(test_cut_between_utf8_characters),
		cmocka_unit_test(test_vformat_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
