#include "session/endnote.h"

#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void endnote_init(struct endnote *e)
{
	e->term_saved = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &e->term) == 0;
}

void endnote_restore(const struct endnote *e)
{
	if (e->term_saved) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &e->term);
	}
}

/* One log line per line: the app-server's output would otherwise show escaped newlines. */
static void print_fatal(char *msg)
{
	char *save = NULL, *line = strtok_r(msg, "\n", &save);

	if (line) {
		log_error("%s", line);
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		log_error("  | %s", line);
	}
}

void endnote_print(char *fatal, bool served, const char *thread_id)
{
	if (fatal[0]) {
		print_fatal(fatal);
	} else if (served && thread_id[0] && isatty(STDERR_FILENO)) {
		fprintf(stderr, "Resume this session with: codex-switch run resume %s\n",
		        thread_id);
	} else if (served && thread_id[0]) {
		fprintf(stderr,
		        "codex-switch: resume this session with: codex-switch run resume %s\n",
		        thread_id);
	}
}
