/*
 * $CODEX_HOME/auth.json (written by codex or by hand). What authjson_read accepts must
 * serialise, and that serialisation must read back.
 */
#include <stdlib.h>
#include <string.h>

#include "store/account.h"
#include "store/authjson.h"
#include "fuzz_common.h"
#include "base/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct account a = {0}, b = {0};
	char err[512];
	const char *path = fuzz_write("auth.json", data, size);
	char *text;

	if (authjson_read(path, &a, err, sizeof(err)) == 0) {
		text = authjson_to_string(&a);
		if (!text) {
			abort();
		}
		path = fuzz_write("auth.json", (const uint8_t *)text, strlen(text));
		free(text);
		if (authjson_read(path, &b, err, sizeof(err)) != 0) {
			abort(); /* we wrote an auth.json we cannot read */
		}
		account_release(&b);
	}
	account_release(&a);
	log_forget_secrets();
	return 0;
}
