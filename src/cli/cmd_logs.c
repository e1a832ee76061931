/* `codex-switch logs`: where the run logs are, the latest one, following it, pruning old ones. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "base/fileio.h"
#include "base/log.h"
#include "store/runlog.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOGS_SCHEMA_VERSION 1
#define TAIL_DEFAULT_LINES  100
#define TAIL_MAX_LINES      100000
/* tail reads at most this much of the end of a log. */
#define TAIL_MAX_BYTES  (4L * 1024 * 1024)
#define FOLLOW_POLL_NS  200000000L
#define PRUNE_MAX_DAYS  36500
#define LOGS_PATH_BYTES 4096

struct logs_opts {
	const char *action; /* path, latest, tail, prune */
	long lines, days;
	bool follow, dry_run, json;
	bool lines_set, days_set;
};

#define STR_(x) #x
#define STR(x)  STR_(x)

enum { LOGS_LINES, LOGS_FOLLOW, LOGS_DAYS };

static const struct cli_option logs_options[] = {
        [LOGS_LINES] = {"lines", 'n', "N",
                        "how many lines tail prints (default " STR(TAIL_DEFAULT_LINES) ")"},
        [LOGS_FOLLOW] = {"follow", 'f', NULL, "keep printing new lines (stop with Ctrl-C)"},
        [LOGS_DAYS] = {"days", 0, "N",
                       "prune logs older than N days (default " STR(RUNLOG_KEEP_DAYS) ", at least "
                                                                                      "1)"},
        {0},
};

static const struct cli_spec logs_spec = {
        .name = "logs",
        .synopsis = "path|latest [--json]\n"
                    "       codex-switch logs tail [-n N] [--follow]\n"
                    "       codex-switch logs prune [--days N] [--dry-run] [--json]",
        .about =
                "Every 'codex-switch run' writes one log file into $CODEX_SWITCH_HOME/logs/\n"
                "(secrets redacted; the level comes from CODEX_SWITCH_LOG, default info).\n"
                "Logs older than " STR(
                        RUNLOG_KEEP_DAYS) " days are deleted when a run starts.\n\n"
                                          "  path           print the logs directory\n"
                                          "  latest         print the path of the newest log\n"
                                          "  tail           print the last lines of the newest log\n"
                                          "  prune          delete logs older than N days\n",
        .example = "codex-switch logs tail -n 50 --follow",
        .flags = CLI_JSON | CLI_DRY_RUN,
        .options = logs_options,
        .min_pos = 0,
        .max_pos = 1,
};

/* Which options each action takes: a stray one is a usage error, not silently ignored. */
static int check_action(const struct logs_opts *o)
{
	bool tail = strcmp(o->action, "tail") == 0, prune = strcmp(o->action, "prune") == 0;
	const char *a = o->action;

	if (!tail && !prune && strcmp(a, "path") && strcmp(a, "latest")) {
		return cli_usage_error(&logs_spec, "unknown logs action '%s'", a);
	}
	if (!tail && (o->lines_set || o->follow)) {
		return cli_usage_error(&logs_spec,
		                       "--lines and --follow go with 'tail', not with '%s'", a);
	}
	if (!prune && (o->days_set || o->dry_run)) {
		return cli_usage_error(&logs_spec,
		                       "--days and --dry-run go with 'prune', not with '%s'", a);
	}
	if (tail && o->json) {
		return cli_usage_error(&logs_spec, "--json does not go with '%s'", a);
	}
	return -1;
}

static int parse_values(const struct cli_args *args, struct logs_opts *o)
{
	const char *lines = args->opt[LOGS_LINES], *days = args->opt[LOGS_DAYS];

	o->lines_set = lines != NULL;
	o->days_set = days != NULL;
	if (lines && util_parse_long(lines, 1, TAIL_MAX_LINES, &o->lines)) {
		return cli_usage_error(&logs_spec, "--lines needs a number from 1 to %d, not '%s'",
		                       TAIL_MAX_LINES, lines);
	}
	if (days && util_parse_long(days, 1, PRUNE_MAX_DAYS, &o->days)) {
		return cli_usage_error(&logs_spec,
		                       "--days needs a whole number of days (at least 1), not '%s'",
		                       days);
	}
	return -1;
}

static int parse_opts(int argc, char **argv, struct logs_opts *o)
{
	struct cli_args args;
	int st = cli_parse(&logs_spec, argc, argv, &args);

	memset(o, 0, sizeof(*o));
	o->lines = TAIL_DEFAULT_LINES;
	o->days = RUNLOG_KEEP_DAYS;
	if (st >= 0) {
		return st;
	}
	o->follow = args.opt[LOGS_FOLLOW] != NULL;
	o->dry_run = args.dry_run;
	o->json = args.json;
	st = parse_values(&args, o);
	if (st >= 0) {
		return st;
	}
	if (args.npos != 1) {
		return cli_usage_error(&logs_spec, "name one action: path, latest, tail or prune");
	}
	o->action = args.pos[0];
	return check_action(o);
}

static int print_json_path(const char *command, const char *path)
{
	cJSON *o = cJSON_CreateObject();
	int r;

	cJSON_AddNumberToObject(o, "schema_version", LOGS_SCHEMA_VERSION);
	cJSON_AddStringToObject(o, "command", command);
	cJSON_AddStringToObject(o, "path", path);
	r = cli_print_json(o);
	cJSON_Delete(o);
	return r;
}

/* The path of the newest run log into out; EXIT_FAIL after saying why there is none. */
static int latest(const struct paths *p, char *out, size_t outsz)
{
	char **names;
	size_t n;
	int r = runlog_list(p->logs_dir, &names, &n);

	if (r) {
		log_error("cannot read '%s': %s; check its permissions (it should be yours, 0700)",
		          p->logs_dir, strerror(-r));
		return EXIT_FAIL;
	}
	if (n == 0) {
		log_error("no run log in '%s' yet; 'codex-switch run' writes one per session",
		          p->logs_dir);
		runlog_free_names(names);
		return EXIT_FAIL;
	}
	snprintf(out, outsz, "%s/%s", p->logs_dir, names[n - 1]);
	runlog_free_names(names);
	return EXIT_OK;
}

/* Offset of the start of the last `lines` lines of buf[0..len). */
static size_t last_lines_start(const char *buf, size_t len, long lines)
{
	size_t i = len;

	if (i > 0 && buf[i - 1] == '\n') {
		i--;
	}
	while (i > 0) {
		if (buf[i - 1] == '\n' && --lines == 0) {
			return i;
		}
		i--;
	}
	return 0;
}

static int print_tail(int fd, long lines, off_t *pos)
{
	struct stat st;
	off_t from;
	char *buf;
	ssize_t got;

	if (fstat(fd, &st) != 0) {
		return -errno;
	}
	from = st.st_size > TAIL_MAX_BYTES ? st.st_size - TAIL_MAX_BYTES : 0;
	buf = malloc((size_t)(st.st_size - from) + 1);
	if (!buf) {
		return -ENOMEM;
	}
	got = pread(fd, buf, (size_t)(st.st_size - from), from);
	if (got < 0) {
		free(buf);
		return -errno;
	}
	size_t start = last_lines_start(buf, (size_t)got, lines);
	fwrite(buf + start, 1, (size_t)got - start, stdout);
	fflush(stdout);
	*pos = from + got;
	free(buf);
	return 0;
}

/* Prints what the log gets from pos on, until the process is interrupted. */
static int follow(int fd, off_t pos)
{
	const struct timespec pause = {0, FOLLOW_POLL_NS};
	char buf[16384];
	struct stat st;
	ssize_t got;

	for (;;) {
		if (fstat(fd, &st) != 0) {
			return -errno;
		}
		if (st.st_size < pos) {
			pos = 0; /* truncated: start over */
		}
		while ((got = pread(fd, buf, sizeof(buf), pos)) > 0) {
			if (fwrite(buf, 1, (size_t)got, stdout) != (size_t)got || fflush(stdout)) {
				return 0; /* the reader went away */
			}
			pos += got;
		}
		nanosleep(&pause, NULL);
	}
}

static int do_tail(const struct paths *p, const struct logs_opts *o)
{
	char path[LOGS_PATH_BYTES];
	off_t pos = 0;
	int fd, r;

	if (latest(p, path, sizeof(path))) {
		return EXIT_FAIL;
	}
	fd = fileio_open_regular(path, 0);
	if (fd < 0) {
		log_error("cannot read '%s': %s; check that it is yours (0600)", path,
		          fileio_strerror(fd));
		return EXIT_FAIL;
	}
	r = print_tail(fd, o->lines, &pos);
	if (r == 0 && o->follow) {
		r = follow(fd, pos);
	}
	close(fd);
	if (r) {
		log_error("cannot read '%s': %s; check that it is yours (0600)", path,
		          strerror(-r));
	}
	return r ? EXIT_FAIL : EXIT_OK;
}

struct prune_ctx {
	const struct logs_opts *o;
	const char *dir;
	cJSON *list;
};

static void on_pruned(const char *name, void *vctx)
{
	struct prune_ctx *ctx = vctx;

	if (ctx->list) {
		cJSON_AddItemToArray(ctx->list, cJSON_CreateString(name));
	} else {
		printf("%s %s/%s\n", ctx->o->dry_run ? "would delete" : "deleted", ctx->dir, name);
	}
}

static int prune_json(cJSON *root, const struct logs_opts *o, long n)
{
	cJSON_AddBoolToObject(root, "dry_run", o->dry_run);
	cJSON_AddNumberToObject(root, "days", (double)o->days);
	cJSON_AddNumberToObject(root, "count", (double)n);
	return cli_print_json(root);
}

static int do_prune(const struct paths *p, const struct logs_opts *o)
{
	struct prune_ctx ctx = {.o = o, .dir = p->logs_dir};
	cJSON *root = NULL;
	long n;
	int st = EXIT_OK;

	if (o->json) {
		root = cJSON_CreateObject();
		cJSON_AddNumberToObject(root, "schema_version", LOGS_SCHEMA_VERSION);
		cJSON_AddStringToObject(root, "command", "logs prune");
		ctx.list = cJSON_AddArrayToObject(root, "logs");
	}
	n = runlog_prune(p->logs_dir, (int)o->days, o->dry_run, NULL, on_pruned, &ctx);
	if (n < 0) {
		log_error("cannot prune '%s': %s; check that it is your directory (0700)",
		          p->logs_dir, strerror((int)-n));
		st = EXIT_FAIL;
	} else if (root) {
		st = prune_json(root, o, n);
	} else if (n == 0) {
		printf("no run log is older than %ld days\n", o->days);
	}
	cJSON_Delete(root);
	return st;
}

static int dispatch(const struct paths *p, const struct logs_opts *o)
{
	char path[LOGS_PATH_BYTES];

	if (strcmp(o->action, "path") == 0) {
		return o->json ? print_json_path("logs path", p->logs_dir)
		               : (printf("%s\n", p->logs_dir), EXIT_OK);
	}
	if (strcmp(o->action, "latest") == 0) {
		if (latest(p, path, sizeof(path))) {
			return EXIT_FAIL;
		}
		return o->json ? print_json_path("logs latest", path)
		               : (printf("%s\n", path), EXIT_OK);
	}
	if (strcmp(o->action, "tail") == 0) {
		return do_tail(p, o);
	}
	return do_prune(p, o);
}

int cmd_logs(int argc, char **argv)
{
	struct logs_opts o;
	struct paths p;
	int st = parse_opts(argc, argv, &o);

	if (st >= 0) {
		return st;
	}
	if (cli_paths(&p)) {
		return EXIT_FAIL;
	}
	st = dispatch(&p, &o);
	paths_release(&p);
	return st;
}
