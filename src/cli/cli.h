/*
 * What the account commands share: option parsing with --help, and the first steps of every
 * command (paths, loading the store) with their error messages. Errors are logged here, so a
 * command that gets a non-zero status back just returns it.
 */
#ifndef CS_CLI_H
#define CS_CLI_H

#include "store/paths.h"
#include "store/store.h"

#include <stdbool.h>

enum cli_flag {
	CLI_FILE = 1u << 0,    /* --file PATH */
	CLI_FORCE = 1u << 1,   /* --force */
	CLI_JSON = 1u << 2,    /* --json */
	CLI_DRY_RUN = 1u << 3, /* --dry-run */
	CLI_YES = 1u << 4,     /* --yes */
};

/* An option only one command has; the shared ones are the cli_flag options. */
struct cli_option {
	const char *name;  /* the long name without "--", e.g. "lines" */
	char short_name;   /* 'n' for -n, or 0 */
	const char *value; /* the value's name in --help, e.g. "N"; NULL: takes no value */
	const char *help;  /* for --help; a '\n' starts an indented continuation line */
};

#define CLI_MAX_OPTIONS 8

struct cli_spec {
	const char *name; /* the command, e.g. "import" */
	/* what follows the name, e.g. "<name> [--file PATH]"; usage errors show the first line */
	const char *synopsis;
	const char *about;      /* what the command does, one or more lines ending in '\n' */
	const char *example;    /* one full command line */
	unsigned flags;         /* the cli_flag options the command accepts */
	const char *file_help;  /* what --file PATH does, with CLI_FILE */
	const char *force_help; /* what --force does, with CLI_FORCE; NULL: replace PATH */
	const char *yes_help;   /* what --yes does, with CLI_YES */
	int min_pos, max_pos;   /* how many positional arguments */
	/* the command's own options, at most CLI_MAX_OPTIONS, ended by {0}; NULL: none */
	const struct cli_option *options;
};

struct cli_args {
	const char *file; /* borrowed from argv; NULL without --file */
	bool force;
	bool json;
	bool dry_run;
	bool yes;
	char **pos; /* borrowed: the positional arguments */
	int npos;
	/* per spec->options entry: NULL when not given, else its value (borrowed from argv), or
	 * "" for an option without value; the last one given wins */
	const char *opt[CLI_MAX_OPTIONS];
};

/*
 * Parses the arguments of a command (argv[0] is its name; argv may be permuted): the cli_flag
 * options in spec->flags, spec->options and -h/--help. Values are not checked here.
 * Returns -1 when the command should go on, else the exit status to return now:
 * EXIT_OK after printing --help, EXIT_USAGE after logging a usage error.
 */
int cli_parse(const struct cli_spec *spec, int argc, char **argv, struct cli_args *out);

/* Logs a usage error with a pointer to --help and returns EXIT_USAGE. */
int cli_usage_error(const struct cli_spec *spec, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Prints root (not consumed) as JSON and a newline on stdout. EXIT_OK, or EXIT_FAIL after
 * logging that memory ran out. */
struct cJSON;
int cli_print_json(const struct cJSON *root);

/* paths_init() with an error message. Returns EXIT_OK or EXIT_FAIL. */
int cli_paths(struct paths *p);

/* store_load() with an error message. Returns EXIT_OK or EXIT_FAIL. */
int cli_load_store(const struct paths *p, struct store *s);

/*
 * Checks a new account name: non-empty, at most CLI_MAX_NAME bytes, no control characters.
 * Logs why not and returns false.
 */
#define CLI_MAX_NAME 64
bool cli_valid_name(const char *name);

/* True when no account but the one at index except (-1: none) is called name; logs if taken. */
bool cli_name_free(const struct store *s, const char *name, long except);

/* Index of the account selector names in s, or -1 after logging why (no match, ambiguous). */
long cli_select(const struct store *s, const char *selector);

#endif
