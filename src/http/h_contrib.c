/*
 * h_contrib: a contributor opts in with an EIP-712 consent signed by their wallet, may revoke
 * it before the release, and submits one sealed record; the inbox. The flows are
 * src/svc/consent.c and src/svc/contribute.c. A contributor's studies (src/db/studies.c).
 */
#include "crypto/crypto.h"
#include "db/db.h"
#include "http/handlers.h"
#include "market/market.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int coh_http_request_id(struct coh_http_req *req, char out[COH_HASH_HEX_SIZE]);

/* The EIP-712 domain consents are signed in: this chain and the rewards contract. */
static void consent_domain(const struct coh_http_req *req, struct coh_svc_domain *d)
{
    memset(d, 0, sizeof *d);
    d->chain_id = coh_http_chain_id(req);
    const char *a = coh_config_str(req->app->config, "rewards_contract");
    if (a && *a && coh_crypto_address_parse(d->contract, a) != 0)
        memset(d->contract, 0, 20);
    const char *eas = coh_config_str(req->app->config, "eas_contract");
    d->have_eas = eas && *eas && coh_crypto_address_parse(d->eas_contract, eas) == 0;
    d->rpc_url = coh_config_str(req->app->config, "chain_rpc_url");
    d->master = req->app->master_key;
}

/*
 * Loads the request and checks the signed-in account may act on it as a contributor. With
 * for_intake the object also carries the wrapped secret key: never send it to the client.
 */
static json_t *contributor_request_ex(struct coh_http_req *req, char id[COH_HASH_HEX_SIZE],
                                      int for_intake)
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

static json_t *contributor_request(struct coh_http_req *req, char id[COH_HASH_HEX_SIZE])
{
    return contributor_request_ex(req, id, 0);
}

void coh_h_consent_put(struct coh_http_req *req)
{
    char id[COH_HASH_HEX_SIZE];
    json_t *v = contributor_request(req, id);
    if (!v)
        return;
    if (coh_http_rate_limited(req, req->app->consent_rate, req->account, "consents")) {
        json_decref(v);
        return;
    }
    json_t *body = coh_http_body_object(req);
    if (!body) {
        json_decref(v);
        return;
    }
    struct coh_svc_domain d;
    consent_domain(req, &d);
    enum coh_svc_consent_refusal refusal = COH_SVC_CONSENT_OK;
    coh_err err = {0};
    /* The invite code, for invite requests, and the attestation, for attested ones (each
     * ignored by the other modes). */
    json_t *code = json_object_get(body, "code");
    json_t *att = json_object_get(body, "attestation");
    int rc = 0;
    if (code && !json_is_string(code) && !json_is_null(code))
        rc = coh_err_set(&err, COH_ERR_INVALID, "code must be a string: your invite code");
    else if (att && !json_is_object(att) && !json_is_null(att))
        rc = coh_err_set(&err, COH_ERR_INVALID,
                         "attestation must be an object: the EAS off-chain attestation file");
    else
        rc = coh_svc_consent_give(&refusal, req->app->db, req->app->floors, &d, v, req->account,
                                  json_string_value(json_object_get(body, "signature")),
                                  json_string_value(code), att, (int64_t)time(NULL), &err);
    json_decref(body);
    json_t *stored = NULL;
    if (rc) {
        coh_http_send_err(req, &err);
    } else if (refusal == COH_SVC_CONSENT_NOT_CONTRIBUTOR) {
        coh_http_problem(req, COH_PROBLEM_FORBIDDEN,
                         "add the contributor role to your profile to give consent");
    } else if (refusal == COH_SVC_CONSENT_BELOW_FLOORS) {
        coh_http_problem(req, COH_PROBLEM_NOT_ELIGIBLE,
                         "this request is below the operator's privacy floors, raised "
                         "since it was posted; it takes no new consents");
    } else if (refusal == COH_SVC_CONSENT_NOT_ELIGIBLE) {
        coh_http_problem(req, COH_PROBLEM_NOT_ELIGIBLE,
                         "your consent profile does not fit this request's eligibility, "
                         "purpose, reward, remaining privacy budget or your own privacy "
                         "floors");
    } else if (refusal == COH_SVC_CONSENT_MALFORMED_SIGNATURE) {
        coh_http_problem(req, COH_PROBLEM_MALFORMED_SIGNATURE, "%s",
                         err.msg[0] ? err.msg : "signature must be 65 bytes of hex (r || s || v)");
    } else if (refusal == COH_SVC_CONSENT_MALFORMED_REQUEST) {
        coh_http_problem(req, COH_PROBLEM_INVALID, "malformed request data");
    } else if (refusal == COH_SVC_CONSENT_VERSION_1) {
        coh_http_problem(req, COH_PROBLEM_OUTDATED_CONSENT,
                         "this is a version-1 consent (the schema's hash only); sign "
                         "the version-2 consent, which names the request's terms and "
                         "privacy, from GET /v1/requests/%s/consents/me",
                         id);
    } else if (refusal == COH_SVC_CONSENT_SIGNATURE_MISMATCH) {
        coh_http_problem(req, COH_PROBLEM_CONSENT_SIGNATURE_MISMATCH,
                         "the signature is not the signed-in wallet's signature of this "
                         "request's version-2 EIP-712 consent (its terms hash, privacy "
                         "summary, purpose, reward and expiry)");
    } else if ((stored = coh_db_consent_get(req->app->db, id, req->account, &err)) == NULL) {
        coh_http_send_err(req, &err);
    } else {
        coh_http_send_json(req, 201, coh_svc_consent_view(stored, v, req->account, &d));
    }
    json_decref(v);
}

void coh_h_consent_get(struct coh_http_req *req)
{
    char id[COH_HASH_HEX_SIZE];
    json_t *v = contributor_request(req, id);
    if (!v)
        return;
    coh_err err = {0};
    json_t *stored = coh_db_consent_get(req->app->db, id, req->account, &err);
    if (!stored && err.code == COH_ERR_NOTFOUND) {
        /* No consent yet: show what the wallet would sign. */
        stored = json_pack("{s:n}", "signature");
    }
    struct coh_svc_domain d;
    consent_domain(req, &d);
    if (!stored)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, coh_svc_consent_view(stored, v, req->account, &d));
    json_decref(v);
}

void coh_h_consent_delete(struct coh_http_req *req)
{
    char id[COH_HASH_HEX_SIZE];
    json_t *v = contributor_request(req, id);
    if (!v)
        return;
    /* Revoking and consenting again share one allowance: a loop of both churns rows too. */
    if (coh_http_rate_limited(req, req->app->consent_rate, req->account, "consents")) {
        json_decref(v);
        return;
    }
    coh_err err = {0};
    if (coh_db_consent_revoke(req->app->db, id, req->account, &err))
        coh_http_send_err(req, &err);
    else
        coh_http_send_raw(req, 204, "application/json", NULL, "", 0);
    json_decref(v);
}

void coh_h_contribution_put(struct coh_http_req *req)
{
    char id[COH_HASH_HEX_SIZE];
    json_t *v = contributor_request_ex(req, id, 1);
    if (!v)
        return;
    if (coh_http_rate_limited(req, req->app->contribution_rate, req->account, "contributions")) {
        json_decref(v);
        return;
    }
    json_t *body = coh_http_body_object(req);
    const char *sealed = body ? json_string_value(json_object_get(body, "sealed")) : NULL;
    /* 0x hex (docs/API.md); base64 without the 0x is wave 1's form, still accepted. */
    size_t cap = sealed ? strlen(sealed) : 0;
    uint8_t *ct = sealed ? malloc(cap + 1) : NULL;
    /* 0x hex (docs/API.md), or wave 1's base64, which may itself begin with "0x" (about one
     * record in 4,096): hex only when all of it is hex. */
    int hex = sealed && strncmp(sealed, "0x", 2) == 0 && cap % 2 == 0 &&
              strspn(sealed + 2, "0123456789abcdefABCDEF") == cap - 2;
    long ct_len = !ct   ? -1
                  : hex ? coh_hex_decode(ct, cap, sealed)
                        : coh_base64_decode(ct, cap, sealed);
    coh_err err = {0};
    if (!body) {
        /* answered */
    } else if (!sealed || ct_len < 49 || ct_len > 65536) {
        coh_http_problem(req, COH_PROBLEM_INVALID,
                         "sealed must be 0x hex of crypto_box_seal(record JSON, "
                         "public_key), 49 to 65536 bytes");
    } else if (coh_svc_contribute(req->app->db, req->app->master_key, id, v, req->account, ct,
                                  (size_t)ct_len, &err) != 0) {
        if (err.code == COH_ERR_INVALID)
            coh_http_problem(req, COH_PROBLEM_INVALID_RECORD, "%s", err.msg);
        else
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

/* GET /v1/me/inbox?limit=&before_us=&before_id=: a page of matches, newest first. */
void coh_h_inbox(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    long long limit, before_us;
    char before_id[COH_HASH_HEX_SIZE];
    if (coh_http_query_int(req, "limit", 50, 1, 200, &limit) ||
        coh_http_query_cursor(req, &before_us, before_id))
        return;
    struct coh_svc_inbox_page page = {
        .limit = (int)limit, .before_us = before_us, .before_id = before_id[0] ? before_id : NULL};
    coh_err err = {0};
    json_t *inbox = coh_svc_inbox(req->app->db, req->app->floors, req->account, &page, &err);
    if (!inbox) {
        coh_http_send_err(req, &err);
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(inbox, "requests"), i, item)
        coh_http_request_out(json_object_get(item, "request"));
    coh_http_send_json(req, 200, inbox);
}

/* GET /v1/me/studies?limit=: the caller's own studies, newest first (one db read). Nothing
 * here is public: it links the caller to the studies they joined. */
void coh_h_me_studies(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    long long limit;
    if (coh_http_query_int(req, "limit", 100, 1, 200, &limit))
        return;
    coh_err err = {0};
    json_t *studies = coh_db_studies(req->app->db, req->account, (int)limit, &err);
    if (!studies) {
        coh_http_send_err(req, &err);
        return;
    }
    coh_http_send_json(req, 200, json_pack("{s:o,s:I}", "studies", studies, "limit", limit));
}

/* POST /v1/attestations/revocations: an issuer's signed revocation list, delivered by anyone;
 * limited per client address like sign-in, since it needs no session. */
void coh_h_attestation_revocations(struct coh_http_req *req)
{
    char key[COH_HTTP_ADDR_MAX + 16];
    snprintf(key, sizeof key, "revocations:%s", req->client);
    if (coh_http_rate_limited(req, req->app->ratelimit, key, "revocation lists"))
        return;
    json_t *body = coh_http_body_object(req);
    if (!body)
        return;
    json_t *out = NULL;
    coh_err err = {0};
    int rc = coh_svc_revocations_post(&out, req->app->db, body, (int64_t)time(NULL), &err);
    json_decref(body);
    if (rc)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, out);
}
