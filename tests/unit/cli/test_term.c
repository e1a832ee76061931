#include "cli/term.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_fit_counts_columns_not_bytes(void **state)
{
	(void)state;
	assert_int_equal(term_fit("hello", 0), 5);
	assert_int_equal(term_fit("hello", 3), 3);
	assert_int_equal(term_fit("hello", 10), 5);
	/* "é" is two bytes, one column; the escape takes none. */
	assert_int_equal(term_fit("\xc3\xa9t\xc3\xa9", 2), 3);
	assert_int_equal(term_fit("\033[32m*\033[0m ab", 2), strlen("\033[32m*\033[0m "));
	assert_int_equal(term_fit("\xe2\x96\x88\xe2\x96\x88x", 2), 6);
}

static void test_no_colour_when_not_a_terminal(void **state)
{
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	assert_false(term_is_tty(f));
	assert_false(term_color(f));
	assert_string_equal(term_sgr(f, TERM_RED), "");
	assert_int_equal(term_width(f), 0);
	fclose(f);
}

static void test_plain_bar(void **state)
{
	FILE *f = tmpfile();
	char bar[256];

	(void)state;
	term_bar(f, 50, 10, bar, sizeof(bar));
	assert_string_equal(bar, "[#####-----]");
	term_bar(f, 250, 4, bar, sizeof(bar));
	assert_string_equal(bar, "[####]");
	term_bar(f, -3, 4, bar, sizeof(bar));
	assert_string_equal(bar, "[----]");
	/* A short buffer is truncated, never overrun. */
	term_bar(f, 50, 10, bar, 5);
	assert_string_equal(bar, "[###");
	fclose(f);
}

static void test_percent_colours(void **state)
{
	(void)state;
	assert_int_equal(term_percent_style(0), TERM_GREEN);
	assert_int_equal(term_percent_style(69.9), TERM_GREEN);
	assert_int_equal(term_percent_style(70), TERM_YELLOW);
	assert_int_equal(term_percent_style(90), TERM_RED);
}

static void test_put_line_unclipped_when_piped(void **state)
{
	FILE *f = tmpfile();
	char buf[512] = "";
	char line[301];

	(void)state;
	memset(line, 'x', 300);
	line[300] = '\0';
	term_put_line(f, line);
	rewind(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_int_equal(strlen(buf), 301);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fit_counts_columns_not_bytes),
	        cmocka_unit_test(test_no_colour_when_not_a_terminal),
	        cmocka_unit_test(test_plain_bar),
	        cmocka_unit_test(test_percent_colours),
	        cmocka_unit_test(test_put_line_unclipped_when_piped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
