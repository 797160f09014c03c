/*
 * fuzz_siwe: EIP-4361 messages as POST /v1/auth/siwe receives them. Properties: a message that
 * parses keeps its exact bytes (the signature covers them) and formats back to them.
 */
#include "crypto/crypto.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    coh_crypto_siwe_msg m;
    if (coh_crypto_siwe_parse(&m, (const char *)data, size) != 0)
        return 0;
    char *text = NULL;
    size_t len = 0;
    FUZZ_CHECK(m.text_len == size && memcmp(m.text, data, size) == 0);
    FUZZ_CHECK(coh_crypto_siwe_format(&text, &len, &m) == 0);
    /* The ABNF allows a chain id with leading zeros ("Chain ID: 01"), which formats without
     * them; anything else formats back byte for byte, and formatting is idempotent. */
    if (!memmem(data, size, "\nChain ID: 0", 12))
        FUZZ_CHECK(len == size && memcmp(text, data, size) == 0);
    coh_crypto_siwe_msg m2;
    FUZZ_CHECK(coh_crypto_siwe_parse(&m2, text, len) == 0);
    char *text2 = NULL;
    size_t len2 = 0;
    FUZZ_CHECK(coh_crypto_siwe_format(&text2, &len2, &m2) == 0);
    FUZZ_CHECK(len2 == len && memcmp(text, text2, len) == 0);
    free(text2);
    coh_crypto_siwe_msg_clear(&m2);
    free(text);
    uint8_t sig[65] = {0};
    sig[64] = 27;
    coh_crypto_siwe_expect expect = {.domain = "localhost:8080",
                                     .uri = "http://localhost:8080",
                                     .chain_id = 31337,
                                     .now_ms = 1700000000000LL,
                                     .skew_ms = 60000,
                                     .check_issued_at = 1};
    FUZZ_CHECK(coh_crypto_siwe_verify(&m, sig, sizeof sig, &expect) != 0);
    coh_crypto_siwe_msg_clear(&m);
    return 0;
}
