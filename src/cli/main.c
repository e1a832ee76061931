/* codex-switch: run Codex across several ChatGPT accounts without stopping at a usage limit. */
#include "cli/commands.h"
#include "base/log.h"
#include "net/httpchild.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static int cmd_http(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		return EXIT_USAGE;
	}
	return httpchild_serve(STDIN_FILENO, STDOUT_FILENO) ? EXIT_FAIL : EXIT_OK;
}

static const struct command commands[] = {
        {"run", cmd_run, "run Codex, switching accounts when one hits its usage limit"},
        {"list", cmd_list, "list stored accounts"},
        {"login", cmd_login, "sign in to ChatGPT and store the account"},
        {"usage", cmd_usage, "show the usage limits of one or all accounts"},
        {"reset-usage", cmd_reset_usage, "spend a rate-limit reset credit of an account"},
        {"import", cmd_import, "store the account of a Codex auth.json"},
        {"export", cmd_export, "print or write an account as a Codex auth.json"},
        {"switch", cmd_switch, "make an account current for plain `codex` too"},
        {"auto-switch", cmd_auto_switch, "switch plain `codex` to the account the policy picks"},
        {"rename", cmd_rename, "rename an account"},
        {"delete", cmd_delete, "delete an account from the store"},
        {"enable", cmd_enable, "allow automatic switching to an account"},
        {"disable", cmd_disable, "exclude an account from automatic switching"},
        {"doctor", cmd_doctor, "check codex, the store, auth.json and the logs"},
        {"logs", cmd_logs, "show or prune the logs of 'run'"},
        /* Hidden (no summary): account names for the shell completions. */
        {"__complete", cmd_complete, NULL},
        /* Hidden: one HTTP request from stdin, for `run`'s relay (httpchild.h). */
        {"__http", cmd_http, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: codex-switch <command> [options]\n\n"
	             "Runs Codex across several ChatGPT accounts and switches to another one\n"
	             "when the current one reaches its usage limit.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].summary) {
			fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
		}
	}
	fprintf(out, "\nRun 'codex-switch <command> --help' for the options of a command.\n"
	             "example: codex-switch import work && codex-switch run\n");
}

int main(int argc, char **argv)
{
	const char *level = getenv("CODEX_SWITCH_LOG");
	enum log_level lv;
	int status;

	/* Short-lived threads (usage queries, token refreshes) would each keep a malloc arena of
	 * their own after they exit, and `run` lives for hours: one arena keeps what they freed
	 * for the relay. No thread of ours allocates in a hot loop. */
	mallopt(M_ARENA_MAX, 1);
	if (level && log_level_parse(level, &lv) == 0) {
		log_set_stderr_level(lv > LOG_WARN ? lv : LOG_WARN);
		log_set_file_level(lv);
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("codex-switch %s\n", CS_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			status = commands[i].fn(argc - 1, argv + 1);
			log_forget_secrets();
			return status;
		}
	}
	log_error("unknown command '%s'; run 'codex-switch --help' for the list", argv[1]);
	return EXIT_USAGE;
}
