/*
 * send: one contract call signed here and broadcast, for the operator's tools and the
 * anchorer: the node's fee suggestion, a transaction from a key at its pending nonce, and the
 * wait for its receipt. The anchorer keeps its own records (it re-sends recorded bytes after a
 * crash); `cohort watch` (veto) and `cohort ledger rotate-key` (setAnchorer) send once and wait.
 */
#include "chain/chain.h"

#include <string.h>
#include <time.h>

int coh_chain_fees(coh_chain_rpc *rpc, uint8_t max_fee[32], uint8_t tip[32], coh_err *err)
{
    json_t *blk;
    int rc = coh_chain_rpc_call(rpc, &blk, "eth_getBlockByNumber", json_pack("[s, b]", "latest", 0),
                                err);
    if (rc)
        return rc;
    uint8_t base[32];
    rc = coh_chain_quantity_parse(base, json_string_value(json_object_get(blk, "baseFeePerGas")));
    json_decref(blk);
    if (rc)
        return coh_err_set(err, COH_CHAIN_ETRANSPORT, "latest block has no baseFeePerGas");
    json_t *t = NULL;
    coh_err ignore = {0};
    if (coh_chain_rpc_call(rpc, &t, "eth_maxPriorityFeePerGas", json_array(), &ignore) != 0 ||
        coh_chain_quantity_parse(tip, json_string_value(t)) != 0)
        coh_u256_from_u64(tip, 1000000000);
    json_decref(t);
    /* max_fee = 2 * base + tip */
    if (coh_u256_mul_u64(max_fee, base, 2) != 0 || coh_u256_add(max_fee, max_fee, tip) != 0)
        return coh_err_set(err, COH_CHAIN_ETRANSPORT, "the node's fees exceed a uint256");
    return 0;
}

int coh_chain_send_call(uint8_t hash[32], coh_chain_rpc *rpc, const coh_secbuf *key,
                        const uint8_t to[20], const uint8_t *data, size_t len, uint64_t gas_limit,
                        coh_err *err)
{
    memset(hash, 0, 32);
    uint8_t from[20];
    uint64_t chain_id = 0, nonce = 0;
    int rc = coh_crypto_address_from_seckey(from, key);
    if (rc)
        return coh_err_set(err, rc, "the signing key is not a valid secp256k1 key");
    if ((rc = coh_chain_rpc_u64(rpc, &chain_id, "eth_chainId", json_array(), err)) ||
        (rc = coh_chain_rpc_u64(rpc, &nonce, "eth_getTransactionCount",
                                json_pack("[o, s]", coh_chain_json_hex(from, 20), "pending"), err)))
        return rc;
    coh_chain_tx tx = {.chain_id = chain_id,
                       .nonce = nonce,
                       .gas_limit = gas_limit,
                       .has_to = 1,
                       .data = data,
                       .data_len = len};
    memcpy(tx.to, to, 20);
    if ((rc = coh_chain_fees(rpc, tx.max_fee, tx.max_priority_fee, err)))
        return rc;
    coh_chain_buf raw;
    coh_chain_buf_init(&raw);
    uint8_t got[32];
    if ((rc = coh_chain_tx_sign(&raw, hash, NULL, &tx, key)) != 0)
        coh_err_set(err, rc, "cannot sign the transaction");
    else
        rc = coh_chain_rpc_send_raw(rpc, got, raw.data, raw.len, err);
    coh_chain_buf_clear(&raw);
    return rc;
}

int coh_chain_wait_receipt(int *ok, uint64_t *block, coh_chain_rpc *rpc, const uint8_t hash[32],
                           long timeout_ms, coh_err *err)
{
    *ok = 0;
    *block = 0;
    for (long waited = 0;; waited += 200) {
        json_t *r;
        int rc = coh_chain_rpc_call(rpc, &r, "eth_getTransactionReceipt",
                                    json_pack("[o]", coh_chain_json_hex(hash, 32)), err);
        if (rc)
            return rc;
        if (!json_is_null(r)) {
            uint64_t st = 0;
            rc = coh_chain_quantity_u64(&st, json_string_value(json_object_get(r, "status"))) ||
                         coh_chain_quantity_u64(block,
                                                json_string_value(json_object_get(r, "blockNumber")))
                     ? coh_err_set(err, COH_CHAIN_ETRANSPORT, "malformed receipt")
                     : 0;
            json_decref(r);
            *ok = rc == 0 && st == 1;
            return rc;
        }
        json_decref(r);
        if (waited >= timeout_ms)
            return coh_err_set(err, COH_CHAIN_ETRANSPORT, "no receipt after %ld ms", timeout_ms);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}
