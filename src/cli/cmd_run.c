/* `codex-switch run`: parse the command line, choose the start account, hand over to runtime.c. */
#include "cli/commands.h"
#include "base/codexver.h"
#include "base/log.h"
#include "store/paths.h"
#include "proxy/proxy.h"
#include "session/runargs.h"
#include "session/runstart.h"
#include "store/runlog.h"
#include "session/session.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: codex-switch run [--account ACCOUNT] [--codex-bin PATH] [--] [CODEX ARGS...]\n\n"
	        "Runs the Codex TUI through codex-switch. When the current ChatGPT account reaches\n"
	        "its usage limit, the session continues on another stored account.\n"
	        "Supported: codex [PROMPT], codex resume ..., codex fork ... (with any codex\n"
	        "options). The session starts on the account plain 'codex' uses unless that one\n"
	        "cannot be used now; a login made with 'codex login' is stored first.\n\n"
	        "options:\n"
	        "  --account ACCOUNT start on this account for this session (name, id, id prefix\n"
	        "                    of at least 4 characters, or email)\n"
	        "  --codex-bin PATH  the codex binary (default: $CODEX_SWITCH_CODEX_BIN, else codex)\n"
	        "  -h, --help        show this help\n\n"
	        "examples:\n"
	        "  codex-switch run\n"
	        "  codex-switch run \"fix the build\"\n"
	        "  codex-switch run --account work -- -m gpt-5 \"fix the build\"\n"
	        "  codex-switch run resume 0199a3e1-...\n");
}

struct run_opts {
	const char *bin;
	const char *account; /* --account, or NULL */
	int first;           /* argv index of the first codex argument */
};

/* An option of ours that takes a value: "--name VALUE" or "--name=VALUE". 1 when it matched. */
static int value_option(int argc, char **argv, int *i, const char *name, const char **out)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '=')) {
		return 0;
	}
	if (a[n] == '=') {
		*out = a + n + 1;
		(*i)++;
		return 1;
	}
	if (*i + 1 >= argc) {
		log_error("%s needs a value; see 'codex-switch run --help'", name);
		return -EINVAL;
	}
	*out = argv[*i + 1];
	*i += 2;
	return 1;
}

/* Splits our options from codex's: ours come first; `--` or any other word ends them. */
static int parse(int argc, char **argv, struct run_opts *o)
{
	int i = 1, m;

	while (i < argc) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		m = value_option(argc, argv, &i, "--codex-bin", &o->bin);
		if (m == 0) {
			m = value_option(argc, argv, &i, "--account", &o->account);
		}
		if (m < 0) {
			return m;
		}
		if (m == 0) {
			break;
		}
	}
	o->first = i;
	return 0;
}

/* A session without its log still runs: the log is for looking back, not needed to work. */
static void open_run_log(const struct paths *p, int argc, char **argv)
{
	char path[4096], summary[64];
	int r = runlog_open(p, path, sizeof(path));

	if (r) {
		log_warn("cannot create a run log in '%s': %s; the session runs without one",
		         p->logs_dir, strerror(-r));
		return;
	}
	log_info("codex-switch %s run: codex %s", CS_VERSION,
	         runargs_summary(argc, argv, summary, sizeof(summary)));
}

int cmd_run(int argc, char **argv)
{
	struct paths p;
	struct session_config cfg = {0};
	struct policy_config policy;
	struct runstart rs = {0};
	struct run_opts o = {.bin = getenv("CODEX_SWITCH_CODEX_BIN")};
	char err[512], cwd[PATH_MAX];
	int first, r;

	if (!o.bin || !*o.bin) {
		o.bin = "codex";
	}
	r = parse(argc, argv, &o);
	first = o.first;
	if (r) {
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	}
	if (runargs_check(argc - first, argv + first, err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		log_error("cannot read the current directory: %s; cd to a directory that exists",
		          strerror(errno));
		return EXIT_FAIL;
	}
	if (paths_init(&p)) {
		log_error("cannot find the home directory; set HOME or CODEX_SWITCH_HOME");
		return EXIT_FAIL;
	}
	r = paths_ensure_store(&p);
	if (r) {
		log_error(
		        "cannot create '%s': %s; check its parent's permissions or set CODEX_SWITCH_HOME",
		        p.store_dir, strerror(-r));
		paths_release(&p);
		return EXIT_FAIL;
	}
	open_run_log(&p, argc - first, argv + first);
	/* A flood of connections to the proxy must not leave the store without descriptors. */
	proxy_raise_fd_limit();
	if (policy_config_load(p.config, &policy, err, sizeof(err))) {
		log_error("%s", err);
		r = EXIT_FAIL;
	} else {
		/* First (while the process has one thread): the usage queries run while codex is
		 * asked its version and started. */
		rs.pin = o.account;
		rs.codex_bin = o.bin;
		r = runstart_begin(&p, &policy, &rs);
	}
	if (r == EXIT_OK && codexver_prefetch(o.bin)) {
		log_debug("cannot ask codex its version on a thread; the session asks it itself");
	}
	if (r == EXIT_OK && !rs.pending) {
		r = runstart_tokens(&p, rs.id, NULL);
	} else if (r == EXIT_OK && rs.provisional[0]) {
		/* The TUI starts at once on it; its turns wait for the fresh usage. */
		r = runstart_tokens(&p, rs.provisional, NULL);
	} else if (r == EXIT_OK) {
		runstart_current_tokens(&p, &rs);
	}
	if (r == EXIT_OK) {
		cfg = (struct session_config){.paths = &p,
		                              .codex_bin = o.bin,
		                              .argc = argc - first,
		                              .argv = argv + first,
		                              .cwd = cwd,
		                              .account_id = !rs.pending         ? rs.id
		                                            : rs.provisional[0] ? rs.provisional
		                                                                : NULL,
		                              .start = rs.pending ? &rs : NULL,
		                              .policy = &policy};
		r = session_run(&cfg);
	}
	runstart_release(&rs);
	runlog_close();
	paths_release(&p);
	return r;
}
