/*
 * h_requests: researchers post and close dataset requests; anyone browses them; only the
 * owner fetches the release. Creation is src/svc/requests.c.
 */
#include "crypto/crypto.h"
#include "db/db.h"
#include "http/handlers.h"
#include "market/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int coh_http_request_id(struct coh_http_req *req, char out[COH_HASH_HEX_SIZE])
{
    const char *id = coh_http_param(req, 0);
    uint8_t raw[32];
    if (coh_hex_decode_exact(raw, 32, id) != 0 || strncmp(id, "0x", 2) != 0) {
        coh_http_problem(req, COH_PROBLEM_NOT_FOUND,
                         "a request id is 0x followed by 64 hex digits");
        return 0;
    }
    coh_hex_encode(out, raw, 32, 1);
    return 1;
}

/* The roles of the signed-in account, from its profile. */
static int has_role(struct coh_http_req *req, const char *role)
{
    coh_err err = {0};
    json_t *p = coh_db_profile_get(req->app->db, req->account, &err);
    int ok = p && json_is_true(json_object_get(
                      p, strcmp(role, "researcher") == 0 ? "is_researcher" : "is_contributor"));
    json_decref(p);
    return ok;
}

/* The body of a request a signed-in researcher posts or previews; NULL when answered. */
static json_t *researcher_body(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return NULL;
    if (!has_role(req, "researcher")) {
        coh_http_problem(req, COH_PROBLEM_FORBIDDEN,
                         "only researchers post requests: add the researcher role to your "
                         "profile (PUT /v1/me/profile)");
        return NULL;
    }
    json_t *body = coh_http_body_object(req);
    /* An attested request that names no EAS domain takes the operator's EAS contract. */
    json_t *e = json_object_get(body, "enrollment");
    const char *eas = coh_config_str(req->app->config, "eas_contract");
    const char *mode = json_string_value(json_object_get(e, "mode"));
    if (mode && strcmp(mode, "attested") == 0 && !json_object_get(e, "eas") && eas && *eas)
        json_object_set_new(e, "eas",
                            json_pack("{s:s,s:s,s:I}", "address", eas, "version",
                                      coh_config_str(req->app->config, "eas_version"), "chain_id",
                                      (json_int_t)coh_http_chain_id(req)));
    return body;
}

/* POST /v1/requests/preview: the creation's checks and what the request would be, nothing
 * stored. Signed-in researchers only, like creation. */
void coh_h_requests_preview(struct coh_http_req *req)
{
    json_t *body = researcher_body(req);
    if (!body)
        return;
    coh_err err = {0};
    json_t *out = NULL;
    int rc = coh_market_request_preview(&out, body, (int64_t)time(NULL), req->app->floors, &err);
    json_decref(body);
    if (rc == COH_ERR_INVALID) {
        coh_http_problem(req, COH_PROBLEM_INVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (rc) {
        coh_http_send_err(req, &err);
        return;
    }
    coh_http_request_out(json_object_get(out, "terms"));
    coh_http_send_json(req, 200, out);
}

void coh_h_requests_create(struct coh_http_req *req)
{
    json_t *body = researcher_body(req);
    if (!body)
        return;
    /* Every attempt counts, refused ones too: thousands of requests cost hours, not seconds. */
    if (coh_http_rate_limited(req, req->app->create_rate, req->account, "requests created")) {
        json_decref(body);
        return;
    }
    coh_err err = {0};
    char id[COH_HASH_HEX_SIZE];
    json_t *codes = NULL;
    int rc = coh_svc_request_create(id, &codes, req->app->db, req->app->master_key,
                                    req->app->ledger_key, req->app->floors, req->account, body,
                                    (int64_t)time(NULL), &err);
    json_decref(body);
    if (rc == COH_ERR_INVALID) {
        coh_http_problem(req, COH_PROBLEM_INVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (rc == COH_ERR_LIMIT) {
        coh_http_problem(req, COH_PROBLEM_INSUFFICIENT_FUNDS,
                         "the escrow of reward x max_contributors exceeds your available "
                         "balance; deposit tokens first");
        return;
    }
    if (rc) {
        coh_http_send_err(req, &err);
        return;
    }
    /* The invite codes the server made are in this answer only: it keeps their hashes. */
    json_t *view = coh_db_request_get(req->app->db, id, req->account, &err);
    if (!view) {
        json_decref(codes);
        coh_http_send_err(req, &err);
        return;
    }
    json_object_set_new(view, "codes", codes ? codes : json_null());
    coh_http_send_json(req, 201, coh_http_request_out(view));
}

/* Optional bearer token: the viewer, or "" for anonymous browsing. */
static void optional_viewer(struct coh_http_req *req)
{
    if (coh_http_header(req, "Authorization") && !coh_http_auth_require(req))
        req->account[0] = '\x01'; /* sent 401 */
}

void coh_h_requests_list(struct coh_http_req *req)
{
    optional_viewer(req);
    if (req->account[0] == '\x01')
        return;
    char status[16] = "", purpose[48] = "", owner[48] = "", before[40] = "";
    char before_id[COH_HASH_HEX_SIZE];
    long long limit, before_us;
    if (coh_http_query_int(req, "limit", 50, 1, 200, &limit) ||
        coh_http_query_cursor(req, &before_us, before_id))
        return;
    (void)coh_http_query_get(req, "status", status, sizeof status);
    (void)coh_http_query_get(req, "purpose", purpose, sizeof purpose);
    (void)coh_http_query_get(req, "owner", owner, sizeof owner);
    (void)coh_http_query_get(req, "before", before, sizeof before);
    int64_t ms;
    static const char *const statuses[] = {"",         "open",   "closing",
                                           "released", "failed", "cancelled"};
    int ok_status = 0;
    for (size_t i = 0; i < 6; i++)
        ok_status |= strcmp(status, statuses[i]) == 0;
    /* Filters are an address and a purpose slug, or absent. */
    uint8_t oa[20];
    int ok_purpose = strlen(purpose) <= 40;
    for (const char *c = purpose; *c; c++)
        ok_purpose &=
            (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
    /* Any case; mixed case must be a valid EIP-55 checksum (docs/API.md). */
    const char *bad = owner[0] && coh_crypto_address_parse(oa, owner) != 0      ? "owner"
                      : !ok_purpose                                             ? "purpose"
                      : !ok_status                                              ? "status"
                      : before[0] && coh_crypto_rfc3339_parse(&ms, before) != 0 ? "before"
                                                                                : NULL;
    if (bad) {
        coh_http_problem_ext(req, COH_PROBLEM_INVALID_PARAMETER,
                             json_pack("{s:s,s:s}", "parameter", bad, "in", "query"),
                             "'%s' is not valid: owner must be an address (0x + 40 hex, EIP-55 "
                             "when mixed case), purpose a lowercase slug such as "
                             "academic-research, status open, closing, released, failed or "
                             "cancelled, before an RFC 3339 time",
                             bad);
        return;
    }
    if (owner[0])
        coh_hex_encode(owner, oa, 20, 1);
    coh_err err = {0};
    json_t *page = coh_db_requests_list(req->app->db, status, purpose, owner, before, before_us,
                                        before_id[0] ? before_id : NULL, (int)limit, req->account,
                                        &err);
    if (!page) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *list = json_object_get(page, "requests");
    size_t n = json_array_size(list);
    for (size_t i = 0; i < n; i++)
        coh_http_request_out(json_array_get(list, i));
    /* next_before, the older cursor (to the second: it skips requests of the same second), is
     * kept for clients written against it. */
    json_t *last = json_is_null(json_object_get(page, "next")) ? NULL : json_array_get(list, n - 1);
    json_object_set(page, "next_before",
                    last ? json_object_get(last, "created_at") : json_null());
    coh_http_send_json(req, 200, page);
}

void coh_h_requests_get(struct coh_http_req *req)
{
    optional_viewer(req);
    if (req->account[0] == '\x01')
        return;
    char id[COH_HASH_HEX_SIZE];
    if (!coh_http_request_id(req, id))
        return;
    coh_err err = {0};
    json_t *v = coh_db_request_get(req->app->db, id, req->account, &err);
    if (!v) {
        coh_http_send_err(req, &err);
        return;
    }
    /* The domain a contributor's wallet signs new (version-2) consents in; the typed data
     * itself, terms included, is GET /v1/requests/{id}/consents/me. */
    uint8_t contract[20] = {0};
    const char *rc_addr = coh_config_str(req->app->config, "rewards_contract");
    if (rc_addr && *rc_addr && coh_crypto_address_parse(contract, rc_addr) != 0)
        memset(contract, 0, sizeof contract);
    char contract_s[COH_ADDR_HEX_SIZE];
    coh_hex_encode(contract_s, contract, 20, 1);
    json_object_set_new(v, "consent_domain",
                        json_pack("{s:s,s:s,s:I,s:s}", "name", "Cohort", "version", "2", "chainId",
                                  (json_int_t)coh_http_chain_id(req), "verifyingContract",
                                  contract_s));
    coh_http_send_json(req, 200, coh_http_request_out(v));
}

/*
 * Signed in, a well-formed id, an existing request, owned by the caller: otherwise the
 * matching problem is sent and 0 returned. status (16 bytes) gets the request's status.
 */
static int owned_request(struct coh_http_req *req, char id[COH_HASH_HEX_SIZE], char status[16],
                         const char *what)
{
    if (!coh_http_auth_require(req) || !coh_http_request_id(req, id))
        return 0;
    coh_err err = {0};
    json_t *v = coh_db_request_get(req->app->db, id, req->account, &err);
    if (!v) {
        coh_http_send_err(req, &err);
        return 0;
    }
    int mine = strcmp(json_string_value(json_object_get(v, "owner")), req->account) == 0;
    snprintf(status, 16, "%s", json_string_value(json_object_get(v, "status")));
    json_decref(v);
    if (!mine)
        coh_http_problem(req, COH_PROBLEM_FORBIDDEN,
                         "only the researcher who posted a request can %s", what);
    return mine;
}

void coh_h_requests_close(struct coh_http_req *req)
{
    char id[COH_HASH_HEX_SIZE], status[16];
    if (!owned_request(req, id, status, "close it"))
        return;
    coh_err err = {0};
    if (coh_db_request_close(req->app->db, id, req->account, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *v = coh_db_request_get(req->app->db, id, req->account, &err);
    if (!v)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 202, coh_http_request_out(v));
}

void coh_h_requests_release(struct coh_http_req *req)
{
    char id[COH_HASH_HEX_SIZE], status[16];
    if (!owned_request(req, id, status, "fetch its release"))
        return;
    coh_err err = {0};
    json_t *rel = coh_db_release_get(req->app->db, id, req->account, &err);
    if (!rel) {
        if (err.code == COH_ERR_NOTFOUND)
            coh_http_problem(req, COH_PROBLEM_NOT_RELEASED,
                             "the request is %s; a release exists once it has closed and "
                             "its release job has run",
                             status);
        else
            coh_http_send_err(req, &err);
        return;
    }
    char fmt[16] = "json";
    (void)coh_http_query_get(req, "format", fmt, sizeof fmt);
    const char *ctype = json_string_value(json_object_get(rel, "content_type"));
    if (strcmp(fmt, "csv") == 0 && ctype && strcmp(ctype, "text/csv") == 0) {
        const char *content = json_string_value(json_object_get(rel, "content"));
        coh_http_send_raw(req, 200, "text/csv; charset=utf-8",
                          "Content-Disposition: attachment; filename=\"release.csv\"\r\n", content,
                          strlen(content));
        json_decref(rel);
        return;
    }
    coh_http_send_json(req, 200, rel);
}

/* POST /v1/requests/{id}/codes/revoke: the owner revokes invite codes by hash, or every code
 * nobody redeemed; answers counts only. */
void coh_h_requests_codes_revoke(struct coh_http_req *req)
{
    char id[COH_HASH_HEX_SIZE], status[16];
    if (!owned_request(req, id, status, "revoke its invite codes"))
        return;
    json_t *body = coh_http_body_object(req);
    if (!body)
        return;
    json_t *list = json_object_get(body, "code_hashes"),
           *all = json_object_get(body, "all_unredeemed");
    uint8_t(*hashes)[32] = NULL;
    size_t n = 0;
    coh_err err = {0};
    const char *k;
    json_t *x;
    int bad = 0;
    json_object_foreach(body, k, x) bad |= strcmp(k, "code_hashes") && strcmp(k, "all_unredeemed");
    if (bad || (all && !json_is_boolean(all)) || (!list && !json_is_true(all))) {
        coh_http_problem(req, COH_PROBLEM_INVALID,
                         "give code_hashes (the 0x SHA-256 of each code to revoke) or "
                         "\"all_unredeemed\": true, or both");
    } else if (list && coh_market_invite_hashes(&hashes, &n, list, "code_hashes", &err) != 0) {
        coh_http_send_err(req, &err);
    } else {
        json_t *out =
            coh_db_invite_codes_revoke(req->app->db, id, req->account, (const uint8_t(*)[32])hashes,
                                       n, json_is_true(all), &err);
        if (!out)
            coh_http_send_err(req, &err);
        else
            coh_http_send_json(req, 200, out);
    }
    free(hashes);
    json_decref(body);
}
