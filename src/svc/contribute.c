/*
 * contribute: the intake of a sealed record. The server opens it only in secure memory,
 * validates it against the request's schema (src/market/intake.c), and stores the ciphertext
 * alone; and the inbox, where matching happens per request and is never stored.
 */
#include "svc/svc.h"

#include <string.h>

/* Opens the sealed record under the request's key and validates it; 0 or an error. */
static int validate_sealed(const coh_secbuf *master, const char *id, const json_t *v,
                           const uint8_t *ct, size_t ct_len, coh_err *err)
{
    const char *wh = json_string_value(json_object_get(v, "secret_key_wrapped"));
    uint8_t pk[32], wrapped[COH_MARKET_REQKEY_BYTES];
    coh_market_schema *s = NULL;
    int rc;
    if (!wh || coh_hex_decode_exact(wrapped, sizeof wrapped, wh) ||
        coh_hex_decode_exact(pk, 32, json_string_value(json_object_get(v, "public_key"))))
        rc = coh_err_set(err, COH_ERR_CONFLICT, "the request's key is no longer available");
    else if ((rc = coh_market_schema_parse(&s, json_object_get(v, "schema"), err)) == 0)
        rc = coh_market_intake_check(master, id, wrapped, sizeof wrapped, pk, s, ct, ct_len, err);
    coh_market_schema_free(s);
    return rc;
}

int coh_svc_contribute(coh_db_pool *db, const coh_secbuf *master, const char *id, const json_t *v,
                       const char *contributor, const uint8_t *ct, size_t ct_len, coh_err *err)
{
    /* Invite requests take records only from a wallet whose code is still live: a code the
     * researcher revoked stops a contribution not yet made (one already accepted stays, so a
     * revocation cannot be used to learn whose record it was). */
    if (strcmp(coh_market_enrollment_mode(v), "invite") == 0) {
        int live = 0;
        int rc = coh_db_invite_live(&live, db, id, contributor, err);
        if (rc)
            return rc;
        if (!live) {
            coh_err_set(err, COH_ERR_FORBIDDEN,
                        "this request takes contributors by invitation and your invite code is "
                        "not live (never redeemed, or revoked by the researcher): consent again "
                        "with a valid code");
            return coh_err_reason(err, "invite-code-required");
        }
    }
    int rc = validate_sealed(master, id, v, ct, ct_len, err);
    if (!rc)
        rc = coh_db_contribution_put(db, id, contributor, ct, ct_len, err);
    return rc;
}

json_t *coh_svc_inbox(coh_db_pool *db, const coh_market_floors *floors, const char *account,
                      coh_err *err)
{
    json_t *profile = coh_db_profile_get(db, account, err);
    json_t *open = profile ? coh_db_requests_open_for(db, account, err) : NULL;
    json_t *notices = open ? coh_db_notices(db, account, err) : NULL;
    if (!notices) {
        json_decref(profile);
        json_decref(open);
        return NULL;
    }
    json_t *matched = json_array();
    size_t i;
    json_t *item;
    int contributor = json_is_true(json_object_get(profile, "is_contributor"));
    json_array_foreach(open, i, item)
    {
        /* A request below the operator's floors (raised since it was posted) is offered no
         * more; one already consented to stays, so it can still be revoked. */
        json_t *r = json_object_get(item, "request");
        const char *state = json_string_value(json_object_get(item, "consent"));
        int mine = (state && strcmp(state, "given") == 0) ||
                   json_is_true(json_object_get(item, "contributed"));
        if (contributor && (mine || coh_market_within_operator_floors(r, floors)) &&
            coh_market_match(r, profile))
            json_array_append(matched, item);
    }
    json_decref(open);
    json_decref(profile);
    return json_pack("{s:o,s:o}", "requests", matched, "notices", notices);
}
