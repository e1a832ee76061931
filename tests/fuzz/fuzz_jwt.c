/* JWT claims (the payload of tokens from the store, auth.json and the auth server). */
#include <stdlib.h>

#include "fuzz_common.h"
#include "store/jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = fuzz_cstr(data, size);
	struct jwt_claims c = {0};
	cJSON *payload = NULL;

	if (jwt_claims(token, &c) == 0) {
		jwt_claims_release(&c);
	}
	if (jwt_payload(token, &payload) == 0) {
		if (!cJSON_IsObject(payload)) {
			abort(); /* documented: a JSON object or -EINVAL */
		}
		cJSON_Delete(payload);
	}
	(void)jwt_exp(token);
	free(token);
	return 0;
}
