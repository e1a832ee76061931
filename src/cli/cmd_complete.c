/*
 * `codex-switch __complete accounts`: the account names, one per line, for the shell
 * completions. Hidden from --help; quiet on every error (a completion must never print one).
 */
#include "cli/commands.h"
#include "base/log.h"
#include "store/paths.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

int cmd_complete(int argc, char **argv)
{
	struct paths p;
	struct store s;
	char err[512];

	if (argc != 2 || strcmp(argv[1], "accounts") != 0) {
		return EXIT_USAGE;
	}
	log_set_stderr_level(LOG_OFF);
	if (paths_init(&p)) {
		return EXIT_FAIL;
	}
	if (store_load(&p, &s, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < s.n; i++) {
			/* A name with a newline would split into two candidates: skip it. */
			if (!strchr(s.accounts[i].name, '\n')) {
				printf("%s\n", s.accounts[i].name);
			}
		}
		store_release(&s);
	}
	paths_release(&p);
	return EXIT_OK;
}
