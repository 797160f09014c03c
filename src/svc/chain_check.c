/*
 * chain_check: cohortd's start checks against its node (docs/OPERATIONS.md, "Deploying to a
 * real chain"): the node's chain id is the configured chain_id, and the rewards (and token)
 * contract's runtime code is there, with the keccak256 the configuration pins
 * (rewards_code_hash, token_code_hash, written by scripts/deploy.mjs). A wrong endpoint (a
 * mainnet URL in a testnet config, an L2's URL for its L1) or a wrong address would otherwise
 * sign anchors for, or credit deposits from, a chain or a contract the operator never meant.
 *
 * A definite mismatch refuses the start; a node that cannot be asked (down, timing out) is
 * only a warning, so an outage of the node never stops the API: the chain worker retries it
 * and signs with the configured chain id, which another chain's node rejects. Whether the
 * ledger key is the contract's anchorer is not checked here: the key-rotation procedure
 * (docs/KEYS.md) restarts cohortd before the guardian installs the new key, so the worker
 * reports it as its state not_anchorer instead.
 */
#include "svc/svc.h"

#include "chain/chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* keccak256 of the runtime code at addr ("latest"); *empty when there is none. */
static int code_hash(coh_chain_rpc *rpc, uint8_t out[32], int *empty, const uint8_t addr[20],
                     coh_err *err)
{
    json_t *params = json_array();
    json_t *a = coh_chain_json_hex(addr, 20);
    if (!params || !a || json_array_append_new(params, a) ||
        json_array_append_new(params, json_string("latest"))) {
        json_decref(params);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    json_t *res = NULL;
    int rc = coh_chain_rpc_call(rpc, &res, "eth_getCode", params, err);
    if (rc)
        return rc;
    const char *hex = json_string_value(res);
    size_t n = hex ? strlen(hex) : 0;
    if (!hex || n < 2 || n % 2 || hex[0] != '0' || hex[1] != 'x') {
        json_decref(res);
        return coh_err_set(err, COH_CHAIN_ETRANSPORT, "eth_getCode: not a hex string");
    }
    size_t len = (n - 2) / 2;
    uint8_t *code = malloc(len ? len : 1);
    if (!code) {
        json_decref(res);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    rc = len ? coh_hex_decode_exact(code, len, hex) : 0;
    json_decref(res);
    if (rc) {
        free(code);
        return coh_err_set(err, COH_CHAIN_ETRANSPORT, "eth_getCode: not a hex string");
    }
    coh_crypto_keccak256(out, code, len);
    *empty = len == 0;
    free(code);
    return 0;
}

/* One contract: code present, and its hash the pinned one when want_hex is set. */
static int check_contract(coh_chain_rpc *rpc, const char *name, const char *hash_name,
                          const char *addr_hex, const char *want_hex, uint64_t chain_id,
                          coh_err *err)
{
    uint8_t addr[20], got[32], want[32];
    if (coh_crypto_address_parse(addr, addr_hex) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "config: %s is not an address", name);
    if (*want_hex && coh_hex_decode_exact(want, 32, want_hex) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "config: %s is not a hash", hash_name);
    int empty = 0;
    int rc = code_hash(rpc, got, &empty, addr, err);
    if (rc)
        return rc;
    if (empty)
        return coh_err_set(err, COH_ERR_CONFLICT, "chain: %s %s has no code on chain id %llu", name,
                           addr_hex, (unsigned long long)chain_id);
    if (*want_hex && memcmp(got, want, 32) != 0) {
        char got_hex[COH_HASH_HEX_SIZE];
        coh_hex_encode(got_hex, got, 32, 1);
        return coh_err_set(err, COH_ERR_CONFLICT, "chain: %s %s has code hash %s; %s says %s", name,
                           addr_hex, got_hex, hash_name, want_hex);
    }
    return 0;
}

/* The contract's anchorer() is ours, or a key we rotated from (a rotation the guardian has not
 * installed yet); else COH_ERR_CONFLICT naming both. */
static int check_anchorer(coh_chain_rpc *rpc, const struct coh_svc_chain_check *c, coh_err *err)
{
    uint8_t rewards[20], word[32];
    coh_chain_buf data;
    coh_chain_buf_init(&data);
    coh_chain_abi_calldata(&data, "anchorer()", NULL, 0);
    uint8_t *ret = NULL;
    size_t n = 0;
    int rc = coh_crypto_address_parse(rewards, c->rewards) != 0
                 ? coh_err_set(err, COH_ERR_INVALID, "config: rewards_contract is not an address")
             : data.oom ? coh_err_set(err, COH_ERR_NOMEM, "out of memory")
                        : coh_chain_rpc_eth_call(rpc, &ret, &n, rewards, data.data, data.len, err);
    coh_chain_buf_clear(&data);
    if (rc == 0 && coh_chain_abi_get_word(word, ret, n, 0) != 0)
        rc = coh_err_set(err, COH_CHAIN_EABI, "chain: anchorer(): malformed answer");
    free(ret);
    if (rc)
        return rc;
    char onchain[COH_ADDR_HEX_SIZE];
    coh_hex_encode(onchain, word + 12, 20, 1);
    if (strcmp(onchain, c->ledger_address) == 0)
        return 0;
    int retired = 0;
    if ((rc = coh_db_ledger_key_retired(&retired, c->db, onchain, err)) != 0)
        return rc;
    if (retired) {
        coh_log_warn("chain: the contract's anchorer %s is a key this ledger was rotated from; "
                     "anchoring waits for the guardian's setAnchorer(%s)",
                     onchain, c->ledger_address);
        return 0;
    }
    return coh_err_set(err, COH_ERR_CONFLICT,
                       "chain: the rewards contract's anchorer is %s, not this ledger key %s nor "
                       "one it was rotated from",
                       onchain, c->ledger_address);
}

int coh_svc_chain_check(const struct coh_svc_chain_check *c, coh_err *err)
{
    coh_chain_rpc_opts opts = {.timeout_ms = 5000, .retries = 1, .backoff_ms = 200};
    coh_chain_rpc *rpc = coh_chain_rpc_new(c->rpc_url, &opts);
    if (!rpc)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    uint64_t id = 0;
    int rc = coh_chain_rpc_u64(rpc, &id, "eth_chainId", json_array(), err);
    if (rc == 0 && id != c->chain_id)
        rc = coh_err_set(err, COH_ERR_CONFLICT,
                         "chain: chain_rpc_url answers chain id %llu, the configuration says %llu",
                         (unsigned long long)id, (unsigned long long)c->chain_id);
    if (rc == 0)
        rc = check_contract(rpc, "rewards_contract", "rewards_code_hash", c->rewards,
                            c->rewards_code_hash, id, err);
    if (rc == 0 && c->db && c->ledger_address)
        rc = check_anchorer(rpc, c, err);
    if (rc == 0 && *c->token)
        rc = check_contract(rpc, "token_contract", "token_code_hash", c->token, c->token_code_hash,
                            id, err);
    coh_chain_rpc_free(rpc);
    if (rc == COH_CHAIN_ETRANSPORT || rc == COH_CHAIN_ERPC) {
        /* Not a mismatch: the node could not be asked. */
        coh_log_warn("chain: cannot check the node at start (%s); the chain worker retries",
                     err->msg);
        return COH_ERR_UNAVAILABLE;
    }
    return rc;
}
