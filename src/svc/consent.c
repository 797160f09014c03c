/*
 * consent: a contributor opts in with an EIP-712 consent signed by their wallet. What is
 * checked, in order: the contributor role, the operator's floors (raised since the request was
 * posted: it takes no new consents), the contributor's own eligibility and floors, the
 * signature's form, and that it is the signed-in wallet's signature of the request's
 * version-2 consent (its terms hash, privacy summary, purpose, reward and expiry), and on an
 * invite request a live or newly redeemed invite code, on an attested request an attestation
 * from a listed issuer for this wallet, unexpired, unrevoked, with the attested values the
 * request asks for, whose subject no other wallet has enrolled. A version-1 signature is told apart so
 * the wallet can be asked for the new one.
 */
#include "svc/svc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* A consent of the given version for an account on request v; owns the privacy summary. */
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
        coh_u256_from_dec(c->reward, json_string_value(json_object_get(v, "reward"))) ||
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

/* Who signed the consent with sig (65 bytes); 0, or a COH_CRYPTO_E* code. */
static int signer_of(uint8_t signer[20], const coh_crypto_consent *c, const uint8_t *sig,
                     const struct coh_svc_domain *d)
{
    uint8_t digest[32];
    coh_crypto_consent_hash(digest, NULL, NULL, d->chain_id, d->contract, c);
    return coh_crypto_recover(signer, digest, sig, 65);
}

json_t *coh_svc_consent_view(json_t *stored, const json_t *v, const char *account,
                             const struct coh_svc_domain *d)
{
    json_t *ver = json_object_get(stored, "version");
    unsigned version = json_is_integer(ver) && json_integer_value(ver) == 1 ? 1 : 2;
    struct consent k;
    coh_err err = {0};
    int ok = consent_of(&k, v, account, version) == 0;
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
    json_object_set_new(stored, "contributor", json_string(account));
    json_object_set_new(stored, "status",
                        json_string(json_is_null(json_object_get(stored, "signature")) ? "none"
                                    : json_is_null(json_object_get(stored, "revoked_at"))
                                        ? "given"
                                        : "revoked"));
    json_object_set_new(stored, "typed_data", json_null());
    json_object_set_new(stored, "terms", json_null());
    if (ok) {
        json_object_set_new(stored, "typed_data",
                            coh_crypto_consent_typed_data(d->chain_id, d->contract, &k.c));
        if (version == 2)
            json_object_set_new(stored, "terms", coh_market_terms(v, &err));
    }
    consent_clear(&k);
    return stored;
}

/* A refusal the contributor can act on, named by its problem type (coh_err_reason). */
#define REFUSE(code, reason, ...) (coh_err_set(err, code, __VA_ARGS__), coh_err_reason(err, reason))

/*
 * Has the issuer revoked the attestation off chain (EAS revokeOffchain)? Asked of the operator's
 * EAS contract only, and only for attestations signed in its domain. 0 and *at (0: not
 * revoked), or COH_ERR_UNAVAILABLE: an attestation is never taken unchecked.
 */
static int revoked_at(uint64_t *at, const struct coh_svc_domain *d,
                      const coh_crypto_eas_domain *ed, const coh_crypto_eas_attestation *a,
                      coh_err *err)
{
    *at = 0;
    if (!d->have_eas || ed->chain_id != d->chain_id || memcmp(ed->contract, d->eas_contract, 20))
        return 0;
    if (!d->rpc_url || !*d->rpc_url)
        return coh_err_set(err, COH_ERR_UNAVAILABLE,
                           "the EAS contract cannot be asked about revocations: no chain node");
    coh_chain_rpc_opts o = {.timeout_ms = 5000, .retries = 1, .backoff_ms = 200};
    coh_chain_rpc *rpc = coh_chain_rpc_new(d->rpc_url, &o);
    coh_chain_buf call;
    coh_chain_buf_init(&call);
    coh_chain_abi_arg args[] = {coh_chain_abi_address(a->signer), coh_chain_abi_bytes32(a->uid)};
    uint8_t *ret = NULL;
    size_t n = 0;
    coh_err e = {0};
    int rc = rpc ? 0 : COH_ERR_NOMEM;
    if (!rc)
        coh_chain_abi_calldata(&call, "getRevokeOffchain(address,bytes32)", args, 2);
    if (!rc && (call.oom ||
                coh_chain_rpc_eth_call(rpc, &ret, &n, d->eas_contract, call.data, call.len, &e) ||
                coh_chain_abi_get_u64(at, ret, n, 0) != 0))
        rc = COH_ERR_UNAVAILABLE;
    free(ret);
    coh_chain_buf_clear(&call);
    coh_chain_rpc_free(rpc);
    if (rc)
        return coh_err_set(err, COH_ERR_UNAVAILABLE,
                           "the EAS contract could not be asked whether the attestation was "
                           "revoked; try again later");
    return 0;
}

/*
 * Checks account's attestation for attested request v and fills what the consent binds. The
 * order puts what needs no chain first; every refusal says what to do about it.
 */
static int check_attestation(struct coh_db_attested *out, coh_db_pool *db, const json_t *v,
                             const char *account, const json_t *file,
                             const struct coh_svc_domain *d, int64_t now_s, coh_err *err)
{
    coh_crypto_eas_domain ed;
    coh_crypto_eas_attestation a;
    coh_err e = {0};
    uint8_t me[20], want[32];
    const json_t *enrol = json_object_get(v, "enrollment");
    const char *subject = json_string_value(json_object_get(enrol, "subject"));
    if (!file || json_is_null(file))
        return REFUSE(COH_ERR_FORBIDDEN, "attestation-required",
                      "this request takes attested contributors only: send an attestation from "
                      "one of its issuers (\"attestation\") with your consent");
    if (coh_market_eas_domain(&ed, v) != 0 || !subject ||
        coh_hex_decode_exact(want, 32, json_string_value(json_object_get(enrol, "schema_uid"))) ||
        coh_crypto_address_parse(me, account) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "malformed request data");
    if (coh_crypto_eas_read(&a, file, &ed, &e) != 0)
        return REFUSE(COH_ERR_INVALID, "attestation-invalid", "%s", e.msg);
    char who[COH_ADDR_HEX_SIZE];
    const char *unaccepted = NULL;
    int rc = 0;
    json_t *values = NULL;
    uint64_t rev = 0;
    int listed = 0;
    coh_hex_encode(who, a.signer, 20, 1);
    if (memcmp(a.schema, want, 32) != 0) {
        rc = REFUSE(COH_ERR_INVALID, "attestation-invalid",
                    "the attestation is of another schema than this request's (%.66s)",
                    json_string_value(json_object_get(enrol, "schema_uid")));
    } else if (!coh_market_attestation_issuer(v, a.signer)) {
        rc = REFUSE(COH_ERR_FORBIDDEN, "attestation-refused",
                    "the attestation is signed by %s, which is not one of this request's issuers",
                    who);
    } else if (memcmp(a.recipient, me, 20) != 0) {
        rc = REFUSE(COH_ERR_FORBIDDEN, "attestation-refused",
                    "the attestation was made for another wallet; ask the issuer for one naming "
                    "yours");
    } else if (a.time > (uint64_t)now_s + 300) {
        rc = REFUSE(COH_ERR_INVALID, "attestation-invalid", "the attestation is dated in the future");
    } else if (a.expiration_time && a.expiration_time <= (uint64_t)now_s) {
        rc = REFUSE(COH_ERR_FORBIDDEN, "attestation-refused",
                    "the attestation expired (at %llu, unix time); ask the issuer for a new one",
                    (unsigned long long)a.expiration_time);
    } else if ((rc = coh_market_attestation_values(&values, v, a.data, a.data_len, &e)) != 0) {
        rc = REFUSE(COH_ERR_INVALID, "attestation-invalid", "%s", e.msg);
    } else if ((unaccepted = coh_market_attested_mismatch(v, values)) != NULL) {
        rc = REFUSE(COH_ERR_FORBIDDEN, "attestation-refused",
                    "the attestation's %s is not one this request accepts", unaccepted);
    } else if ((rc = coh_db_attestation_revoked(&listed, db, who, a.uid, err)) == 0 && listed) {
        rc = REFUSE(COH_ERR_FORBIDDEN, "attestation-refused",
                    "the issuer revoked this attestation (its signed revocation list)");
    } else if (!rc && (rc = revoked_at(&rev, d, &ed, &a, err)) == 0 && rev) {
        rc = REFUSE(COH_ERR_FORBIDDEN, "attestation-refused", "the issuer revoked this attestation");
    }
    if (!rc && !d->master)
        rc = coh_err_set(err, COH_ERR_UNAVAILABLE, "no master key");
    if (!rc) {
        uint8_t key[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256(key, (const uint8_t *)"cohort/attested-subject/1", 25,
                               coh_secbuf_data((coh_secbuf *)d->master));
        coh_market_subject_hash(out->subject_hash, key,
                                json_string_value(json_object_get(v, "id")),
                                json_string_value(json_object_get(values, subject)));
        sodium_memzero(key, sizeof key);
        memcpy(out->uid, a.uid, 32);
        memcpy(out->issuer, who, sizeof out->issuer);
        /* Past year 9999 PostgreSQL has no timestamp: such an attestation never expires. */
        out->expires = a.expiration_time > 253402300799ULL ? 0 : a.expiration_time;
    }
    json_decref(values);
    coh_crypto_eas_clear(&a);
    return rc;
}

int coh_svc_consent_give(enum coh_svc_consent_refusal *refusal, coh_db_pool *db,
                         const coh_market_floors *floors, const struct coh_svc_domain *d,
                         const json_t *v, const char *account, const char *sig_hex,
                         const char *code, const json_t *attestation, int64_t now_s,
                         coh_err *err)
{
    *refusal = COH_SVC_CONSENT_OK;
    json_t *profile = coh_db_profile_get(db, account, err);
    if (!profile)
        return err->code;
    uint8_t sig[65], signer[20], me[20], v1_signer[20];
    struct consent k = {0}, old = {0};
    int rc = 0;
    if (!json_is_true(json_object_get(profile, "is_contributor")))
        *refusal = COH_SVC_CONSENT_NOT_CONTRIBUTOR;
    else if (!coh_market_within_operator_floors(v, floors))
        *refusal = COH_SVC_CONSENT_BELOW_FLOORS;
    else if (!coh_market_match(v, profile))
        *refusal = COH_SVC_CONSENT_NOT_ELIGIBLE;
    else if (!sig_hex || coh_hex_decode(sig, sizeof sig, sig_hex) != 65)
        *refusal = COH_SVC_CONSENT_MALFORMED_SIGNATURE;
    else if (consent_of(&k, v, account, 2) != 0)
        *refusal = COH_SVC_CONSENT_MALFORMED_REQUEST;
    json_decref(profile);
    if (*refusal) {
        consent_clear(&k);
        return 0;
    }
    /* New consents are version 2: they sign the terms, not only the schema. */
    int sr = signer_of(signer, &k.c, sig, d);
    if (coh_crypto_address_parse(me, account) != 0)
        memset(me, 0, sizeof me);
    char terms_hex[COH_HASH_HEX_SIZE];
    coh_hex_encode(terms_hex, k.c.terms_hash, 32, 1);
    if (sr == COH_CRYPTO_EHIGHS || sr == COH_CRYPTO_EV || sr == COH_CRYPTO_ESIG) {
        *refusal = COH_SVC_CONSENT_MALFORMED_SIGNATURE;
        coh_err_set(err, sr, "%s", coh_crypto_strerror(sr));
    } else if ((sr || memcmp(signer, me, 20) != 0) && consent_of(&old, v, account, 1) == 0 &&
               signer_of(v1_signer, &old.c, sig, d) == 0 && memcmp(v1_signer, me, 20) == 0) {
        *refusal = COH_SVC_CONSENT_VERSION_1;
    } else if (sr || memcmp(signer, me, 20) != 0) {
        *refusal = COH_SVC_CONSENT_SIGNATURE_MISMATCH;
    } else {
        /* The code is looked up by its hash (the stored form), never compared as text. One
         * that cannot be a code gets a hash no code has: refused like an unknown one. Only
         * after the signature, so an anonymous caller cannot try codes. */
        uint8_t code_hash[32];
        if (code && coh_market_invite_code_hash(code_hash, code) != 0)
            memset(code_hash, 0, sizeof code_hash);
        /* The stored enrollment, not the caller, says whether an attestation is needed. */
        struct coh_db_attested att;
        int attested = strcmp(coh_market_enrollment_mode(v), "attested") == 0;
        if (attested)
            rc = check_attestation(&att, db, v, account, attestation, d, now_s, err);
        if (!rc)
            rc = coh_db_consent_put(db, json_string_value(json_object_get(v, "id")), account,
                                    sig_hex, (long long)k.c.expiry, 2, terms_hex, k.privacy,
                                    code ? code_hash : NULL, attested ? &att : NULL, err);
    }
    consent_clear(&k);
    consent_clear(&old);
    return rc;
}
