/*
 * A temporary CODEX_SWITCH_HOME (<dir>/store) and CODEX_HOME with the real store paths, for unit
 * tests. nftw() (tmpdir.h) needs _GNU_SOURCE defined at the top of the including file.
 */
#ifndef CS_TEST_TMPSTORE_H
#define CS_TEST_TMPSTORE_H

#include "base/util.h"
#include "store/paths.h"

#include "tmpdir.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Creates dir (a mkdtemp() template, filled in place) and points CODEX_SWITCH_HOME at dir/store
 * and CODEX_HOME at dir/codex_sub (dir itself when codex_sub is NULL); then fills paths (free it
 * with tmpstore_teardown) and, with ensure_store, creates the store directory. 0 or -1.
 */
static inline int tmpstore_setup(char *dir, const char *codex_sub, bool ensure_store,
                                 struct paths *paths)
{
	char *v;

	if (!mkdtemp(dir)) {
		return -1;
	}
	v = util_printf("%s/store", dir);
	setenv("CODEX_SWITCH_HOME", v, 1);
	free(v);
	v = codex_sub ? util_printf("%s/%s", dir, codex_sub) : strdup(dir);
	setenv("CODEX_HOME", v, 1);
	free(v);
	if (paths_init(paths)) {
		return -1;
	}
	return ensure_store && paths_ensure_store(paths) ? -1 : 0;
}

/* Releases paths and removes dir with everything in it. */
static inline void tmpstore_teardown(char *dir, struct paths *paths)
{
	paths_release(paths);
	tmpdir_remove(dir);
}

#endif
