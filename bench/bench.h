/*
 * cs-bench: the benchmark's peers in one binary, so that `codex-switch run --codex-bin cs-bench`
 * is measured exactly as users run it:
 *   cs-bench app-server --listen ws://127.0.0.1:P --ws-token-file F ...   the echo/mock server
 *   cs-bench [codex args] --remote ws://... --remote-auth-token-env VAR   the load client (TUI)
 * The load client's workload comes from the environment (BENCH_*), see bench_client.c.
 * Not part of codex-switch and not installed.
 */
#ifndef CS_BENCH_H
#define CS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_CHUNK (64 * 1024)

/* CLOCK_MONOTONIC in nanoseconds (the clock of Python's time.monotonic_ns()). */
int64_t bench_now_ns(void);
/* The value after option name (also "--name=value"), or NULL. */
const char *bench_opt(int argc, char **argv, const char *name);
/* The whole file (a token), trailing whitespace removed; caller frees. NULL on error. */
char *bench_read_token(const char *path);

/* Resource use of a process (all its threads) from /proc; zeros when it cannot be read. */
struct bench_proc {
	int64_t cpu_ns;  /* user + system, from the scheduler (ns precision) */
	int64_t wakeups; /* voluntary + involuntary context switches */
	int64_t hwm_kb;  /* VmHWM */
};
void bench_proc_read(long pid, struct bench_proc *out);

int bench_echo_main(int argc, char **argv);
int bench_client_main(int argc, char **argv);

#endif
