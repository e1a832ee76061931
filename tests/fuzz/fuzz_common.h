/*
 * Shared by the libFuzzer harnesses: a NUL-terminated copy of the input (the parsers take C
 * strings), a private scratch directory for the parsers that read files, and quiet logging.
 */
#ifndef CS_FUZZ_COMMON_H
#define CS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'ed NUL-terminated copy of data (caller frees); aborts when out of memory. */
char *fuzz_cstr(const uint8_t *data, size_t size);
/* Sets up quiet logging and the scratch directory; call from LLVMFuzzerInitialize. */
void fuzz_init(void);
/* Path of a file named name in the scratch directory (static storage). */
const char *fuzz_path(const char *name);
/* Writes data to fuzz_path(name), replacing it (plain write: the parsers are under test). */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

#endif
