#include "commands.h"
#include "log.h"

#define NOT_YET(fn)                                    \
	int fn(int argc, char **argv)                  \
	{                                              \
		(void)argc;                            \
		(void)argv;                            \
		log_error("%s is not built yet", #fn); \
		return EXIT_FAIL;                      \
	}
NOT_YET(cmd_list)
NOT_YET(cmd_import)
NOT_YET(cmd_export)
NOT_YET(cmd_switch)
NOT_YET(cmd_rename)
NOT_YET(cmd_delete)
NOT_YET(cmd_enable)
NOT_YET(cmd_disable)
