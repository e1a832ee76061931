/* The load client's state and its workloads (bench_work.c); the connection is bench_client.c. */
#ifndef CS_BENCH_WORK_H
#define CS_BENCH_WORK_H

#include "bench.h"

#include <libwebsockets.h>

#include "proxy/wsframe.h"
#include "proxy/wsq.h"

enum bench_workload { W_PINGPONG, W_BURST, W_ECHO, W_IDLE, W_STARTUP, W_SWAP };

struct bench_client {
	/* connection */
	struct lws_context *cx;
	struct lws *wsi;
	int port;
	char key[WSFRAME_KEY_LEN + 1];
	char *req;
	bool established, done;
	char head[16 * 1024];
	size_t head_len;
	struct wsframe_rx fr;
	unsigned char small[LWS_PRE + 2048]; /* the upgrade request being written */
	struct wsq q;                        /* small messages to write */
	size_t big_size, big_off;            /* the generated big message being written */
	char msg[4096];                      /* prefix of the message being received */
	size_t msg_len, msg_total;
	uint64_t rng;
	int64_t t_start_ns;
	lws_sorted_usec_list_t sul_connect, sul_idle;
	/* workload */
	enum bench_workload workload;
	long count, warm, i;
	size_t size;
	long seconds;
	long swap_gap_ms; /* swap: pause before the next usage limit */
	long settle_ms; /* echo: from initialize's answer to the load (the relay's start-up ends) */
	bool warming;   /* echo: the unmeasured message after the settle time is out */
	long relay_pid;
	bool initialized;
	int64_t t_launch_ns, t0, t1, t_sent;
	int64_t *samples;
	long nsamples;
	struct bench_proc p0, p1;
	bool swap_ns_seen, swap_warning_seen;
	long received;
	char error[160];
};

int bench_work_init(struct bench_client *bc);
/* The upgrade is done. */
void bench_work_start(struct bench_client *bc);
/* A whole message arrived: its first bytes (NUL-terminated) and its full length. */
void bench_work_message(struct bench_client *bc, const char *head, size_t total);
/* Writes the result line; the exit status. */
int bench_work_finish(struct bench_client *bc);
void bench_fail(struct bench_client *bc, const char *why);

/* bench_client.c: queue one small text message / a generated message of size bytes. */
void bench_send_text(const char *json);
void bench_send_big(size_t size);

#endif
