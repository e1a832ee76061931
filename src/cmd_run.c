#include "commands.h"
#include "log.h"

int cmd_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_error("run is not built yet");
	return EXIT_FAIL;
}
