/*
 * accounts.json as store_load reads it. Whatever loads must serialise, and what store_to_string
 * writes must load again with the same number of accounts (a save never produces a file the next
 * start refuses).
 */
#include <stdlib.h>
#include <string.h>

#include "store/account.h"
#include "store/authjson.h"
#include "fuzz_common.h"
#include "base/log.h"
#include "store/paths.h"
#include "store/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static void exercise(const struct store *s)
{
	char label[256], err[256];

	for (size_t i = 0; i < s->n; i++) {
		char *aj = authjson_to_string(&s->accounts[i]);
		account_label(&s->accounts[i], label, sizeof(label));
		free(aj);
		(void)store_find_identity(s, &s->accounts[i]);
	}
	(void)store_select(s, "fuzz", err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct paths p = {0};
	struct store s, again;
	char err[512];
	char *text;
	size_t n;

	p.accounts = strdup(fuzz_write("accounts.json", data, size));
	if (!p.accounts) {
		abort();
	}
	if (store_load(&p, &s, err, sizeof(err)) == 0) {
		exercise(&s);
		n = s.n;
		text = store_to_string(&s);
		store_release(&s);
		if (!text) {
			abort();
		}
		fuzz_write("accounts.json", (const uint8_t *)text, strlen(text));
		free(text);
		if (store_load(&p, &again, err, sizeof(err)) != 0 || again.n != n) {
			abort(); /* a saved store that does not load again */
		}
		store_release(&again);
	}
	free(p.accounts);
	log_forget_secrets();
	return 0;
}
