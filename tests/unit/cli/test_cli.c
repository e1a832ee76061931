#include "cli/cli.h"

#include "cli/commands.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

enum { OPT_LINES, OPT_FOLLOW, OPT_ALL };

static const struct cli_option options[] = {
        [OPT_LINES] = {"lines", 'n', "N", "how many lines"},
        [OPT_FOLLOW] = {"follow", 'f', NULL, "keep going"},
        [OPT_ALL] = {"all", 0, NULL, "every one,\nand a second line"},
        {0},
};

static const struct cli_spec spec = {
        .name = "demo",
        .synopsis = "<what> [-n N]\n       codex-switch demo other",
        .about = "Does things.\n\n",
        .example = "codex-switch demo x -n 3",
        .flags = CLI_JSON,
        .options = options,
        .min_pos = 1,
        .max_pos = 2,
};

static const struct cli_spec plain = {
        .name = "plain",
        .synopsis = "<name> [--file PATH]",
        .about = "Plain.\n\n",
        .example = "codex-switch plain x",
        .flags = CLI_FILE | CLI_FORCE,
        .file_help = "where to write",
        .min_pos = 1,
        .max_pos = 1,
};

/* shared options with the command's own words for them */
static const struct cli_spec ask = {
        .name = "ask",
        .synopsis = "[<name>] [--yes]",
        .about = "Asks.\n\n",
        .example = "codex-switch ask --yes",
        .flags = CLI_FORCE | CLI_YES,
        .force_help = "go on anyway",
        .yes_help = "do not ask",
        .min_pos = 0,
        .max_pos = 1,
};

/* cli_parse over a NULL-terminated argv (which must outlive the use of out). */
static int parse(const struct cli_spec *s, struct cli_args *out, char **argv)
{
	int argc = 0;

	while (argv[argc]) {
		argc++;
	}
	return cli_parse(s, argc, argv, out);
}

#define PARSE(s, out, ...) parse(&(s), (out), (char *[]){__VA_ARGS__, NULL})

static void test_own_options(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(PARSE(spec, &a, "demo", "x", "-n", "5", "--follow", "--json"), -1);
	assert_string_equal(a.opt[OPT_LINES], "5");
	assert_string_equal(a.opt[OPT_FOLLOW], "");
	assert_null(a.opt[OPT_ALL]);
	assert_true(a.json);
	assert_int_equal(a.npos, 1);
	assert_string_equal(a.pos[0], "x");

	/* long forms, "=" values, options after positionals, short flags */
	assert_int_equal(PARSE(spec, &a, "demo", "--lines=7", "x", "y", "-f", "--all"), -1);
	assert_string_equal(a.opt[OPT_LINES], "7");
	assert_non_null(a.opt[OPT_FOLLOW]);
	assert_non_null(a.opt[OPT_ALL]);
	assert_false(a.json);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[1], "y");

	/* the last value wins */
	assert_int_equal(PARSE(spec, &a, "demo", "x", "--lines", "1", "-n2"), -1);
	assert_string_equal(a.opt[OPT_LINES], "2");
}

static void test_usage_errors(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(PARSE(spec, &a, "demo", "x", "-n"), EXIT_USAGE);
	assert_int_equal(PARSE(spec, &a, "demo", "x", "--lines"), EXIT_USAGE);
	assert_int_equal(PARSE(spec, &a, "demo", "x", "--bogus"), EXIT_USAGE);
	assert_int_equal(PARSE(spec, &a, "demo", "x", "-z"), EXIT_USAGE);
	/* a shared option the command does not take */
	assert_int_equal(PARSE(spec, &a, "demo", "x", "--file", "p"), EXIT_USAGE);
	assert_int_equal(PARSE(spec, &a, "demo", "x", "--force"), EXIT_USAGE);
	assert_int_equal(PARSE(spec, &a, "demo"), EXIT_USAGE);
	assert_int_equal(PARSE(spec, &a, "demo", "x", "y", "z"), EXIT_USAGE);
	/* a command without options of its own rejects another's */
	assert_int_equal(PARSE(plain, &a, "plain", "x", "--all"), EXIT_USAGE);
	assert_int_equal(PARSE(plain, &a, "plain", "x", "-f"), EXIT_USAGE);
	assert_int_equal(PARSE(plain, &a, "plain", "x", "--file", "p", "--force"), -1);
	assert_string_equal(a.file, "p");
	assert_true(a.force);
	/* --yes only where the command takes it */
	assert_int_equal(PARSE(plain, &a, "plain", "x", "--yes"), EXIT_USAGE);
	assert_int_equal(PARSE(spec, &a, "demo", "x", "--yes"), EXIT_USAGE);
	assert_int_equal(PARSE(ask, &a, "ask", "--yes"), -1);
	assert_true(a.yes);
	assert_false(a.force);
	assert_int_equal(PARSE(ask, &a, "ask", "x", "--force"), -1);
	assert_false(a.yes);
	assert_true(a.force);
}

/* Runs cli_parse for --help with stdout in a file; returns what it printed. */
static char *help_of(const struct cli_spec *s)
{
	char path[] = "/tmp/cs-test-cli-XXXXXX", *text = calloc(1, 4096);
	int fd = mkstemp(path), saved = dup(STDOUT_FILENO);
	struct cli_args a;
	char *argv[] = {"x", "--help", NULL};
	FILE *f;

	assert_true(fd >= 0 && saved >= 0 && text);
	fflush(stdout);
	dup2(fd, STDOUT_FILENO);
	assert_int_equal(cli_parse(s, 2, argv, &a), EXIT_OK);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	fread(text, 1, 4095, f);
	fclose(f);
	unlink(path);
	return text;
}

static void test_help(void **state)
{
	char *h;

	(void)state;
	h = help_of(&spec);
	assert_string_equal(h, "usage: codex-switch demo <what> [-n N]\n"
	                       "       codex-switch demo other\n\n"
	                       "Does things.\n\n"
	                       "  -n, --lines N  how many lines\n"
	                       "  -f, --follow   keep going\n"
	                       "  --all          every one,\n"
	                       "                 and a second line\n"
	                       "  --json         machine-readable output (never contains secrets)\n"
	                       "  -h, --help     show this help\n\n"
	                       "example: codex-switch demo x -n 3\n");
	free(h);
	h = help_of(&plain);
	assert_string_equal(h, "usage: codex-switch plain <name> [--file PATH]\n\n"
	                       "Plain.\n\n"
	                       "  --file PATH   where to write\n"
	                       "  --force       replace PATH when it exists\n"
	                       "  -h, --help    show this help\n\n"
	                       "example: codex-switch plain x\n");
	free(h);
	h = help_of(&ask);
	assert_string_equal(h, "usage: codex-switch ask [<name>] [--yes]\n\n"
	                       "Asks.\n\n"
	                       "  --force       go on anyway\n"
	                       "  --yes         do not ask\n"
	                       "  -h, --help    show this help\n\n"
	                       "example: codex-switch ask --yes\n");
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_own_options),
	        cmocka_unit_test(test_usage_errors),
	        cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
