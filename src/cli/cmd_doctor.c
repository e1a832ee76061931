/* `codex-switch doctor`: read-only checks, one line each, exit 1 on any failure. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "doctor/doctor.h"
#include "base/log.h"
#include "cli/term.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct doctor_opts {
	const char *codex_bin;
	bool json;
};

static void doctor_help(void)
{
	printf("usage: codex-switch doctor [--codex-bin PATH] [--json]\n\n"
	       "Checks, without changing anything: the codex binary and the options codex-switch\n"
	       "needs from it, the store and auth.json (parse, permissions, duplicates, which\n"
	       "account auth.json holds, tokens that need a new login), codex app-servers running\n"
	       "outside codex-switch, and the logs directory. Each line says pass, warn or fail,\n"
	       "and what to do about a problem. The exit status is 1 when any check fails.\n\n"
	       "  --codex-bin PATH  the codex binary to check (default: $CODEX_SWITCH_CODEX_BIN,\n"
	       "                    else codex on PATH)\n"
	       "  --json            machine-readable output (never contains secrets)\n"
	       "  -h, --help        show this help\n\n"
	       "example: codex-switch doctor --json\n");
}

static int parse_opts(int argc, char **argv, struct doctor_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			doctor_help();
			return EXIT_OK;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--codex-bin") == 0 && i + 1 < argc) {
			o->codex_bin = argv[++i];
		} else if (strncmp(a, "--codex-bin=", 12) == 0) {
			o->codex_bin = a + 12;
		} else {
			log_error("%s '%s'; see 'codex-switch doctor --help'",
			          strcmp(a, "--codex-bin") == 0 ? "a path must follow"
			                                        : "unexpected argument",
			          a);
			return EXIT_USAGE;
		}
	}
	return -1;
}

static size_t count(const struct doctor *d, enum doctor_status s)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++) {
		n += d->checks[i].status == s;
	}
	return n;
}

static void print_text(const struct doctor *d)
{
	static const enum term_style colour[] = {TERM_GREEN, TERM_YELLOW, TERM_RED};
	FILE *f = stdout;

	for (size_t i = 0; i < d->n; i++) {
		const struct doctor_check *c = &d->checks[i];
		fprintf(f, "%s%s%s  %-16s %s\n", term_sgr(f, colour[c->status]),
		        doctor_status_name(c->status), term_sgr(f, TERM_RESET), c->name,
		        c->message);
		if (c->hint[0]) {
			fprintf(f, "      %-16s %sfix:%s %s\n", "", term_sgr(f, TERM_BOLD),
			        term_sgr(f, TERM_RESET), c->hint);
		}
	}
	fprintf(f, "\n%zu passed, %zu warnings, %zu failed\n", count(d, DOCTOR_PASS),
	        count(d, DOCTOR_WARN), count(d, DOCTOR_FAIL));
}

static cJSON *check_json(const struct doctor_check *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddStringToObject(o, "status", doctor_status_name(c->status));
	cJSON_AddStringToObject(o, "message", c->message);
	cJSON_AddItemToObject(o, "hint",
	                      c->hint[0] ? cJSON_CreateString(c->hint) : cJSON_CreateNull());
	return o;
}

static int print_json(const struct doctor *d)
{
	cJSON *root = cJSON_CreateObject(), *list, *sum;
	int r;

	cJSON_AddNumberToObject(root, "schema_version", DOCTOR_SCHEMA_VERSION);
	cJSON_AddStringToObject(root, "command", "doctor");
	cJSON_AddBoolToObject(root, "ok", count(d, DOCTOR_FAIL) == 0);
	sum = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(sum, "pass", (double)count(d, DOCTOR_PASS));
	cJSON_AddNumberToObject(sum, "warn", (double)count(d, DOCTOR_WARN));
	cJSON_AddNumberToObject(sum, "fail", (double)count(d, DOCTOR_FAIL));
	list = cJSON_AddArrayToObject(root, "checks");
	for (size_t i = 0; list && i < d->n; i++) {
		cJSON_AddItemToArray(list, check_json(&d->checks[i]));
	}
	r = cli_print_json(root);
	cJSON_Delete(root);
	return r;
}

int cmd_doctor(int argc, char **argv)
{
	struct doctor_opts o = {0};
	struct paths p;
	struct doctor *d;
	int st = parse_opts(argc, argv, &o);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_error("cannot run the checks: out of memory");
		paths_release(&p);
		return EXIT_FAIL;
	}
	d->paths = &p;
	d->codex_bin = o.codex_bin ? o.codex_bin : getenv("CODEX_SWITCH_CODEX_BIN");
	if (!d->codex_bin || !*d->codex_bin) {
		d->codex_bin = "codex";
	}
	doctor_check_codex(d);
	doctor_check_store(d);
	doctor_check_auth(d);
	doctor_check_processes(d);
	doctor_check_logs(d);
	st = o.json ? print_json(d) : (print_text(d), EXIT_OK);
	if (st == EXIT_OK && count(d, DOCTOR_FAIL)) {
		st = EXIT_FAIL;
	}
	free(d);
	paths_release(&p);
	return st;
}
