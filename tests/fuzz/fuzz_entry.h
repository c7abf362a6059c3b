#ifndef MCPCHAT_FUZZ_ENTRY_H
#define MCPCHAT_FUZZ_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points, which each harness defines (libFuzzer ships no header). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
