/*
 * h_chain: the chain resources. GET /v1/chain (chain id, contract addresses, ledger signer,
 * ledger head, deposit watcher position, the anchorer's health), GET /v1/anchors (anchored
 * batches as proposals: state pending, effective or vetoed, when each becomes claimable, and
 * every transaction sent for them; cursor pagination by id) and GET /v1/claims/{address} (the
 * cumulative amount, Merkle proof and root of the address's leaf in the effective anchor, ready
 * for claim()).
 */
#include "db/db.h"
#include "http/handlers.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A configured address setting as lowercase 0x hex, or NULL when empty or malformed. */
static const char *contract(const struct coh_http_req *req, const char *name,
                            char out[COH_ADDR_HEX_SIZE])
{
    uint8_t a[20];
    const char *v = coh_config_str(req->app->config, name);
    if (!v || !*v || coh_crypto_address_parse(a, v) != 0)
        return NULL;
    coh_hex_encode(out, a, 20, 1);
    return out;
}

void coh_h_chain_info(struct coh_http_req *req)
{
    uint64_t seq = 0;
    uint8_t hash[32];
    char hash_hex[COH_HASH_HEX_SIZE], rewards[COH_ADDR_HEX_SIZE], token[COH_ADDR_HEX_SIZE];
    coh_err err = {0};
    if (coh_db_ledger_head(&seq, hash, req->app->db, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    long long events_block;
    long orphaned;
    if (coh_db_chain_events_status(&events_block, &orphaned, req->app->db, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *anchorer = coh_db_chain_anchorer_json(req->app->db, &err);
    if (!anchorer) {
        coh_http_send_err(req, &err);
        return;
    }
    /* Anchoring only runs with a rewards contract and a node (cohortd.c, start_workers). */
    const char *rpc = coh_config_str(req->app->config, "chain_rpc_url");
    json_t *anchoring =
        *rpc && contract(req, "rewards_contract", rewards)
            ? coh_db_anchoring_json(req->app->db,
                                    coh_config_int(req->app->config, "anchor_interval_s"), &err)
            : json_null();
    if (!anchoring) {
        json_decref(anchorer);
        coh_http_send_err(req, &err);
        return;
    }
    coh_hex_encode(hash_hex, hash, 32, 1);
    const char *signer = req->app->ledger_address[0] ? req->app->ledger_address : NULL;
    json_t *block = events_block >= 0 ? json_integer(events_block) : json_null();
    /* The anchorer row is the leader's whichever instance answers; chain_leader says whether
     * this one leads (null: it runs no chain worker). */
    int leader = coh_db_chain_leader();
    coh_http_send_json(
        req, 200,
        json_pack("{s:I,s:s?,s:{s:s?,s:s?},s:{s:I,s:s},s:{s:o,s:I},s:o,s:o,s:o,s:o}", "chain_id",
                  (json_int_t)coh_http_chain_id(req), "ledger_signer", signer, "contracts",
                  "rewards", contract(req, "rewards_contract", rewards), "token",
                  contract(req, "token_contract", token), "head", "seq", (json_int_t)seq, "hash",
                  hash_hex, "events", "block", block, "orphaned", (json_int_t)orphaned, "anchorer",
                  anchorer, "chain_leader", leader < 0 ? json_null() : json_boolean(leader == 1),
                  "token", coh_svc_token_json(req->app->token), "anchoring", anchoring));
}

void coh_h_anchors(struct coh_http_req *req)
{
    long long after, limit;
    if (coh_http_query_int(req, "after", 0, 0, LLONG_MAX, &after) ||
        coh_http_query_int(req, "limit", 50, 1, 500, &limit))
        return;
    coh_err err = {0};
    json_t *j = coh_db_chain_anchors_json(req->app->read_db, after, (int)limit, &err);
    if (!j) {
        coh_http_send_err(req, &err);
        return;
    }
    coh_http_send_json(req, 200, j);
}

void coh_h_claim(struct coh_http_req *req)
{
    char addr[COH_ADDR_HEX_SIZE], rewards[COH_ADDR_HEX_SIZE];
    if (!coh_http_address_param(req, 0, addr))
        return;
    /* A leaf names what an address was credited: served to that address alone. */
    if (!coh_http_auth_require(req))
        return;
    if (strcmp(req->account, addr) != 0) {
        coh_http_problem(req, COH_PROBLEM_FORBIDDEN,
                         "a claim proof is served only to its own address, signed in");
        return;
    }
    coh_err err = {0};
    json_t *j = coh_svc_claim_json(req->app->db, req->app->claims, addr, &err);
    if (!j) {
        coh_http_send_err(req, &err);
        return;
    }
    json_object_set_new(j, "address", json_string(addr));
    const char *c = contract(req, "rewards_contract", rewards);
    json_object_set_new(j, "contract", c ? json_string(c) : json_null());
    coh_http_send_json(req, 200, j);
}
