/*
 * fuzz_jcs: RFC 8785 canonicalization of any JSON value (request schemas are hashed this way
 * into fieldsHash). Property: canonical output parses back and canonicalizes to itself.
 */
#include "crypto/crypto.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v)
        return 0;
    char *a = NULL;
    size_t alen = 0;
    if (coh_crypto_jcs_serialize(&a, &alen, v) == 0) {
        FUZZ_CHECK(a && strlen(a) <= alen);
        json_t *w = json_loadb(a, alen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!w) /* integral reals of 2^63 and more print as digits jansson's int64 refuses */
            w = json_loadb(a, alen, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL,
                           NULL);
        FUZZ_CHECK(w != NULL);
        char *b = NULL;
        size_t blen = 0;
        FUZZ_CHECK(coh_crypto_jcs_serialize(&b, &blen, w) == 0);
        FUZZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
        uint8_t h[32];
        FUZZ_CHECK(coh_crypto_jcs_keccak(h, w) == 0);
        free(b);
        json_decref(w);
    }
    free(a);
    json_decref(v);
    return 0;
}
