/*
 * The /wham/usage body and the app-server's rate-limit and error notifications: usage_parse,
 * the cache round trip (what usage_to_json writes, usage_from_json must read back), and the
 * switch triggers over the same JSON.
 */
#include <stdlib.h>

#include "fuzz_common.h"
#include "session/trigger.h"
#include "policy/usage.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static void round_trip(const struct usage *u)
{
	cJSON *j = usage_to_json(u);
	struct usage back;

	if (!j) {
		return;
	}
	if (usage_from_json(j, &back) != 0) {
		abort(); /* the cache could not read what it wrote */
	}
	(void)usage_five_hour(&back);
	(void)usage_weekly(&back);
	usage_release(&back);
	cJSON_Delete(j);
}

static void notifications(const char *text)
{
	cJSON *o = cJSON_Parse(text);
	struct trigger t;
	struct usage u;

	if (!o) {
		return;
	}
	trigger_from_error(o, &t);
	trigger_from_rate_limits(o, &t);
	(void)trigger_reset_time(cJSON_GetObjectItemCaseSensitive(o, "rateLimits"));
	if (usage_from_rate_limits(o, &u) == 0) {
		round_trip(&u);
	}
	usage_release(&u);
	cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = fuzz_cstr(data, size);
	struct usage u;

	if (usage_parse(body, &u) == 0) {
		round_trip(&u);
	}
	usage_release(&u);
	notifications(body);
	free(body);
	return 0;
}
