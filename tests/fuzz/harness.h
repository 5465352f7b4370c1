/* Fuzz harnesses: one file per reader of outside input, each defining its entry with FUZZ_TARGET.
 * Built with clang and -DFUZZ_LIBFUZZER (make fuzz), the entry is also libFuzzer's
 * LLVMFuzzerTestOneInput; built with gcc, it is a plain function fuzz_<name>() that
 * tests/unit/test_fuzz_regressions.c calls on every corpus and regression input.
 * A harness returns 0 for any input the reader rejects cleanly and aborts (through
 * FUZZ_CHECK) when a reader accepts an input but gives back something inconsistent. */
#ifndef TESTS_FUZZ_HARNESS_H
#define TESTS_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef FUZZ_LIBFUZZER
#define FUZZ_TARGET(name)                                                       \
    int fuzz_##name(const uint8_t *data, size_t size);                          \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);               \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_##name(data, size); } \
    int fuzz_##name(const uint8_t *data, size_t size)
#else
#define FUZZ_TARGET(name) int fuzz_##name(const uint8_t *data, size_t size)
#endif

/* Aborts with the condition's text: a finding, which libFuzzer keeps as a crash input. */
#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* A folder of this process's own under $TMPDIR (else /dev/shm, else /tmp), created on first use
 * and removed with everything in it at exit: the readers take paths, so inputs are written there. */
const char *fuzz_dir(void);
/* fuzz_dir()/name into path. */
const char *fuzz_path(char *path, size_t len, const char *name);
/* Writes size bytes to fuzz_dir()/name (replacing it) and puts its full path in path. */
void fuzz_write(char *path, size_t len, const char *name, const uint8_t *data, size_t size);
/* Removes fuzz_dir()/name if present (so one input's files never leak into the next). */
void fuzz_remove(const char *name);

#endif
