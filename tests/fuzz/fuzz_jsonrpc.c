/*
 * The proxy's top-level JSON-RPC classifier on arbitrary bytes. It reads exactly len bytes (the
 * input is not NUL-terminated, so ASan sees any overread), and a decision it calls certain on a
 * prefix must agree with the decision on the whole message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proxy/jsonrpc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static void check_head(const struct jsonrpc_head *h)
{
	if (strnlen(h->method, sizeof(h->method)) == sizeof(h->method) ||
	    strnlen(h->id, sizeof(h->id)) == sizeof(h->id)) {
		abort(); /* not NUL-terminated */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_head whole, part;
	size_t cut;
	int rw, rp;

	/* The first byte chooses where the message is cut for the prefix scan. */
	if (size < 1) {
		return 0;
	}
	cut = size > 1 ? data[0] % size : 0;
	data++;
	size--;
	rw = jsonrpc_scan((const char *)data, size, true, &whole);
	check_head(&whole);
	if (rw == -EAGAIN) {
		abort(); /* final: every byte is there, so the scan must decide */
	}
	rp = jsonrpc_scan((const char *)data, cut, false, &part);
	check_head(&part);
	if (rw == 0 && rp == 0 && part.complete && whole.complete && part.kind != whole.kind) {
		abort();
	}
	(void)jsonrpc_id_has_prefix(&whole, "codex-switch/");
	(void)jsonrpc_id_has_prefix(&part, "");
	return 0;
}
