/*
 * The version of the codex binary codex-switch runs, and the range of versions it supports
 * (written once, in scripts/codex-versions; meson compiles them in).
 */
#ifndef CS_CODEXVER_H
#define CS_CODEXVER_H

#include <stddef.h>

#define CODEXVER_OLDEST CS_CODEX_OLDEST /* the first release with every option `run` needs */
#define CODEXVER_PINNED CS_CODEX_PINNED /* what the tests and a fresh install use */
#define CODEXVER_NEWEST CS_CODEX_NEWEST /* the newest release the tests pass on */
#define CODEXVER_MAX    64              /* room for a version, with its NUL */

/*
 * The version in the output of `codex --version` ("codex-cli 0.169.0" -> "0.169.0"): the
 * first word that starts with a digit, up to a space or line end. 0, or -EINVAL when there
 * is none or it does not fit in out.
 */
int codexver_parse(const char *text, char *out, size_t outsz);

/*
 * Compares dotted versions numerically part by part ("0.117.0" < "0.169.0" < "0.169.1");
 * a missing part counts as 0 and a pre-release suffix ("0.170.0-alpha.2") sorts before the
 * release. <0, 0 or >0, like strcmp.
 */
int codexver_cmp(const char *a, const char *b);

/*
 * Asks `<bin> --version` (blocking, up to 15 s: never on the event loop) and parses it into
 * out. 0, -ENOENT when bin cannot be started, -EINVAL when it failed or printed no version.
 */
int codexver_query(const char *bin, char *out, size_t outsz);

/*
 * The version of the codex this process works with, asked once and kept: the first call asks
 * bin (NULL: $CODEX_SWITCH_CODEX_BIN, else "codex"); later calls return the kept answer
 * whatever they pass. NULL when codex could not be asked. The first call blocks like
 * codexver_query. Thread-safe; the string lives as long as the process.
 */
const char *codexver_installed(const char *bin);

/*
 * Starts the first codexver_installed() query on a thread of its own, so that `codex
 * --version` (some 70 ms for the npm codex) runs while the caller starts other processes;
 * the next codexver_installed() waits for its answer. The thread has every signal blocked.
 * 0 (also when a query already ran or runs), or -errno when no thread could be made (then
 * the next codexver_installed() asks itself). A process that forks after this has a thread.
 */
int codexver_prefetch(const char *bin);

/*
 * The version to introduce ourselves with, as codex would: codexver_installed(NULL), or
 * CODEXVER_PINNED when codex is not installed. Never NULL.
 */
const char *codexver_for_agent(void);

#endif
