/*
 * One stored account and its JSON form, compatible with the Rust codex-switch's accounts.json
 * (see README "Files"). Unknown fields of an account object are kept in `json` and written back.
 */
#ifndef CS_ACCOUNT_H
#define CS_ACCOUNT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

enum account_kind {
	ACCOUNT_CHATGPT,
	ACCOUNT_API_KEY,
};

struct account {
	char *id; /* uuid v4 text */
	char *name;
	char *email;              /* may be NULL */
	char *plan_type;          /* may be NULL */
	char *chatgpt_user_id;    /* may be NULL */
	char *chatgpt_account_id; /* auth_data.account_id; may be NULL */
	bool fedramp;             /* chatgpt_account_is_fedramp */
	bool disabled;            /* auto_switch_disabled */
	char *relogin_reason;     /* non-NULL: refresh failed terminally; needs `login --replace` */
	int64_t token_last_refresh_at; /* Unix microseconds; 0 = null */
	int64_t subscription_expires_at;
	int64_t created_at;
	int64_t last_used_at;
	enum account_kind kind;
	/* Secrets. Never log them; they are registered with log_add_secret() on load. */
	char *api_key;
	char *id_token;
	char *access_token;
	char *refresh_token;
	cJSON *json; /* owned: the object as read, so unknown fields survive a rewrite */
};

/* Frees the contents (secrets are wiped); a zeroed account is fine. */
void account_release(struct account *a);

/* Deep copy into dst (which is overwritten, not released). -ENOMEM. */
int account_copy(struct account *dst, const struct account *src);

/*
 * Parses one element of "accounts". On error returns -EINVAL and sets *why to a static
 * description ("missing field 'id'", ...). Accepts auth_data.type "chat_g_p_t" and "chatgpt".
 */
int account_from_json(const cJSON *obj, struct account *a, const char **why);

/* Builds the JSON object for a (unknown fields from a->json kept). NULL on -ENOMEM. */
cJSON *account_to_json(const struct account *a);

/* Sets obj[key] = item, in place when the key exists so a rewritten file keeps its field order.
 * Always takes item (NULL, from a failed cJSON_Create*, is -ENOMEM). 0 or -ENOMEM. */
int account_json_set(cJSON *obj, const char *key, cJSON *item);

/* "name (id8)" with control characters replaced by '?'. out holds >= 256 bytes. */
void account_label(const struct account *a, char *out, size_t outsz);

/*
 * Identity (issue #2): ChatGPT accounts are the same when (chatgpt_user_id, chatgpt_account_id)
 * are equal, or, when either lacks the user id, when their refresh tokens are equal.
 * API-key accounts are the same when their keys are equal.
 */
bool account_same_identity(const struct account *a, const struct account *b);

/*
 * Fills email, plan, user id, account id, fedramp and subscription expiry of a from the claims
 * of its id token (the account id is kept when the token has none). -EINVAL on a malformed token.
 */
int account_apply_id_token(struct account *a);

#endif
