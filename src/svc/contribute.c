/*
 * contribute: the intake of a sealed record. The server opens it only in secure memory,
 * validates it against the request's schema (src/market/intake.c), and stores the ciphertext
 * alone; and the inbox, where matching happens per request and is never stored: in SQL
 * before the page's limit (db/market.c), then by the C rules (market/match.c) row by row.
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
     * revocation cannot be used to learn whose record it was). Attested ones only from a wallet
     * whose subject is bound and whose attestation has not expired nor been revoked in its
     * issuer's signed list since. */
    const char *mode = coh_market_enrollment_mode(v);
    int invite = strcmp(mode, "invite") == 0, attested = strcmp(mode, "attested") == 0;
    if (invite || attested) {
        int live = 0;
        int rc = invite ? coh_db_invite_live(&live, db, id, contributor, err)
                        : coh_db_attested_live(&live, db, id, contributor, err);
        if (rc)
            return rc;
        if (!live) {
            coh_err_set(err, COH_ERR_FORBIDDEN,
                        invite ? "this request takes contributors by invitation and your invite "
                                 "code is not live (never redeemed, or revoked by the "
                                 "researcher): consent again with a valid code"
                               : "this request takes attested contributors and your attestation "
                                 "is not live (never presented, or expired or revoked since): "
                                 "consent again with a valid one");
            return coh_err_reason(err, invite ? "invite-code-required" : "attestation-required");
        }
    }
    int rc = validate_sealed(master, id, v, ct, ct_len, err);
    if (!rc)
        rc = coh_db_contribution_put(db, id, contributor, ct, ct_len, err);
    return rc;
}

/* The next page's cursor: the last row the SQL returned (also when the C rules dropped it). */
static json_t *inbox_next(const json_t *row)
{
    const json_t *us = json_object_get(row, "created_us");
    const char *id = json_string_value(json_object_get(json_object_get(row, "request"), "id"));
    return json_is_integer(us) && id
               ? json_pack("{s:I,s:s}", "before_us", json_integer_value(us), "before_id", id)
               : json_null();
}

json_t *coh_svc_inbox(coh_db_pool *db, const coh_market_floors *floors, const char *account,
                      const struct coh_svc_inbox_page *page, coh_err *err)
{
    coh_market_floors defaults;
    if (!floors) {
        coh_market_floors_default(&defaults);
        floors = &defaults;
    }
    json_t *profile = coh_db_profile_get(db, account, err);
    int contributor = profile && json_is_true(json_object_get(profile, "is_contributor"));
    /* One row more than the page: whether there is a next page at all. */
    struct coh_db_inbox_query q = {
        .min_k = floors->min_k,
        .eps_num = floors->max_epsilon.num,
        .eps_den = floors->max_epsilon.den,
        .delta_num = floors->max_delta.num,
        .delta_den = floors->max_delta.den,
        .min_dp_contributors = floors->min_dp_contributors,
        .before_us = page->before_us,
        .before_id = page->before_id,
        .limit = page->limit + 1,
        .window = page->window,
    };
    json_t *rows = !profile      ? NULL
                   : contributor ? coh_db_inbox(db, account, profile, &q, err)
                                 : json_array();
    json_t *notices = rows ? coh_db_notices(db, account, err) : NULL;
    if (!notices) {
        json_decref(profile);
        json_decref(rows);
        return NULL;
    }
    size_t n = json_array_size(rows), shown = n > (size_t)page->limit ? (size_t)page->limit : n;
    json_t *next = n > shown ? inbox_next(json_array_get(rows, shown - 1)) : json_null();
    json_t *matched = json_array();
    for (size_t i = 0; i < shown; i++) {
        json_t *item = json_array_get(rows, i);
        /* The SQL matched it; the C rules, the one definition, decide (exact epsilons). A
         * request below the operator's floors (raised since it was posted) is offered no
         * more; one already consented to stays, so it can still be revoked. */
        json_t *r = json_object_get(item, "request");
        const char *state = json_string_value(json_object_get(item, "consent"));
        int mine = (state && strcmp(state, "given") == 0) ||
                   json_is_true(json_object_get(item, "contributed"));
        json_object_del(item, "created_us");
        if ((mine || coh_market_within_operator_floors(r, floors)) && coh_market_match(r, profile))
            json_array_append(matched, item);
    }
    json_decref(rows);
    json_decref(profile);
    return json_pack("{s:o,s:o,s:o,s:i}", "requests", matched, "notices", notices, "next", next,
                     "limit", page->limit);
}
