/*
 * fuzz_attestation: an attested request's enrollment as a researcher posts it, and an EAS
 * attestation file as a contributor sends it ({"enrollment": ..., "attestation": ...,
 * "data": "0x..."}): the enrollment validated and normalized, the file read and verified under
 * the request's domain, and attestation data (the file's, or the raw "data") decoded by the
 * request's schema and matched against its attested eligibility.
 */
#include "crypto/crypto.h"
#include "fuzz.h"
#include "market/market.h"

static void decode(const json_t *request, const uint8_t *data, size_t len)
{
    json_t *values = NULL;
    coh_err err = {0};
    if (coh_market_attestation_values(&values, request, data, len, &err) == 0) {
        FUZZ_CHECK(json_is_object(values));
        (void)coh_market_attested_mismatch(request, values);
    }
    json_decref(values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, 0, NULL);
    if (!v)
        return 0;
    json_t *norm = NULL;
    coh_err err = {0};
    if (coh_market_attested_enrollment(&norm, json_object_get(v, "enrollment"), &err) == 0) {
        FUZZ_CHECK(json_is_object(norm));
        json_t *request = json_pack("{s:s,s:O}", "id", "0x00", "enrollment", norm);
        coh_crypto_eas_domain d;
        coh_crypto_eas_attestation a;
        if (request && coh_market_eas_domain(&d, request) == 0 &&
            coh_crypto_eas_read(&a, json_object_get(v, "attestation"), &d, &err) == 0) {
            FUZZ_CHECK(a.version == 1 || a.version == 2);
            (void)coh_market_attestation_issuer(request, a.signer);
            decode(request, a.data, a.data_len);
            coh_crypto_eas_clear(&a);
        }
        uint8_t raw[4096];
        const char *hex = json_string_value(json_object_get(v, "data"));
        long n = hex ? coh_hex_decode(raw, sizeof raw, hex) : -1;
        if (request && n >= 0)
            decode(request, raw, (size_t)n);
        json_decref(request);
    }
    json_decref(norm);
    json_decref(v);
    return 0;
}
