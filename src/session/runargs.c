#include "session/runargs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_subcommand(const char *a)
{
	return strcmp(a, "resume") == 0 || strcmp(a, "fork") == 0;
}

/*
 * codex 0.169's subcommands other than resume and fork (and their aliases): they do not run
 * the interactive TUI, so they cannot go through the proxy. Any other first word is a prompt.
 */
static bool is_other_subcommand(const char *a)
{
	static const char *const cmds[] = {
	        "agents",
	        "exec",
	        "e",
	        "review",
	        "login",
	        "logout",
	        "mcp",
	        "plugin",
	        "app-server",
	        "remote-control",
	        "completion",
	        "update",
	        "doctor",
	        "sandbox",
	        "debug",
	        "apply",
	        "a",
	        "queue",
	        "archive",
	        "delete",
	        "migrate-rollouts",
	        "migrate-nfs-db",
	        "unarchive",
	        "cloud",
	        "exec-server",
	        "features",
	        "help",
	        "mcp-server",
	        "responses-api-proxy",
	        "stdio-to-uds",
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(a, cmds[i]) == 0) {
			return true;
		}
	}
	return false;
}

static bool is_remote_option(const char *a)
{
	static const char *const opts[] = {"--remote", "--remote-auth-token-env"};

	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(opts[i]);
		if (strncmp(a, opts[i], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
			return true;
		}
	}
	return false;
}

int runargs_check(int argc, char *const argv[], char *err, size_t errsz)
{
	if (argc > 0 && is_other_subcommand(argv[0])) {
		snprintf(
		        err, errsz,
		        "codex-switch run supports 'codex [PROMPT]', 'codex resume' and 'codex fork', "
		        "not 'codex %.64s'; run that with plain codex (for a prompt that is this "
		        "word, quote it with more words)",
		        argv[0]);
		return -EINVAL;
	}
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (is_remote_option(argv[i])) {
			snprintf(err, errsz,
			         "'%.64s' is set by codex-switch run itself; remove it from the "
			         "codex arguments",
			         argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static bool chooses_directory(int argc, char *const argv[])
{
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];
		if (strncmp(a, "-C", 2) == 0 || strcmp(a, "--cd") == 0 ||
		    strncmp(a, "--cd=", 5) == 0) {
			return true;
		}
	}
	return false;
}

void runargs_free(char **argv)
{
	if (!argv) {
		return;
	}
	for (char **p = argv; *p; p++) {
		free(*p);
	}
	free(argv);
}

static int push(char **out, int *n, const char *s)
{
	out[*n] = strdup(s);
	if (!out[*n]) {
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

char **runargs_tui_argv(const char *codex_bin, int argc, char *const argv[], const char *cwd,
                        const char *remote_url, const char *env_name)
{
	/* bin + args + "-C cwd" + 4 remote words + NULL */
	char **out = calloc((size_t)argc + 8, sizeof(*out));
	bool add_cd = cwd && !chooses_directory(argc, argv);
	int n = 0, i = 0, r = 0;

	if (!out) {
		return NULL;
	}
	r |= push(out, &n, codex_bin);
	if (argc > 0 && is_subcommand(argv[0])) {
		r |= push(out, &n, argv[i++]);
	}
	if (add_cd) {
		r |= push(out, &n, "-C");
		r |= push(out, &n, cwd);
	}
	/* Our options go before a `--`, where codex still reads options. */
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		r |= push(out, &n, argv[i]);
	}
	r |= push(out, &n, "--remote");
	r |= push(out, &n, remote_url);
	if (env_name) {
		r |= push(out, &n, "--remote-auth-token-env");
		r |= push(out, &n, env_name);
	}
	for (; i < argc; i++) {
		r |= push(out, &n, argv[i]);
	}
	if (r) {
		runargs_free(out);
		return NULL;
	}
	return out;
}

bool runargs_reads_sessions(int argc, char *const argv[])
{
	return argc > 0 && is_subcommand(argv[0]);
}

const char *runargs_summary(int argc, char *const argv[], char *out, size_t outsz)
{
	const char *kind = argc == 0                ? "default"
	                   : is_subcommand(argv[0]) ? argv[0]
	                   : argv[0][0] != '-'      ? "prompt"
	                                            : "interactive";

	snprintf(out, outsz, "%s (%d args)", kind, argc);
	return out;
}
