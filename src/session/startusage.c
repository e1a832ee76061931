#define _GNU_SOURCE /* pipe2 */
#include "session/startusage.h"

#include "base/buf.h"
#include "base/codexseen.h"
#include "base/codexver.h"
#include "base/log.h"
#include "net/endpoints.h"
#include "net/http.h"
#include "net/usage_fetch.h"
#include "store/usage_cache.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The child: never returns. Its answer is one JSON array, out[i] for ids[i]. */
static void child_main(int fd, const struct paths *p, const char *const *ids, size_t n,
                       long timeout_ms)
{
	struct usage *u = calloc(n, sizeof(*u));
	cJSON *arr = cJSON_CreateArray();
	char *text = NULL;
	int st = 1;

	/* A fork, not a new program: the queries run here, not in yet another child each. */
	http_set_transport(NULL);
	/* One host for every query: reused connections save most TLS handshakes. */
	http_share_connections();
	if (u && arr && usage_fetch_all_timeout(p, ids, n, timeout_ms, u, NULL, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			cJSON_AddItemToArray(arr, usage_to_json(&u[i]));
		}
		text = cJSON_PrintUnformatted(arr);
	}
	if (text && write_all(fd, text, strlen(text)) == 0) {
		st = 0;
	}
	/* The session decides from the answer: the cache's locked, synced write comes after. */
	close(fd);
	if (text) {
		usage_cache_store(p, ids, u, n);
	}
	/* No exit(): the parent's stdio buffers and atexit handlers are not the child's. */
	_exit(st);
}

/*
 * A child told to wait: until the session says go, with the codex version it asked meanwhile
 * ("g<version>", then EOF), which the queries' User-Agent names instead of asking `codex
 * --version` a second time. EOF alone means the session ended: no queries.
 */
static void wait_go(int go)
{
	char msg[CODEXVER_MAX + 1];
	size_t len = 0;
	ssize_t r;

	do {
		r = read(go, msg + len, sizeof(msg) - 1 - len);
		len += r > 0 ? (size_t)r : 0;
	} while ((r > 0 && len < sizeof(msg) - 1) || (r < 0 && errno == EINTR));
	if (len == 0 || msg[0] != 'g') {
		_exit(1);
	}
	close(go);
	msg[len] = '\0';
	if (msg[1]) {
		endpoints_set_codex_version(msg + 1);
	}
	/* The TUI owns the terminal now: what the queries have to say goes to the run log. */
	log_set_stderr_level(LOG_OFF);
	/* Nobody waits on the answer now, unless the first turn comes very soon: the relay, the
	 * TUI and codex go first. SCHED_IDLE: any of their wake-ups preempts the queries at once,
	 * and Linux still gives an idle-class task a small share of a busy CPU. */
	struct sched_param sp = {.sched_priority = 0};
	if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0) {
		setpriority(PRIO_PROCESS, 0, 19);
	}
}

/* Without it, the first query would ask `codex --version` (some 70 ms of node for the npm
 * codex) while the start waits on the answer, and the session asks it too. */
static void know_version(const struct paths *p, const char *codex_bin)
{
	char v[CODEXVER_MAX];

	if (!codex_bin) {
		return; /* the first query asks */
	}
	if (codexseen_version(p->codex_seen, codex_bin, v, sizeof(v)) == 0 ||
	    codexver_query(codex_bin, v, sizeof(v)) == 0) {
		endpoints_set_codex_version(v);
	} else {
		endpoints_set_codex_version(CODEXVER_PINNED);
	}
}

int startusage_spawn(struct startusage *su, const struct paths *p, const char *codex_bin,
                     const char *const *ids, size_t n, long timeout_ms, bool later)
{
	int fds[2], go[2] = {-1, -1};
	pid_t pid;

	su->pid = -1;
	su->fd = -1;
	su->go = -1;
	su->n = n;
	su->collected = false;
	atomic_init(&su->cancelled, false);
	pthread_mutex_init(&su->mu, NULL);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		return -errno;
	}
	if (later && pipe2(go, O_CLOEXEC) < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return -e;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		if (later) {
			close(go[0]);
			close(go[1]);
		}
		return -e;
	}
	if (pid == 0) {
		close(fds[0]);
		if (later) {
			close(go[1]);
			wait_go(go[0]);
		} else {
			know_version(p, codex_bin);
		}
		child_main(fds[1], p, ids, n, timeout_ms);
	}
	close(fds[1]);
	if (later) {
		close(go[0]);
	}
	su->pid = pid;
	su->fd = fds[0];
	su->go = go[1];
	return 0;
}

static int parse_answer(const char *text, struct usage *out, size_t n)
{
	cJSON *arr = cJSON_Parse(text);
	size_t i = 0;
	int r = cJSON_IsArray(arr) && (size_t)cJSON_GetArraySize(arr) == n ? 0 : -EPROTO;
	const cJSON *list = r == 0 ? arr : NULL, *it;

	cJSON_ArrayForEach(it, list)
	{
		usage_release(&out[i]);
		if (usage_from_json(it, &out[i]) < 0) {
			usage_init(&out[i]);
			r = -EPROTO;
		}
		i++;
	}
	cJSON_Delete(arr);
	return r;
}

static void reap(struct startusage *su, int flags)
{
	pid_t r;

	pthread_mutex_lock(&su->mu);
	if (su->pid > 0) {
		while ((r = waitpid(su->pid, NULL, flags)) < 0 && errno == EINTR) {
		}
		if (r != 0) {
			su->pid = -1; /* reaped, or not ours to wait for */
		}
	}
	pthread_mutex_unlock(&su->mu);
}

int startusage_collect(struct startusage *su, struct usage *out)
{
	struct buf b;
	int r;

	for (size_t i = 0; i < su->n; i++) {
		usage_init(&out[i]);
	}
	if (su->fd < 0) {
		return -ECHILD;
	}
	su->collected = true;
	buf_init(&b, su->n * STARTUSAGE_MAX_PER_ACCOUNT);
	r = buf_read_fd(&b, su->fd);
	close(su->fd);
	su->fd = -1;
	reap(su, WNOHANG); /* it may still be writing the cache: then release() reaps it */
	if (r == 0) {
		r = parse_answer(b.data ? b.data : "", out, su->n);
	}
	if (atomic_load(&su->cancelled)) {
		r = -ECANCELED;
	} else if (r < 0) {
		log_warn("the usage queries at start gave no answer (%s); choosing from the usage "
		         "cache",
		         strerror(-r));
		for (size_t i = 0; i < su->n; i++) {
			usage_release(&out[i]);
			usage_init(&out[i]);
		}
	}
	buf_release(&b);
	return r;
}

void startusage_go(struct startusage *su, const char *codex_version)
{
	char msg[CODEXVER_MAX + 1];
	int len = snprintf(msg, sizeof(msg), "g%s", codex_version ? codex_version : "");

	if (su->go >= 0) {
		/* Well under PIPE_BUF: one write, whole or not at all. */
		if (write(su->go, msg, (size_t)len) != len) {
			log_warn(
			        "cannot start the usage queries: %s; choosing from the usage cache",
			        strerror(errno));
		}
		close(su->go);
		su->go = -1;
	}
}

void startusage_settle(struct startusage *su)
{
	reap(su, 0);
}

void startusage_cancel(struct startusage *su)
{
	pthread_mutex_lock(&su->mu);
	atomic_store(&su->cancelled, true);
	if (su->pid > 0) {
		kill(su->pid, SIGTERM);
	}
	pthread_mutex_unlock(&su->mu);
}

void startusage_release(struct startusage *su)
{
	if (su->go >= 0) {
		close(su->go); /* a child still waiting ends */
		su->go = -1;
	}
	if (su->fd >= 0) {
		close(su->fd);
		su->fd = -1;
	}
	if (!su->collected) {
		startusage_cancel(su);
	}
	reap(su, 0);
	pthread_mutex_destroy(&su->mu);
}
