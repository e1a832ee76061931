#include "cli/cli.h"

#include "cli/commands.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(const struct cli_spec *spec)
{
	printf("usage: codex-switch %s %s\n\n%s", spec->name, spec->synopsis, spec->about);
	if (spec->flags & CLI_FILE) {
		printf("  --file PATH   %s\n", spec->file_help);
	}
	if (spec->flags & CLI_FORCE) {
		printf("  --force       %s\n",
		       spec->force_help ? spec->force_help : "replace PATH when it exists");
	}
	if (spec->flags & CLI_YES) {
		printf("  --yes         %s\n", spec->yes_help);
	}
	if (spec->flags & CLI_DRY_RUN) {
		printf("  --dry-run     say what would happen; change nothing\n");
	}
	if (spec->flags & CLI_JSON) {
		printf("  --json        machine-readable output (never contains secrets)\n");
	}
	printf("  -h, --help    show this help\n\nexample: %s\n", spec->example);
}

int cli_usage_error(const struct cli_spec *spec, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s; usage: codex-switch %s %s (see 'codex-switch %s --help')", msg, spec->name,
	          spec->synopsis, spec->name);
	return EXIT_USAGE;
}

static const struct option long_options[] = {
        {"file", required_argument, NULL, 'f'},
        {"force", no_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'j'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {"yes", no_argument, NULL, 'y'},
        {NULL, 0, NULL, 0},
};

static bool apply_option(const struct cli_spec *spec, int c, struct cli_args *out)
{
	switch (c) {
	case 'f':
		out->file = optarg;
		return spec->flags & CLI_FILE;
	case 'F':
		out->force = true;
		return spec->flags & CLI_FORCE;
	case 'j':
		out->json = true;
		return spec->flags & CLI_JSON;
	case 'n':
		out->dry_run = true;
		return spec->flags & CLI_DRY_RUN;
	case 'y':
		out->yes = true;
		return spec->flags & CLI_YES;
	default:
		return false;
	}
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv, struct cli_args *out)
{
	int c;

	memset(out, 0, sizeof(*out));
	optind = 0; /* glibc: a full reset, so a process (a test) may parse several times */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		if (c == 'h') {
			print_help(spec);
			return EXIT_OK;
		}
		if (c == ':') {
			return cli_usage_error(spec, "option '%s' needs a value", argv[optind - 1]);
		}
		if (!apply_option(spec, c, out)) {
			return cli_usage_error(spec, "unknown option '%s'", argv[optind - 1]);
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
	for (const char *p = name; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			log_error(
			        "the account name contains control characters; choose another one");
			return false;
		}
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
