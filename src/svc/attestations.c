/*
 * attestations: issuers' signed revocation lists (docs/PRIVACY.md, "Attested enrollment"). An
 * issuer whose attestations are signed for an EAS contract cohortd cannot ask revokes them by
 * signing Revocations(issuer, uids, time); anyone may deliver the list, the signature is the
 * authority. Only issuers an attested request lists are stored, so strangers' keys cannot fill
 * the table; a revocation is never undone.
 */
#include "svc/svc.h"

#include <stdlib.h>
#include <string.h>

#define REVOCATIONS_MAX 1000

int coh_svc_revocations_post(json_t **out, coh_db_pool *db, const json_t *body, int64_t now_s,
                             coh_err *err)
{
    *out = NULL;
    const char *issuer = json_string_value(json_object_get(body, "issuer"));
    const char *sig_hex = json_string_value(json_object_get(body, "signature"));
    const json_t *list = json_object_get(body, "uids");
    const json_t *time = json_object_get(body, "time");
    uint8_t who[20], sig[65], digest[32], signer[20];
    size_t n = json_array_size(list);
    if (!issuer || coh_crypto_address_parse(who, issuer) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "issuer must be the issuer's address");
    if (!json_is_array(list) || n < 1 || n > REVOCATIONS_MAX)
        return coh_err_set(err, COH_ERR_INVALID,
                           "uids must be an array of 1 to %d attestation uids", REVOCATIONS_MAX);
    if (!json_is_integer(time) || json_integer_value(time) < 0 ||
        json_integer_value(time) > now_s + 300)
        return coh_err_set(err, COH_ERR_INVALID,
                           "time must be when the list was signed, in unix seconds, not in the "
                           "future");
    if (!sig_hex || coh_hex_decode(sig, sizeof sig, sig_hex) != 65)
        return coh_err_set(err, COH_ERR_INVALID, "signature must be 65 bytes of 0x hex");
    uint8_t(*uids)[32] = malloc(n * 32);
    if (!uids)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *u = json_string_value(json_array_get(list, i));
        if (!u || strncmp(u, "0x", 2) != 0 || coh_hex_decode_exact(uids[i], 32, u) != 0)
            rc = coh_err_set(err, COH_ERR_INVALID, "uids[%zu] must be 0x and 64 hex digits", i);
    }
    if (!rc)
        rc = coh_crypto_eas_revocations_digest(digest, who, (const uint8_t(*)[32])uids, n,
                                               (uint64_t)json_integer_value(time), err);
    if (!rc && (coh_crypto_recover(signer, digest, sig, 65) != 0 || memcmp(signer, who, 20))) {
        coh_err_set(err, COH_ERR_FORBIDDEN,
                    "the signature is not the issuer's signature of this revocation list");
        rc = coh_err_reason(err, "forbidden");
    }
    char hex[COH_ADDR_HEX_SIZE];
    coh_hex_encode(hex, who, 20, 1);
    int listed = 0;
    long added = 0;
    if (!rc)
        rc = coh_db_attestation_revocations_put(&listed, &added, db, hex,
                                                (const uint8_t(*)[32])uids, n,
                                                (uint64_t)json_integer_value(time), err);
    free(uids);
    if (!rc && !listed) {
        coh_err_set(err, COH_ERR_FORBIDDEN,
                    "%s is not an issuer any attested request lists: nothing to revoke here",
                    hex);
        rc = coh_err_reason(err, "forbidden");
    }
    if (rc)
        return rc;
    *out = json_pack("{s:s,s:I,s:I}", "issuer", hex, "uids", (json_int_t)n, "revoked_now",
                     (json_int_t)added);
    return *out ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}
