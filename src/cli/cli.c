#include "cli/cli.h"

#include "cli/commands.h"
#include "base/log.h"
#include "base/termsafe.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long values: above any character, so a command's short options never collide. */
enum { OPT_FILE = 0x100, OPT_FORCE, OPT_JSON, OPT_DRY_RUN, OPT_YES, OPT_OWN = 0x200 };

/* The shared options, in --help order after the command's own; help is what a command that
 * gives no words of its own (own_help) shows. */
static const struct {
	unsigned flag;
	const char *name, *value, *help;
	int val;
} shared[] = {
        {CLI_FILE, "file", "PATH", "", OPT_FILE},
        {CLI_FORCE, "force", NULL, "replace PATH when it exists", OPT_FORCE},
        {CLI_YES, "yes", NULL, "", OPT_YES},
        {CLI_DRY_RUN, "dry-run", NULL, "say what would happen; change nothing", OPT_DRY_RUN},
        {CLI_JSON, "json", NULL, "machine-readable output (never contains secrets)", OPT_JSON},
};

/* The command's own words for a shared option, or NULL for the table's. */
static const char *own_help(const struct cli_spec *spec, unsigned flag)
{
	switch (flag) {
	case CLI_FILE:
		return spec->file_help;
	case CLI_FORCE:
		return spec->force_help;
	case CLI_YES:
		return spec->yes_help;
	default:
		return NULL;
	}
}

static size_t count_options(const struct cli_spec *spec)
{
	size_t n = 0;

	while (spec->options && spec->options[n].name && n < CLI_MAX_OPTIONS) {
		n++;
	}
	return n;
}

static void option_label(char short_name, const char *name, const char *value, char *out,
                         size_t outsz)
{
	char brief[8] = "";

	if (short_name) {
		snprintf(brief, sizeof(brief), "-%c, ", short_name);
	}
	snprintf(out, outsz, "%s--%s%s%s", brief, name, value ? " " : "", value ? value : "");
}

/* One help line; the help column starts at width + 4, and so do continuation lines. */
static void print_option(const char *label, const char *help, int width)
{
	printf("  %-*s  ", width, label);
	for (; *help; help++) {
		if (*help == '\n') {
			printf("\n%*s", width + 4, "");
		} else {
			putchar(*help);
		}
	}
	putchar('\n');
}

static int label_width(const struct cli_spec *spec, size_t n)
{
	char label[64];
	int width = 12;

	for (size_t i = 0; i < n; i++) {
		const struct cli_option *o = &spec->options[i];

		option_label(o->short_name, o->name, o->value, label, sizeof(label));
		width = (int)strlen(label) > width ? (int)strlen(label) : width;
	}
	return width;
}

static void print_help(const struct cli_spec *spec)
{
	size_t n = count_options(spec);
	int width = label_width(spec, n);
	char label[64];

	printf("usage: codex-switch %s %s\n\n%s", spec->name, spec->synopsis, spec->about);
	for (size_t i = 0; i < n; i++) {
		const struct cli_option *o = &spec->options[i];

		option_label(o->short_name, o->name, o->value, label, sizeof(label));
		print_option(label, o->help, width);
	}
	for (size_t i = 0; i < UTIL_ARRAY_LEN(shared); i++) {
		const char *help = own_help(spec, shared[i].flag);

		if (spec->flags & shared[i].flag) {
			option_label(0, shared[i].name, shared[i].value, label, sizeof(label));
			print_option(label, help ? help : shared[i].help, width);
		}
	}
	print_option("-h, --help", "show this help", width);
	printf("\nexample: %s\n", spec->example);
}

int cli_usage_error(const struct cli_spec *spec, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s; usage: codex-switch %s %.*s (see 'codex-switch %s --help')", msg, spec->name,
	          (int)strcspn(spec->synopsis, "\n"), spec->synopsis, spec->name);
	return EXIT_USAGE;
}

/* The getopt_long tables for spec: the shared options, the command's own, and help. */
struct option_table {
	struct option longs[UTIL_ARRAY_LEN(shared) + CLI_MAX_OPTIONS + 2];
	char shorts[3 + 2 * CLI_MAX_OPTIONS + 1];
};

static void build_table(const struct cli_spec *spec, size_t n, struct option_table *t)
{
	size_t k = 0, c = 0;

	memset(t, 0, sizeof(*t));
	/* ':' first: a missing value is reported as ':' apart from an unknown option. */
	t->shorts[c++] = ':';
	t->shorts[c++] = 'h';
	for (size_t i = 0; i < UTIL_ARRAY_LEN(shared); i++) {
		t->longs[k++] = (struct option){shared[i].name,
		                                shared[i].value ? required_argument : no_argument,
		                                NULL, shared[i].val};
	}
	for (size_t i = 0; i < n; i++) {
		const struct cli_option *o = &spec->options[i];

		t->longs[k++] = (struct option){o->name, o->value ? required_argument : no_argument,
		                                NULL, OPT_OWN + (int)i};
		if (o->short_name) {
			t->shorts[c++] = o->short_name;
			if (o->value) {
				t->shorts[c++] = ':';
			}
		}
	}
	t->longs[k++] = (struct option){"help", no_argument, NULL, 'h'};
}

/* Index into spec->options of what getopt returned, or -1. */
static long own_option(const struct cli_spec *spec, size_t n, int c)
{
	if (c >= OPT_OWN && c < OPT_OWN + (int)n) {
		return c - OPT_OWN;
	}
	for (size_t i = 0; i < n && c > 0 && c < 0x100; i++) {
		if (spec->options[i].short_name == c) {
			return (long)i;
		}
	}
	return -1;
}

static bool apply_option(const struct cli_spec *spec, size_t n, int c, struct cli_args *out)
{
	long i = own_option(spec, n, c);

	if (i >= 0) {
		out->opt[i] = spec->options[i].value ? optarg : "";
		return true;
	}
	switch (c) {
	case OPT_FILE:
		out->file = optarg;
		return spec->flags & CLI_FILE;
	case OPT_FORCE:
		out->force = true;
		return spec->flags & CLI_FORCE;
	case OPT_JSON:
		out->json = true;
		return spec->flags & CLI_JSON;
	case OPT_DRY_RUN:
		out->dry_run = true;
		return spec->flags & CLI_DRY_RUN;
	case OPT_YES:
		out->yes = true;
		return spec->flags & CLI_YES;
	default:
		return false;
	}
}

/* A shared option the command does not take is named as such, not by the value it took. */
static int unknown_option(const struct cli_spec *spec, int c, const char *arg)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(shared); i++) {
		if (shared[i].val == c) {
			return cli_usage_error(spec, "unknown option '--%s'", shared[i].name);
		}
	}
	return cli_usage_error(spec, "unknown option '%s'", arg);
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv, struct cli_args *out)
{
	size_t n = count_options(spec);
	struct option_table t;
	int c;

	memset(out, 0, sizeof(*out));
	build_table(spec, n, &t);
	optind = 0; /* glibc: a full reset, so a process (a test) may parse several times */
	opterr = 0;
	while ((c = getopt_long(argc, argv, t.shorts, t.longs, NULL)) != -1) {
		if (c == 'h') {
			print_help(spec);
			return EXIT_OK;
		}
		if (c == ':') {
			return cli_usage_error(spec, "option '%s' needs a value", argv[optind - 1]);
		}
		if (!apply_option(spec, n, c, out)) {
			return unknown_option(spec, c, argv[optind - 1]);
		}
	}
	out->pos = argv + optind;
	out->npos = argc - optind;
	if (out->npos < spec->min_pos) {
		return cli_usage_error(spec, "missing argument");
	}
	if (out->npos > spec->max_pos) {
		return cli_usage_error(spec, "unexpected argument '%s'", out->pos[spec->max_pos]);
	}
	return -1;
}

int cli_paths(struct paths *p)
{
	int r = paths_init(p);

	if (r) {
		log_error("cannot find the home directory: %s; set HOME or CODEX_SWITCH_HOME",
		          strerror(-r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cli_load_store(const struct paths *p, struct store *s)
{
	char err[1024];

	if (store_load(p, s, err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

bool cli_valid_name(const char *name)
{
	if (!name[0]) {
		log_error("the account name is empty; choose a short name such as 'work'");
		return false;
	}
	if (strlen(name) > CLI_MAX_NAME) {
		log_error("the account name is longer than %d bytes; choose a shorter one",
		          CLI_MAX_NAME);
		return false;
	}
	if (termsafe_has_control(name)) {
		log_error("the account name contains control characters; choose another one");
		return false;
	}
	return true;
}

long cli_select(const struct store *s, const char *selector)
{
	char err[2048];
	long i = store_select(s, selector, err, sizeof(err));

	if (i < 0) {
		log_error("%s", err);
		return -1;
	}
	return i;
}

bool cli_name_free(const struct store *s, const char *name, long except)
{
	char label[256];

	for (size_t i = 0; i < s->n; i++) {
		if ((long)i != except && strcmp(s->accounts[i].name, name) == 0) {
			account_label(&s->accounts[i], label, sizeof(label));
			log_error("the name '%s' is taken by %s; choose another name", name, label);
			return false;
		}
	}
	return true;
}

int cli_print_json(const struct cJSON *root)
{
	char *text = root ? cJSON_Print(root) : NULL;

	if (!text) {
		log_error("cannot print the result: out of memory");
		return EXIT_FAIL;
	}
	printf("%s\n", text);
	free(text);
	return EXIT_OK;
}
