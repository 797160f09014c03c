/*
 * h_profile: GET/PUT /v1/me/profile. The profile holds the role(s), a display name and the
 * consent profile used for private matching: data categories, coarse attributes (age band,
 * country, sex), accepted purposes, minimum reward, lifetime privacy budget epsilon, and the
 * contributor's own privacy floors (smallest k accepted, largest epsilon per request,
 * statistics only). PUT changes the members it names and keeps the others as stored (null
 * clears min_k and max_epsilon). The rules are src/market/profile.c; storing, svc/profile.c.
 */
#include "crypto/crypto.h"
#include "http/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *profile_view(struct coh_http_req *req, coh_err *err)
{
    json_t *p = coh_db_profile_get(req->app->db, req->account, err);
    if (!p)
        return NULL;
    uint8_t addr[20];
    char address[COH_ADDR_HEX_SIZE], did[COH_CRYPTO_DID_MAX];
    if (coh_crypto_address_parse(addr, req->account) != 0) {
        json_decref(p);
        coh_err_set(err, COH_ERR_DB, "stored address is malformed");
        return NULL;
    }
    coh_hex_encode(address, addr, 20, 1); /* docs/API.md: addresses lowercase */
    coh_crypto_did_format(did, coh_http_chain_id(req), addr);
    json_t *roles = json_array();
    if (json_is_true(json_object_get(p, "is_researcher")))
        json_array_append_new(roles, json_string("researcher"));
    if (json_is_true(json_object_get(p, "is_contributor")))
        json_array_append_new(roles, json_string("contributor"));
    json_t *out = json_pack(
        "{s:s,s:s,s:o,s:O,s:{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O},s:O}", "address", address,
        "did", did, "roles", roles, "display_name", json_object_get(p, "display_name"),
        "consent_profile", "categories", json_object_get(p, "categories"), "attributes",
        json_object_get(p, "attributes"), "purposes", json_object_get(p, "purposes"), "min_reward",
        json_object_get(p, "min_reward"), "lifetime_epsilon",
        json_object_get(p, "lifetime_epsilon"), "epsilon_spent",
        json_object_get(p, "epsilon_spent"), "min_k", json_object_get(p, "min_k"), "max_epsilon",
        json_object_get(p, "max_epsilon"), "statistics_only", json_object_get(p, "statistics_only"),
        "payout_address", json_object_get(p, "payout_address"), "updated_at",
        json_object_get(p, "updated_at"));
    json_decref(p);
    if (!out)
        coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    return out;
}

void coh_h_profile_get(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    coh_err err = {0};
    json_t *v = profile_view(req, &err);
    if (!v)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, v);
}

void coh_h_profile_put(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    json_t *body = coh_http_body_object(req);
    if (!body)
        return;
    coh_err err = {0};
    int rc = coh_svc_profile_put(req->app->db, req->account, body, &err);
    json_decref(body);
    if (rc == COH_ERR_INVALID) {
        coh_http_problem(req, COH_PROBLEM_INVALID, "%s", err.msg);
        return;
    }
    if (rc) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *view = profile_view(req, &err);
    if (!view)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, view);
}
