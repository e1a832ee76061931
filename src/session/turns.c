#include "session/turns.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void turns_init(struct turns *t)
{
	memset(t, 0, sizeof(*t));
}

static void turn_free(struct turn *x)
{
	free(x->request);
	free(x);
}

void turns_release(struct turns *t)
{
	while (t->list) {
		struct turn *x = t->list;
		t->list = x->next;
		turn_free(x);
	}
	t->n = 0;
}

static void unlink_turn(struct turns *t, struct turn *x)
{
	for (struct turn **p = &t->list; *p; p = &(*p)->next) {
		if (*p == x) {
			*p = x->next;
			t->n--;
			return;
		}
	}
}

struct turn *turns_find(struct turns *t, const char *thread_id)
{
	for (struct turn *x = t->list; x; x = x->next) {
		if (strcmp(x->thread_id, thread_id) == 0) {
			return x;
		}
	}
	return NULL;
}

static void forget_oldest(struct turns *t)
{
	struct turn **p = &t->list;

	while (*p && (*p)->next) {
		p = &(*p)->next;
	}
	if (*p) {
		turn_free(*p);
		*p = NULL;
		t->n--;
	}
}

int turns_on_start(struct turns *t, struct proxy_conn *conn, const char *json, size_t len)
{
	cJSON *msg;
	const cJSON *tid;
	struct turn *x;

	if (len > TURNS_MAX_BYTES) {
		return -E2BIG;
	}
	msg = cJSON_ParseWithLength(json, len);
	tid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "params"),
	                                       "threadId");
	if (!cJSON_IsString(tid)) {
		cJSON_Delete(msg);
		return -EINVAL;
	}
	x = turns_find(t, tid->valuestring);
	if (x) {
		unlink_turn(t, x);
		turn_free(x);
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->request = malloc(len + 1))) {
		free(x);
		cJSON_Delete(msg);
		return -ENOMEM;
	}
	memcpy(x->request, json, len);
	x->request[len] = '\0';
	x->len = len;
	x->conn = conn;
	snprintf(x->thread_id, sizeof(x->thread_id), "%s", tid->valuestring);
	cJSON_Delete(msg);
	x->next = t->list;
	t->list = x;
	if (++t->n > TURNS_MAX) {
		forget_oldest(t);
	}
	return 0;
}

void turns_on_started(struct turns *t, const char *thread_id, const char *turn_id,
                      const char *account_id)
{
	struct turn *x = turns_find(t, thread_id);

	if (x) {
		snprintf(x->turn_id, sizeof(x->turn_id), "%s", turn_id);
		snprintf(x->account_id, sizeof(x->account_id), "%s", account_id ? account_id : "");
		x->produced = false;
	}
}

void turns_on_item(struct turns *t, const char *thread_id, const char *turn_id,
                   const char *item_type)
{
	struct turn *x = turns_find(t, thread_id);

	if (x && strcmp(x->turn_id, turn_id) == 0 && strcmp(item_type, "userMessage") != 0) {
		x->produced = true;
	}
}

void turns_run_started(struct turns *t, struct proxy_conn *conn, const char *turn_id)
{
	if (t->nrunning < TURNS_RUNNING_MAX) {
		t->running[t->nrunning].conn = conn;
		snprintf(t->running[t->nrunning].id, sizeof(t->running[0].id), "%s", turn_id);
		t->nrunning++;
	}
}

/* Drops the running entries that match conn (when not NULL) or turn_id (when not NULL). */
static void run_drop(struct turns *t, const struct proxy_conn *conn, const char *turn_id)
{
	size_t k = 0;

	for (size_t i = 0; i < t->nrunning; i++) {
		if ((conn && t->running[i].conn == conn) ||
		    (turn_id && strcmp(t->running[i].id, turn_id) == 0)) {
			continue;
		}
		t->running[k++] = t->running[i];
	}
	t->nrunning = k;
}

void turns_run_ended(struct turns *t, const char *turn_id)
{
	run_drop(t, NULL, turn_id);
}

bool turns_running(const struct turns *t)
{
	return t->nrunning > 0;
}

void turns_conn_closed(struct turns *t, struct proxy_conn *conn)
{
	struct turn **p = &t->list;

	run_drop(t, conn, NULL);
	while (*p) {
		struct turn *x = *p;
		if (x->conn == conn) {
			*p = x->next;
			t->n--;
			turn_free(x);
		} else {
			p = &x->next;
		}
	}
}
