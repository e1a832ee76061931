/*
 * Removing a test's temporary directory with everything in it. nftw() needs _GNU_SOURCE (or
 * _XOPEN_SOURCE) defined at the top of the including file, before any header.
 */
#ifndef CS_TEST_TMPDIR_H
#define CS_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int tmpdir_remove_one(const char *path, const struct stat *st, int flag,
                                    struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* Removes dir and its contents; a missing dir is fine. */
static inline void tmpdir_remove(const char *dir)
{
	nftw(dir, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
