/* The load client's workloads: what it sends, what it waits for, what it measures. */
#include "bench_work.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const names[] = {"pingpong", "burst", "echo", "idle", "startup", "swap"};

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

int bench_work_init(struct bench_client *bc)
{
	const char *w = getenv("BENCH_WORKLOAD"), *pid = getenv("BENCH_RELAY_PID");
	size_t i;

	for (i = 0; w && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(w, names[i]) == 0) {
			break;
		}
	}
	if (!w || i == sizeof(names) / sizeof(names[0])) {
		fprintf(stderr, "cs-bench: set BENCH_WORKLOAD to pingpong, burst, echo, idle, "
		                "startup or swap\n");
		return -EINVAL;
	}
	bc->workload = (enum bench_workload)i;
	bc->count = env_long("BENCH_COUNT", 1000);
	bc->warm = bc->workload == W_PINGPONG ? bc->count / 10 : 0;
	bc->size = (size_t)env_long("BENCH_SIZE", 1024 * 1024);
	bc->seconds = env_long("BENCH_SECONDS", 30);
	bc->swap_gap_ms = env_long("BENCH_SWAP_GAP_MS", 0);
	bc->settle_ms = env_long("BENCH_SETTLE_MS", 0);
	bc->t_launch_ns = env_long("BENCH_T0_NS", 0);
	if (pid && strcmp(pid, "parent") == 0) {
		bc->relay_pid = (long)getppid();
	} else {
		bc->relay_pid = env_long("BENCH_RELAY_PID", 0);
	}
	bc->samples = calloc((size_t)bc->count + bc->warm + 1, sizeof(*bc->samples));
	return bc->samples ? 0 : -ENOMEM;
}

void bench_fail(struct bench_client *bc, const char *why)
{
	if (!bc->error[0]) {
		snprintf(bc->error, sizeof(bc->error), "%s", why);
	}
	bc->done = true;
}

static void finish(struct bench_client *bc)
{
	bc->t1 = bench_now_ns();
	if (bc->relay_pid) {
		bench_proc_read(bc->relay_pid, &bc->p1);
	}
	bc->done = true;
}

static void measure_from_now(struct bench_client *bc)
{
	if (bc->relay_pid) {
		bench_proc_read(bc->relay_pid, &bc->p0);
	}
	bc->t0 = bench_now_ns();
}

static void send_ping(struct bench_client *bc)
{
	char m[320];

	snprintf(m, sizeof(m),
	         "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"bench/ping\",\"params\":{"
	         "\"threadId\":\"thr_bench\",\"input\":[{\"type\":\"text\",\"text\":\"lorem ipsum "
	         "dolor sit amet, consectetur adipiscing elit, sed do eiusmod\"}]}}",
	         bc->i + 100);
	bc->t_sent = bench_now_ns();
	bench_send_text(m);
}

static void idle_over(lws_sorted_usec_list_t *sul)
{
	struct bench_client *bc = lws_container_of(sul, struct bench_client, sul_idle);

	finish(bc);
	lws_cancel_service(bc->cx);
}

/* The idle period starts once the last message of the set-up ("initialized") has passed. */
static void idle_start(lws_sorted_usec_list_t *sul)
{
	struct bench_client *bc = lws_container_of(sul, struct bench_client, sul_idle);

	measure_from_now(bc);
	lws_sul_schedule(bc->cx, 0, &bc->sul_idle, idle_over,
	                 (lws_usec_t)bc->seconds * LWS_US_PER_SEC);
}

static void begin(struct bench_client *bc)
{
	char m[128];

	measure_from_now(bc);
	switch (bc->workload) {
	case W_PINGPONG:
		send_ping(bc);
		break;
	case W_BURST:
		snprintf(m, sizeof(m), "{\"method\":\"bench/burst\",\"params\":%ld}", bc->count);
		bench_send_text(m);
		break;
	case W_ECHO:
		bc->t_sent = bench_now_ns();
		bench_send_big(bc->size);
		break;
	case W_IDLE:
		lws_sul_schedule(bc->cx, 0, &bc->sul_idle, idle_start, 500 * LWS_US_PER_MS);
		break;
	case W_SWAP:
		bench_send_text("{\"method\":\"bench/usageLimit\"}");
		break;
	default:
		break;
	}
}

void bench_work_start(struct bench_client *bc)
{
	bench_send_text("{\"id\":1,\"method\":\"initialize\",\"params\":{\"clientInfo\":{\"name\":"
	                "\"codex_tui\",\"title\":null,\"version\":\"0.0.0\"},\"capabilities\":{"
	                "\"experimentalApi\":true}}}");
}

/* After the settle time, an echo first sends one message that is not measured: the CPUs that
 * idled meanwhile are awake again when the measurement starts. */
#define ECHO_WARM_SIZE (1024 * 1024)

static void settled(lws_sorted_usec_list_t *sul)
{
	struct bench_client *bc = lws_container_of(sul, struct bench_client, sul_idle);

	if (bc->workload == W_ECHO) {
		bc->warming = true;
		bench_send_big(ECHO_WARM_SIZE);
		return;
	}
	begin(bc);
}

static void on_initialized(struct bench_client *bc)
{
	bc->initialized = true;
	if (bc->workload == W_STARTUP) {
		bc->samples[bc->nsamples++] = bench_now_ns() - bc->t_launch_ns;
		finish(bc);
		return;
	}
	bench_send_text("{\"method\":\"initialized\"}");
	if (bc->settle_ms > 0 && bc->workload == W_ECHO) {
		lws_sul_schedule(bc->cx, 0, &bc->sul_idle, settled, bc->settle_ms * LWS_US_PER_MS);
		return;
	}
	begin(bc);
}

static void on_pong(struct bench_client *bc)
{
	int64_t rtt = bench_now_ns() - bc->t_sent;

	if (bc->i == bc->warm) {
		measure_from_now(bc); /* warm-up round trips are not measured */
	}
	if (bc->i >= bc->warm) {
		bc->samples[bc->nsamples++] = rtt;
	}
	if (++bc->i == bc->count + bc->warm) {
		finish(bc);
		return;
	}
	send_ping(bc);
}

static void on_echo(struct bench_client *bc, size_t total)
{
	if (bc->warming) {
		bc->warming = false;
		if (total != ECHO_WARM_SIZE) {
			bench_fail(bc, "the warm-up echo came back with another length");
			return;
		}
		begin(bc);
		return;
	}
	if (total != bc->size) {
		bench_fail(bc, "echo came back with another length");
		return;
	}
	bc->samples[bc->nsamples++] = bench_now_ns() - bc->t_sent;
	if (++bc->i == bc->count) {
		finish(bc);
		return;
	}
	bc->t_sent = bench_now_ns();
	bench_send_big(bc->size);
}

static void on_swap(struct bench_client *bc, const char *head)
{
	const char *ns = strstr(head, "\"ns\":");

	if (ns) {
		bc->samples[bc->nsamples++] = strtoll(ns + 5, NULL, 10);
		bc->swap_ns_seen = true;
	}
	/* The switch notice: a `warning` before the session redesign, since then a transcript
	 * line (modelProvider/authRecoveryCompleted). */
	if (strstr(head, "\"method\":\"warning\"") ||
	    strstr(head, "\"method\":\"modelProvider/authRecoveryCompleted\"")) {
		bc->swap_warning_seen = true;
	}
	if (!bc->swap_ns_seen || !bc->swap_warning_seen) {
		return;
	}
	bc->swap_ns_seen = bc->swap_warning_seen = false;
	if (++bc->i == bc->count) {
		finish(bc);
		return;
	}
	if (bc->swap_gap_ms > 0) {
		/* Lets the relay finish the switch's own work (its store writes) first; the client
		 * has nothing else to do meanwhile. */
		struct timespec ts = {bc->swap_gap_ms / 1000, (bc->swap_gap_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	bench_send_text("{\"method\":\"bench/usageLimit\"}");
}

void bench_work_message(struct bench_client *bc, const char *head, size_t total)
{
	if (!bc->initialized) {
		if (strstr(head, "\"id\":1,") && strstr(head, "\"result\"")) {
			on_initialized(bc);
		}
		return;
	}
	switch (bc->workload) {
	case W_PINGPONG:
		if (strstr(head, "\"result\"")) {
			on_pong(bc);
		}
		break;
	case W_BURST:
		if (strstr(head, "bench/burstDone")) {
			finish(bc);
		} else {
			bc->received++;
		}
		break;
	case W_ECHO:
		on_echo(bc, total);
		break;
	case W_SWAP:
		on_swap(bc, head);
		break;
	default:
		break;
	}
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const struct bench_client *bc, double q)
{
	long k = (long)(q * (double)(bc->nsamples - 1) + 0.5);

	return bc->nsamples ? (double)bc->samples[k] / 1000.0 : 0;
}

int bench_work_finish(struct bench_client *bc)
{
	const char *out = getenv("BENCH_OUT");
	FILE *f = out && *out ? fopen(out, "a") : stdout;
	double wall = (double)(bc->t1 - bc->t0) / 1e9;

	if (!f) {
		return 1;
	}
	qsort(bc->samples, (size_t)bc->nsamples, sizeof(*bc->samples), cmp64);
	fprintf(f,
	        "{\"workload\":\"%s\",\"ok\":%s,\"error\":\"%s\",\"n\":%ld,\"wall_s\":%.6f,"
	        "\"p50_us\":%.2f,\"p99_us\":%.2f,\"min_us\":%.2f,\"max_us\":%.2f,"
	        "\"received\":%ld,\"bytes\":%zu,\"relay_cpu_s\":%.6f,\"relay_wakeups\":%lld,"
	        "\"relay_hwm_kb\":%lld}\n",
	        names[bc->workload], bc->error[0] ? "false" : "true", bc->error, bc->nsamples, wall,
	        pct_us(bc, 0.5), pct_us(bc, 0.99), pct_us(bc, 0), pct_us(bc, 1), bc->received,
	        bc->workload == W_ECHO ? bc->size * (size_t)bc->nsamples : 0,
	        (double)(bc->p1.cpu_ns - bc->p0.cpu_ns) / 1e9,
	        (long long)(bc->p1.wakeups - bc->p0.wakeups), (long long)bc->p1.hwm_kb);
	if (f != stdout) {
		fclose(f);
	}
	free(bc->samples);
	return bc->error[0] ? 1 : 0;
}
