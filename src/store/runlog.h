/*
 * The run logs: one file per `codex-switch run` in $CODEX_SWITCH_HOME/logs/ (directory 0700,
 * files 0600), named codex-switch-run-<UTC YYYYMMDD-HHMMSS>-<host>-<pid>-<uuid32>.log so that
 * names sort by start time. Logs older than RUNLOG_KEEP_DAYS are pruned when a run starts. A log
 * stops growing at LOG_FILE_MAX (32 MiB, base/log.h), with a last line that says so.
 */
#ifndef CS_RUNLOG_H
#define CS_RUNLOG_H

#include "store/paths.h"

#include <stdbool.h>
#include <stddef.h>

#define RUNLOG_KEEP_DAYS 7
#define RUNLOG_PREFIX    "codex-switch-run-"
#define RUNLOG_SUFFIX    ".log"
/* Most logs `logs` lists or prunes at once; more are left for the next call. */
#define RUNLOG_MAX_FILES 4096

/*
 * Creates the logs directory and a new run log, makes it the log file sink (log_open_file)
 * and prunes logs older than RUNLOG_KEEP_DAYS (never the new one). The path is written to
 * path (pathsz bytes). Returns 0 or -errno; nothing is logged on failure.
 */
int runlog_open(const struct paths *p, char *path, size_t pathsz);

/* Stops writing to the run log (log_close_file). */
void runlog_close(void);

/* True when name (a file name, not a path) looks like a run log. */
bool runlog_is_name(const char *name);

/*
 * The run logs in dir, oldest first (by name, which starts with the UTC start time).
 * *names is a NULL-terminated array the caller frees with runlog_free_names(); *n its length.
 * A missing directory is an empty list. Returns 0 or -errno.
 */
int runlog_list(const char *dir, char ***names, size_t *n);
void runlog_free_names(char **names);

/* Called for each log runlog_prune() deletes (or would delete); name is borrowed. */
typedef void (*runlog_prune_cb)(const char *name, void *ctx);

/*
 * Deletes the run logs in dir last modified more than days days ago, except keep (a file
 * name, or NULL). With dry_run nothing is deleted. Returns how many logs matched, or -errno.
 */
long runlog_prune(const char *dir, int days, bool dry_run, const char *keep, runlog_prune_cb cb,
                  void *ctx);

#endif
