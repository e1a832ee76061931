/*
 * Configuration files: $CODEX_HOME/config.toml (the one key codex-switch reads from it,
 * chatgpt_base_url) and, once the policy module is in the build, $CODEX_SWITCH_HOME/config.json.
 */
#include <stdlib.h>

#include "net/endpoints.h"
#include "fuzz_common.h"
#ifdef CS_HAVE_POLICY
#include "policy/policy.h"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = NULL;
	const char *path = fuzz_write("config.toml", data, size);

	if (endpoints_toml_string(path, "chatgpt_base_url", &value) == 0) {
		free(value);
	}
#ifdef CS_HAVE_POLICY
	{
		struct policy_config c;
		char err[512];

		path = fuzz_write("config.json", data, size);
		(void)policy_config_load(path, &c, err, sizeof(err));
	}
#endif
	return 0;
}
