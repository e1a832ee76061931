/*
 * $CODEX_SWITCH_HOME/config.json: the policy's thresholds and switches. Strict on purpose: a typo
 * in a key would otherwise silently leave a default in place, so unknown keys, wrong types and
 * values out of range are errors that name the file and the key.
 */
#include "policy/policy.h"

#include "base/fileio.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* config.json is a handful of numbers and switches; anything larger is not ours. */
#define CONFIG_MAX_BYTES (64 * 1024)

enum key_kind {
	KEY_NUMBER,  /* double */
	KEY_SECONDS, /* int64_t, whole seconds */
	KEY_BOOL,    /* bool, JSON true or false only */
};

struct key {
	const char *name;
	size_t offset; /* into struct policy_config */
	enum key_kind kind;
	double min, max;
};

static const struct key keys[] = {
        {"min_safe_headroom", offsetof(struct policy_config, min_safe_headroom), KEY_NUMBER, 0,
         100},
        {"weekly_weight", offsetof(struct policy_config, weekly_weight), KEY_NUMBER, 0.1, 100},
        {"soft_headroom", offsetof(struct policy_config, soft_headroom), KEY_NUMBER, 0, 100},
        {"switch_margin", offsetof(struct policy_config, switch_margin), KEY_NUMBER, 0, 100},
        {"soft_cooldown_s", offsetof(struct policy_config, soft_cooldown_s), KEY_SECONDS, 0, 86400},
        {"usage_max_age_s", offsetof(struct policy_config, usage_max_age_s), KEY_SECONDS, 60,
         604800},
        {"auto_reset_credits", offsetof(struct policy_config, auto_reset_credits), KEY_BOOL, 0, 1},
};

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, name) == 0) {
			return &keys[i];
		}
	}
	return NULL;
}

static int set_bool(const char *path, const struct key *k, const cJSON *item,
                    struct policy_config *c, char *err, size_t errsz)
{
	bool v = cJSON_IsTrue(item);

	if (!cJSON_IsBool(item)) {
		snprintf(err, errsz, "'%s': '%s' must be true or false", path, k->name);
		return -EINVAL;
	}
	memcpy((char *)c + k->offset, &v, sizeof(v));
	return 0;
}

static int set_key(const char *path, const cJSON *item, struct policy_config *c, char *err,
                   size_t errsz)
{
	const struct key *k = find_key(item->string);
	double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
	bool whole = k && k->kind == KEY_SECONDS;
	char *field;

	if (!k) {
		snprintf(err, errsz,
		         "'%s': unknown key '%s' (known: min_safe_headroom, weekly_weight, "
		         "soft_headroom, switch_margin, soft_cooldown_s, usage_max_age_s, "
		         "auto_reset_credits)",
		         path, item->string);
		return -EINVAL;
	}
	if (k->kind == KEY_BOOL) {
		return set_bool(path, k, item, c, err, errsz);
	}
	if (!cJSON_IsNumber(item) || !isfinite(v) || v < k->min || v > k->max ||
	    (whole && v != floor(v))) {
		snprintf(err, errsz, "'%s': '%s' must be %s between %g and %g", path, k->name,
		         whole ? "a whole number of seconds" : "a number", k->min, k->max);
		return -EINVAL;
	}
	field = (char *)c + k->offset;
	if (whole) {
		int64_t iv = (int64_t)v;
		memcpy(field, &iv, sizeof(iv));
	} else {
		memcpy(field, &v, sizeof(v));
	}
	return 0;
}

static int apply(const char *path, const char *text, struct policy_config *c, char *err,
                 size_t errsz)
{
	cJSON *root = cJSON_Parse(text);
	const cJSON *item;
	int r = 0;

	if (!root || !cJSON_IsObject(root)) {
		snprintf(err, errsz, "'%s': %s; fix or remove the file", path,
		         root ? "the top level must be a JSON object" : "not valid JSON");
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(item, root)
	{
		r = set_key(path, item, c, err, errsz);
		if (r) {
			break;
		}
	}
	cJSON_Delete(root);
	return r;
}

int policy_config_load(const char *path, struct policy_config *c, char *err, size_t errsz)
{
	char *text = NULL;
	size_t len;
	int r;

	policy_config_defaults(c);
	if (errsz) {
		err[0] = '\0';
	}
	r = fileio_read(path, CONFIG_MAX_BYTES, &text, &len);
	if (r == -ENOENT) {
		return 0;
	}
	if (r) {
		snprintf(err, errsz, "cannot read '%s': %s", path,
		         r == -EFBIG ? "larger than 64 KiB" : fileio_strerror(r));
		return r;
	}
	r = apply(path, text, c, err, errsz);
	free(text);
	if (r) {
		policy_config_defaults(c);
	}
	return r;
}
