/*
 * Classifies a JSON-RPC message from its first bytes, without parsing it all and without building
 * a tree, so the proxy can route a 128 MiB message after reading only its head.
 *
 * The scan walks the top level of one JSON object and skips nested values (strings with escapes,
 * objects, arrays, scalars). It never validates more than it must: it is a router, not a validator.
 */
#ifndef CS_JSONRPC_H
#define CS_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

/* Callers that feed a growing prefix should give up (and treat the message as unknown) past this.
 */
#define JSONRPC_SCAN_MAX (64 * 1024)

enum jsonrpc_kind { JSONRPC_UNKNOWN, JSONRPC_REQUEST, JSONRPC_NOTIFICATION, JSONRPC_RESPONSE };

struct jsonrpc_head {
	enum jsonrpc_kind kind;
	char method[128]; /* decoded; "" when none seen; longer methods are truncated and flagged */
	bool method_truncated;
	char id[128]; /* raw JSON text of the top-level "id" value ("" when none), e.g. "3" */
	bool id_is_string;
	bool id_truncated;
	bool complete; /* the kind is certain: both "method" and "id" were seen, or the object ended
	                */
};

/*
 * Scans the top level of a JSON object of which only the first len bytes are available (final:
 * these are all the bytes there will ever be). Returns 0 when decided (h filled), -EAGAIN when
 * more bytes are needed, -EINVAL when the text is not a JSON object (h then holds what was seen).
 *
 * Decided means one of:
 *  - the object ended: the kind is exact (complete = true);
 *  - "method" and "id" were both seen: a request (complete = true);
 *  - "method" was seen, then the key "params" started: a notification, or a request when "id"
 *    was also seen (complete = false: an "id" could in theory still follow);
 *  - "id" was seen without "method", then "result" or "error" started: a response
 *    (complete = false).
 * Codex writes "id" and "method" before "params"/"result", so the decision comes from the first
 * bytes; the heuristic never needs the rest of a huge message. A caller that must be exact (for
 * example before swallowing a message) rescans the whole message with final = true.
 */
int jsonrpc_scan(const char *data, size_t len, bool final, struct jsonrpc_head *h);

/* True when the head's id is a JSON string whose raw text starts with prefix (no escapes). */
bool jsonrpc_id_has_prefix(const struct jsonrpc_head *h, const char *prefix);

#endif
