/*
 * The codex command line of `codex-switch run`: which codex invocations can run against a
 * remote app-server, and the argv of the TUI we start.
 */
#ifndef CS_RUNARGS_H
#define CS_RUNARGS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Checks the codex arguments. Accepted: none, options, a first prompt (`codex "fix the
 * build"`, options before or after it), `resume` / `fork`. Refused: codex's other subcommands
 * as the first word (exec, login, ...) and the --remote options that codex-switch sets itself. On
 * refusal returns -EINVAL and writes a message for the user into err.
 */
int runargs_check(int argc, char *const argv[], char *err, size_t errsz);

/*
 * Builds the TUI's argv (NULL-terminated; caller frees the array and each string with
 * runargs_free): codex_bin, the user's arguments with `-C <cwd>` inserted (after resume/fork)
 * unless they already choose a directory before `--`, then `--remote <url>
 * --remote-auth-token-env <env_name>` (without the latter when env_name is NULL). NULL on -ENOMEM.
 */
char **runargs_tui_argv(const char *codex_bin, int argc, char *const argv[], const char *cwd,
                        const char *remote_url, const char *env_name);
void runargs_free(char **argv);

/* Whether the TUI starts from the sessions codex keeps (resume, fork): its first requests read
 * the app-server's index of them. */
bool runargs_reads_sessions(int argc, char *const argv[]);

/* "default|resume|fork|prompt|interactive (<n> args)", for logs: never the arguments themselves. */
const char *runargs_summary(int argc, char *const argv[], char *out, size_t outsz);

#endif
