/*
 * The JSON-RPC messages codex-switch writes itself. Every function returns a new compact JSON
 * string (caller frees; those holding tokens with util_free_secret) or NULL on -ENOMEM.
 */
#ifndef CS_RPCMSG_H
#define CS_RPCMSG_H

#include "store/account.h"

/* Prefix of the ids of our own requests: "codex-switch/<run uuid>/<n>". */
#define RPCMSG_ID_PREFIX "codex-switch/"

/* The clientInfo.name of the codex TUI. */
#define RPCMSG_CLIENT_NAME "codex-tui"

/*
 * initialize for the control connection, with the clientInfo the codex TUI sends
 * ({name:"codex-tui", title:null, version:<codex version>}): the app-server takes the first
 * client's name and version for the originator and User-Agent of all its backend requests.
 * codex_version: the installed codex's (codexver_for_agent()).
 */
char *rpcmsg_initialize(const char *id, const char *codex_version);
char *rpcmsg_initialized(void);

/* account/login/start {type:"chatgptAuthTokens", accessToken, chatgptAccountId, chatgptPlanType} */
char *rpcmsg_login(const char *id, const struct account *a);

/* Result of account/chatgptAuthTokens/refresh; raw_id is the request's id as JSON text. */
char *rpcmsg_refresh_result(const char *raw_id, const struct account *a);

/* {"id":raw_id,"error":{"code":code,"message":message}} */
char *rpcmsg_error(const char *raw_id, int code, const char *message);

/* {"method":"warning","params":{"threadId":null,"message":message}} */
char *rpcmsg_warning(const char *message);

#endif
