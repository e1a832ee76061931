/*
 * Entry points of the subcommands. Each takes the arguments after the command name
 * (argv[0] is the command name) and returns the process exit status:
 * 0 success, 1 failure, 2 usage error.
 */
#ifndef CS_COMMANDS_H
#define CS_COMMANDS_H

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

int cmd_list(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_switch(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_enable(int argc, char **argv);
int cmd_disable(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_usage(int argc, char **argv);
int cmd_reset_usage(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_auto_switch(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_complete(int argc, char **argv); /* hidden: __complete accounts */

#endif
