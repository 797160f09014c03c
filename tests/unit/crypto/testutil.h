/* testutil: shared helpers for the crypto unit tests (vector loading, hex comparison). */
#ifndef COH_CRYPTO_TESTUTIL_H
#define COH_CRYPTO_TESTUTIL_H

#include "crypto/crypto.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef COH_VECTORS_DIR
#error "COH_VECTORS_DIR must point at tests/vectors"
#endif

/* Loads COH_VECTORS_DIR/name; fails the test if it cannot. */
static inline json_t *vec_load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", COH_VECTORS_DIR, name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fail_msg("cannot load %s: %s (line %d)", path, e.text, e.line);
    return j;
}

/* The ethereum.json vectors, loaded once per test binary by vec_setup. */
static json_t *g_vec __attribute__((unused));

static inline int vec_setup(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0); /* as coh_process_harden does in the programs */
    g_vec = vec_load("ethereum.json");
    return 0;
}

static inline int vec_teardown(void **state)
{
    (void)state;
    json_decref(g_vec);
    return 0;
}

/* A section of ethereum.json; fails the test when it is missing. */
static inline json_t *section(const char *name)
{
    json_t *s = json_object_get(g_vec, name);
    assert_non_null(s);
    return s;
}

static inline const char *vstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        fail_msg("vector field %s missing", key);
    return s;
}

/* Decodes 0x-hex into a malloc'd buffer; *len gets the size. */
static inline uint8_t *hexdup(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *b = malloc(n / 2 + 1);
    assert_non_null(b);
    long r = coh_hex_decode(b, n / 2 + 1, hex);
    assert_true(r >= 0);
    *len = (size_t)r;
    return b;
}

static inline void hex32(uint8_t out[32], const char *hex)
{
    assert_int_equal(coh_hex_decode_exact(out, 32, hex), 0);
}

/* Compares bytes with lowercase 0x-hex (case-insensitive on the expected side). */
static inline void assert_hex(const uint8_t *got, size_t len, const char *want)
{
    char *h = malloc(2 * len + 3);
    assert_non_null(h);
    coh_hex_encode(h, got, len, 1);
    int differ = strcasecmp(h, want) != 0;
    if (differ)
        print_error("got  %s\nwant %s\n", h, want);
    free(h);
    if (differ)
        fail();
}

#endif
