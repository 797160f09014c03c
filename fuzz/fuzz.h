/*
 * fuzz: shared helpers of the libFuzzer harnesses (one fuzz_<name>.c per parser that takes
 * outside input). Each harness defines LLVMFuzzerTestOneInput and never keeps state between
 * inputs, so a crash reproduces from its input alone. Built with clang and -DCOH_FUZZ=ON they
 * link libFuzzer; otherwise replay.c gives them a main that runs files and directories once
 * (the ctest regression replay on gcc builds, with or without ASan).
 *
 * FUZZ_CHECK: a property the parser promises (round trips, bounds of returned pointers);
 * a broken property aborts, which libFuzzer reports as a crash with its input.
 */
#ifndef COH_FUZZ_H
#define COH_FUZZ_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Calls a warn_unused_result function whose outcome the harness does not need (gcc does
 * not accept a (void) cast for that). */
#define FUZZ_IGNORE(call)                                                                          \
    do {                                                                                           \
        if (call) {                                                                                \
        }                                                                                          \
    } while (0)

/* As cohortd and the CLI do at start: secure memory needs libsodium initialized. */
__attribute__((constructor)) static void fuzz_sodium_init(void)
{
    if (sodium_init() < 0)
        abort();
}

/* A NUL-terminated malloc'd copy of data (parsers that take C strings). Never NULL. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    for (size_t i = 0; i < size; i++)
        s[i] = (char)data[i];
    s[size] = '\0';
    return s;
}

#endif
