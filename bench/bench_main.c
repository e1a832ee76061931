#define _GNU_SOURCE /* dirent d_type */
#include "bench.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *bench_opt(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], name) == 0 && i + 1 < argc) {
			return argv[i + 1];
		}
		if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
			return argv[i] + n + 1;
		}
	}
	return NULL;
}

char *bench_read_token(const char *path)
{
	char buf[512];
	FILE *f = path ? fopen(path, "r") : NULL;
	size_t n;

	if (!f) {
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
		n--;
	}
	buf[n] = '\0';
	return strdup(buf);
}

static void read_task(long pid, const char *tid, struct bench_proc *out)
{
	char path[384], line[256];
	unsigned long long run = 0;
	long long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/task/%s/schedstat", pid, tid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &run) == 1) {
			out->cpu_ns += (int64_t)run;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%ld/task/%s/status", pid, tid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1) {
			out->wakeups += v;
		}
	}
	if (f) {
		fclose(f);
	}
}

void bench_proc_read(long pid, struct bench_proc *out)
{
	char path[64], line[256];
	struct dirent *e;
	DIR *d;
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] != '.') {
			read_task(pid, e->d_name, out);
		}
	}
	if (d) {
		closedir(d);
	}
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		long long kb;

		if (sscanf(line, "VmHWM: %lld", &kb) == 1) {
			out->hwm_kb = kb;
		}
	}
	if (f) {
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	lws_set_log_level(LLL_ERR, NULL);
	if (argc >= 2 && (strcmp(argv[1], "app-server") == 0 || strcmp(argv[1], "echo") == 0)) {
		return bench_echo_main(argc, argv);
	}
	if (bench_opt(argc, argv, "--remote")) {
		return bench_client_main(argc, argv);
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		/* codex-switch refuses a codex older than it supports: pass as the pinned one. */
		printf("codex-cli %s\n", CS_CODEX_PINNED);
		return 0;
	}
	fprintf(stderr,
	        "usage: cs-bench app-server --listen ws://127.0.0.1:PORT --ws-token-file F\n"
	        "       cs-bench --remote ws://127.0.0.1:PORT --remote-auth-token-env VAR\n");
	return 2;
}
