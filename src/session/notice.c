#include "session/notice.h"

#include "base/codexver.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define NOTICE_PROVIDER "codex-switch"

void notice_init(struct notice *n)
{
	memset(n, 0, sizeof(*n));
}

bool notice_hidden(const struct notice *n, const char *thread_id)
{
	for (int i = 0; i < n->nhidden; i++) {
		if (strcmp(n->hidden[i], thread_id) == 0) {
			return true;
		}
	}
	return false;
}

void notice_set_codex(struct notice *n, const char *version)
{
	if (version && codexver_cmp(version, "0.122.0") < 0) {
		n->style = NOTICE_DEPRECATION;
	} else if (version && codexver_cmp(version, "0.152.0") < 0) {
		n->style = NOTICE_WARNING;
	} else {
		n->style = NOTICE_AUTH_RECOVERY;
	}
}

void notice_thread(struct notice *n, const char *thread_id, bool ephemeral)
{
	if (!thread_id) {
		return;
	}
	if (ephemeral) {
		snprintf(n->hidden[n->nhidden % 4], sizeof(n->hidden[0]), "%s", thread_id);
		n->nhidden = n->nhidden < 4 ? n->nhidden + 1 : 4;
		return;
	}
	if (strcmp(thread_id, n->thread_id) != 0) {
		snprintf(n->thread_id, sizeof(n->thread_id), "%s", thread_id);
		n->turn_id[0] = '\0';
		n->had_turn = false;
	}
}

void notice_turn_started(struct notice *n, const char *thread_id, const char *turn_id, bool own)
{
	if (!thread_id || notice_hidden(n, thread_id)) {
		return;
	}
	notice_thread(n, thread_id, false);
	n->had_turn = true;
	snprintf(n->turn_id, sizeof(n->turn_id), "%s", own && turn_id ? turn_id : "");
}

void notice_turn_ended(struct notice *n, const char *turn_id)
{
	if (turn_id && strcmp(turn_id, n->turn_id) == 0) {
		n->turn_id[0] = '\0';
	}
}

bool notice_can_show(const struct notice *n)
{
	if (!n->thread_id[0]) {
		return false; /* the 0.117 TUI drops what comes before its chat view exists */
	}
	if (n->style != NOTICE_AUTH_RECOVERY) {
		return true; /* those show at any time */
	}
	return n->turn_id[0] || !n->had_turn;
}

static char *older_style(const struct notice *n, const char *text)
{
	cJSON *o = cJSON_CreateObject(), *p = o ? cJSON_AddObjectToObject(o, "params") : NULL;
	char *s;

	if (!p) {
		cJSON_Delete(o);
		return NULL;
	}
	if (n->style == NOTICE_WARNING) {
		cJSON_AddStringToObject(o, "method", "warning");
		cJSON_AddNullToObject(p, "threadId");
		cJSON_AddStringToObject(p, "message", text);
	} else {
		cJSON_AddStringToObject(o, "method", "deprecationNotice");
		cJSON_AddStringToObject(p, "summary", text);
		cJSON_AddNullToObject(p, "details");
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *notice_message(const struct notice *n, const char *text)
{
	cJSON *o, *p;
	char *s;

	if (n->style != NOTICE_AUTH_RECOVERY) {
		return older_style(n, text);
	}
	o = cJSON_CreateObject();
	p = o ? cJSON_AddObjectToObject(o, "params") : NULL;
	if (!p) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(o, "method", "modelProvider/authRecoveryCompleted");
	cJSON_AddStringToObject(p, "threadId", n->thread_id);
	/* Before a thread's first turn any id is accepted. */
	cJSON_AddStringToObject(p, "turnId", n->turn_id[0] ? n->turn_id : "codex-switch");
	cJSON_AddStringToObject(p, "provider", NOTICE_PROVIDER);
	cJSON_AddStringToObject(p, "message", text);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

void notice_defer(struct notice *n, const char *text)
{
	if (n->npending == NOTICE_PENDING_MAX) {
		memmove(n->pending[0], n->pending[1],
		        sizeof(n->pending[0]) * (NOTICE_PENDING_MAX - 1));
		n->npending--;
	}
	snprintf(n->pending[n->npending++], sizeof(n->pending[0]), "%s", text);
}

int notice_take(struct notice *n, const char *const **out)
{
	static const char *lines[NOTICE_PENDING_MAX];
	int k = n->npending;

	for (int i = 0; i < k; i++) {
		lines[i] = n->pending[i];
	}
	n->npending = 0;
	*out = lines;
	return k;
}
