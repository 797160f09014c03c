/*
 * h_contrib: a contributor opts in with an EIP-712 consent signed by their wallet, may revoke
 * it before the release, and submits one sealed record. The server opens the record only in
 * secure memory to validate it against the schema, then stores the ciphertext alone.
 */
#include "crypto/crypto.h"
#include "db/market_db.h"
#include "http/handlers.h"
#include "market/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coh_http_request_id(struct coh_http_req *req, char out[67]);

/* A consent of the given version for req->account on request v; owns the privacy summary. */
struct consent {
    coh_crypto_consent c;
    char *privacy; /* malloc'd (version 2) */
};

/*
 * Fills the consent of `version` for account on request v: version 2 signs the terms (their
 * hash and privacy summary, computed here from the stored request), version 1 the schema's
 * hash stored with the request (wave 1's consents, still verified). 0 or -1.
 */
static int consent_of(struct consent *k, const json_t *v, const char *account, unsigned version)
{
    memset(k, 0, sizeof *k);
    coh_crypto_consent *c = &k->c;
    coh_err err = {0};
    c->version = version;
    c->purpose = json_string_value(json_object_get(v, "purpose"));
    c->expiry = (uint64_t)json_integer_value(json_object_get(v, "consent_expiry"));
    if (!c->purpose ||
        coh_hex_decode_exact(c->request_id, 32, json_string_value(json_object_get(v, "id"))) ||
        coh_crypto_uint256_from_dec(c->reward, json_string_value(json_object_get(v, "reward"))) ||
        coh_crypto_address_parse(c->contributor, account))
        return -1;
    if (version == 1)
        return coh_hex_decode_exact(c->fields_hash, 32,
                                    json_string_value(json_object_get(v, "fields_hash")))
                   ? -1
                   : 0;
    if (coh_market_terms_hash(c->terms_hash, v, &err) ||
        coh_market_terms_summary(&k->privacy, v, &err))
        return -1;
    c->privacy = k->privacy;
    return 0;
}

static void consent_clear(struct consent *k)
{
    free(k->privacy);
    memset(k, 0, sizeof *k);
}

static void verifying_contract(const struct coh_http_req *req, uint8_t out[20])
{
    memset(out, 0, 20);
    const char *a = coh_config_str(req->app->config, "rewards_contract");
    if (a && *a && coh_crypto_address_parse(out, a) != 0)
        memset(out, 0, 20);
}

/*
 * Loads the request and checks the signed-in account may act on it as a contributor. With
 * for_intake the object also carries the wrapped secret key: never send it to the client.
 */
static json_t *contributor_request_ex(struct coh_http_req *req, char id[67], int for_intake)
{
    if (!coh_http_auth_require(req) || !coh_http_request_id(req, id))
        return NULL;
    coh_err err = {0};
    json_t *v = for_intake ? coh_db_request_get_for_intake(req->app->db, id, &err)
                           : coh_db_request_get(req->app->db, id, req->account, &err);
    if (!v) {
        coh_http_send_err(req, &err);
        return NULL;
    }
    if (strcmp(json_string_value(json_object_get(v, "owner")), req->account) == 0) {
        json_decref(v);
        coh_http_problem(req, COH_PROBLEM_FORBIDDEN,
                         "a researcher cannot contribute to their own request");
        return NULL;
    }
    return v;
}

static json_t *contributor_request(struct coh_http_req *req, char id[67])
{
    return contributor_request_ex(req, id, 0);
}

/* Who signed digest with sig (65 bytes); 0, or a COH_CRYPTO_E* code. */
static int signer_of(uint8_t signer[20], const coh_crypto_consent *c, const uint8_t *sig,
                     uint64_t chain_id, const uint8_t contract[20])
{
    uint8_t digest[32];
    coh_crypto_consent_hash(digest, NULL, NULL, chain_id, contract, c);
    return coh_crypto_recover(signer, digest, sig, 65);
}

/*
 * The consent as anyone may verify it: the stored row, the typed data its signature is over
 * (of the stored version; version 2 when none is stored yet), and for version 2 the terms
 * whose RFC 8785 JSON hashes to termsHash, so the signer can check what they sign.
 */
static json_t *consent_view(struct coh_http_req *req, json_t *stored, const json_t *v)
{
    json_t *ver = json_object_get(stored, "version");
    unsigned version = json_is_integer(ver) && json_integer_value(ver) == 1 ? 1 : 2;
    struct consent k;
    uint8_t contract[20];
    verifying_contract(req, contract);
    coh_err err = {0};
    int ok = consent_of(&k, v, req->account, version) == 0;
    /* A stored version-2 consent is shown as signed: its own terms hash, summary and expiry. */
    const char *th = json_string_value(json_object_get(stored, "terms_hash"));
    const char *pv = json_string_value(json_object_get(stored, "privacy"));
    if (ok && version == 2 && th && pv) {
        free(k.privacy);
        k.privacy = strdup(pv);
        k.c.privacy = k.privacy;
        k.c.expiry = (uint64_t)json_integer_value(json_object_get(stored, "expiry"));
        ok = k.privacy && coh_hex_decode_exact(k.c.terms_hash, 32, th) == 0;
    }
    /* One shape whether or not a consent exists (docs/API.md): status none, given or
     * revoked, and every member present, null when there is nothing to show. */
    static const char *const members[] = {"signature", "expiry",     "version",   "terms_hash",
                                          "privacy",   "created_at", "revoked_at"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        if (!json_object_get(stored, members[i]))
            json_object_set_new(stored, members[i], json_null());
    json_object_set_new(stored, "request_id",
                        json_string(json_string_value(json_object_get(v, "id"))));
    json_object_set_new(stored, "contributor", json_string(req->account));
    json_object_set_new(stored, "status",
                        json_string(json_is_null(json_object_get(stored, "signature")) ? "none"
                                    : json_is_null(json_object_get(stored, "revoked_at"))
                                        ? "given"
                                        : "revoked"));
    json_object_set_new(stored, "typed_data", json_null());
    json_object_set_new(stored, "terms", json_null());
    if (ok) {
        json_object_set_new(stored, "typed_data",
                            coh_crypto_consent_typed_data(coh_http_chain_id(req), contract, &k.c));
        if (version == 2)
            json_object_set_new(stored, "terms", coh_market_terms(v, &err));
    }
    consent_clear(&k);
    return stored;
}

void coh_h_consent_put(struct coh_http_req *req)
{
    char id[67];
    json_t *v = contributor_request(req, id);
    if (!v)
        return;
    json_t *body = coh_http_body_object(req);
    coh_err err = {0};
    json_t *profile = body ? coh_db_profile_get(req->app->db, req->account, &err) : NULL;
    const char *sig_hex = body ? json_string_value(json_object_get(body, "signature")) : NULL;
    uint8_t sig[65], contract[20], signer[20], me[20];
    struct consent k = {0}, old = {0};
    if (!body) {
        /* answered */
    } else if (!profile) {
        coh_http_send_err(req, &err);
    } else if (!json_is_true(json_object_get(profile, "is_contributor"))) {
        coh_http_problem(req, COH_PROBLEM_FORBIDDEN,
                         "add the contributor role to your profile to give consent");
    } else if (!coh_market_within_operator_floors(v, req->app->floors)) {
        coh_http_problem(req, COH_PROBLEM_NOT_ELIGIBLE,
                         "this request is below the operator's privacy floors, raised "
                         "since it was posted; it takes no new consents");
    } else if (!coh_market_match(v, profile)) {
        coh_http_problem(req, COH_PROBLEM_NOT_ELIGIBLE,
                         "your consent profile does not fit this request's eligibility, "
                         "purpose, reward, remaining privacy budget or your own privacy "
                         "floors");
    } else if (!sig_hex || coh_hex_decode(sig, sizeof sig, sig_hex) != 65) {
        coh_http_problem(req, COH_PROBLEM_MALFORMED_SIGNATURE,
                         "signature must be 65 bytes of hex (r || s || v)");
    } else if (consent_of(&k, v, req->account, 2) != 0) {
        coh_http_problem(req, COH_PROBLEM_INVALID, "malformed request data");
    } else {
        /* New consents are version 2: they sign the terms, not only the schema. */
        uint64_t chain = coh_http_chain_id(req);
        verifying_contract(req, contract);
        int rc = signer_of(signer, &k.c, sig, chain, contract);
        if (coh_crypto_address_parse(me, req->account) != 0)
            memset(me, 0, sizeof me);
        uint8_t v1_signer[20];
        char terms_hex[67];
        coh_hex_encode(terms_hex, k.c.terms_hash, 32, 1);
        if (rc == COH_CRYPTO_EHIGHS || rc == COH_CRYPTO_EV || rc == COH_CRYPTO_ESIG) {
            coh_http_problem(req, COH_PROBLEM_MALFORMED_SIGNATURE, "%s", coh_crypto_strerror(rc));
        } else if ((rc || memcmp(signer, me, 20) != 0) &&
                   consent_of(&old, v, req->account, 1) == 0 &&
                   signer_of(v1_signer, &old.c, sig, chain, contract) == 0 &&
                   memcmp(v1_signer, me, 20) == 0) {
            coh_http_problem(req, COH_PROBLEM_OUTDATED_CONSENT,
                             "this is a version-1 consent (the schema's hash only); sign "
                             "the version-2 consent, which names the request's terms and "
                             "privacy, from GET /v1/requests/%s/consents/me",
                             id);
        } else if (rc || memcmp(signer, me, 20) != 0) {
            coh_http_problem(req, COH_PROBLEM_CONSENT_SIGNATURE_MISMATCH,
                             "the signature is not the signed-in wallet's signature of this "
                             "request's version-2 EIP-712 consent (its terms hash, privacy "
                             "summary, purpose, reward and expiry)");
        } else if (coh_db_consent_put(req->app->db, id, req->account, sig_hex,
                                      (long long)k.c.expiry, 2, terms_hex, k.privacy, &err)) {
            coh_http_send_err(req, &err);
        } else {
            json_t *stored = coh_db_consent_get(req->app->db, id, req->account, &err);
            if (stored)
                coh_http_send_json(req, 201, consent_view(req, stored, v));
            else
                coh_http_send_err(req, &err);
        }
    }
    consent_clear(&k);
    consent_clear(&old);
    json_decref(profile);
    json_decref(body);
    json_decref(v);
}

void coh_h_consent_get(struct coh_http_req *req)
{
    char id[67];
    json_t *v = contributor_request(req, id);
    if (!v)
        return;
    coh_err err = {0};
    json_t *stored = coh_db_consent_get(req->app->db, id, req->account, &err);
    if (!stored && err.code == COH_ERR_NOTFOUND) {
        /* No consent yet: show what the wallet would sign. */
        stored = json_pack("{s:n}", "signature");
    }
    if (!stored)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, consent_view(req, stored, v));
    json_decref(v);
}

void coh_h_consent_delete(struct coh_http_req *req)
{
    char id[67];
    json_t *v = contributor_request(req, id);
    if (!v)
        return;
    coh_err err = {0};
    if (coh_db_consent_revoke(req->app->db, id, req->account, &err))
        coh_http_send_err(req, &err);
    else
        coh_http_send_raw(req, 204, "application/json", NULL, "", 0);
    json_decref(v);
}

/* Opens the sealed record under the request's key and validates it; 0 or an error. */
static int validate_sealed(struct coh_http_req *req, const char *id, const json_t *v,
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
        rc = coh_market_intake_check(req->app->master_key, id, wrapped, sizeof wrapped, pk, s, ct,
                                     ct_len, err);
    coh_market_schema_free(s);
    return rc;
}

void coh_h_contribution_put(struct coh_http_req *req)
{
    char id[67];
    json_t *v = contributor_request_ex(req, id, 1);
    if (!v)
        return;
    json_t *body = coh_http_body_object(req);
    const char *sealed = body ? json_string_value(json_object_get(body, "sealed")) : NULL;
    /* 0x hex (docs/API.md); base64 without the 0x is wave 1's form, still accepted. */
    size_t cap = sealed ? strlen(sealed) : 0;
    uint8_t *ct = sealed ? malloc(cap + 1) : NULL;
    long ct_len = !ct                             ? -1
                  : strncmp(sealed, "0x", 2) == 0 ? coh_hex_decode(ct, cap, sealed)
                                                  : coh_base64_decode(ct, cap, sealed);
    coh_err err = {0};
    if (!body) {
        /* answered */
    } else if (!sealed || ct_len < 49 || ct_len > 65536) {
        coh_http_problem(req, COH_PROBLEM_INVALID,
                         "sealed must be 0x hex of crypto_box_seal(record JSON, "
                         "public_key), 49 to 65536 bytes");
    } else if (validate_sealed(req, id, v, ct, (size_t)ct_len, &err) != 0) {
        if (err.code == COH_ERR_INVALID)
            coh_http_problem(req, COH_PROBLEM_INVALID_RECORD, "%s", err.msg);
        else
            coh_http_send_err(req, &err);
    } else if (coh_db_contribution_put(req->app->db, id, req->account, ct, (size_t)ct_len, &err)) {
        coh_http_send_err(req, &err);
    } else {
        coh_http_send_json(req, 201,
                           json_pack("{s:s,s:s,s:I}", "request_id", id, "status", "accepted",
                                     "bytes", (json_int_t)ct_len));
    }
    free(ct);
    json_decref(body);
    json_decref(v);
}

void coh_h_inbox(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    coh_err err = {0};
    json_t *profile = coh_db_profile_get(req->app->db, req->account, &err);
    json_t *open = profile ? coh_db_requests_open_for(req->app->db, req->account, &err) : NULL;
    json_t *notices = open ? coh_db_notices(req->app->db, req->account, &err) : NULL;
    if (!notices) {
        json_decref(profile);
        json_decref(open);
        coh_http_send_err(req, &err);
        return;
    }
    /* Matching happens here, per request, and is never stored: nobody learns who matched. */
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
        if (contributor && (mine || coh_market_within_operator_floors(r, req->app->floors)) &&
            coh_market_match(r, profile))
            json_array_append(matched, item);
    }
    json_decref(open);
    json_decref(profile);
    json_array_foreach(matched, i, item) coh_http_request_out(json_object_get(item, "request"));
    coh_http_send_json(req, 200, json_pack("{s:o,s:o}", "requests", matched, "notices", notices));
}
