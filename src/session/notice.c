#include "session/notice.h"

#include "session/rpcmsg.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define NOTICE_PROVIDER "codex-switch"

void notice_init(struct notice *n)
{
	memset(n, 0, sizeof(*n));
}

void notice_saw(struct notice *n, const char *thread_id, const char *turn_id)
{
	if (thread_id && strcmp(thread_id, n->thread_id) != 0) {
		snprintf(n->thread_id, sizeof(n->thread_id), "%s", thread_id);
		n->turn_id[0] = '\0';
	}
	if (turn_id) {
		snprintf(n->turn_id, sizeof(n->turn_id), "%s", turn_id);
	}
}

char *notice_message(const struct notice *n, const char *text)
{
	cJSON *o, *p;
	char *s;

	if (!n->thread_id[0]) {
		return rpcmsg_warning(text);
	}
	o = cJSON_CreateObject();
	p = o ? cJSON_AddObjectToObject(o, "params") : NULL;
	if (!p) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(o, "method", "modelProvider/authRecoveryCompleted");
	cJSON_AddStringToObject(p, "threadId", n->thread_id);
	/* The TUI only needs a turn id to place the line; a made-up one is accepted. */
	cJSON_AddStringToObject(p, "turnId", n->turn_id[0] ? n->turn_id : "codex-switch");
	cJSON_AddStringToObject(p, "provider", NOTICE_PROVIDER);
	cJSON_AddStringToObject(p, "message", text);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}
