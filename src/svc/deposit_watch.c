/*
 * deposit_watch: the deposit watcher, run by the chain worker's thread (anchorer.c) at
 * every poll. Deposited and Claimed logs of the rewards contract in blocks with enough
 * confirmations are posted to the ledger once each, identified by transaction hash and their
 * position among the transaction's logs (which a re-mined transaction keeps, unlike its log
 * index). The scanned block and its hash are saved after each range, so restarts resume
 * without a gap, and a reorg deeper than the confirmations is noticed at the next step: the
 * scan rewinds to the newest block the node still agrees on. Events credited from blocks that
 * left the chain are marked orphaned until seen again (GET /v1/chain counts them).
 * With several cohortd on one database it runs in the chain leader alone (anchorer.c, lead()):
 * its cursor is in the database, so a new leader resumes the scan where the last one saved it,
 * and crediting is idempotent should a range be scanned twice across a takeover.
 */
#include "svc/deposit_watch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Logs eth_getLogs returned that were not the rewards contract's Deposited or Claimed. */
static atomic_ulong logs_ignored;

unsigned long coh_db_chain_logs_ignored(void)
{
    return atomic_load(&logs_ignored);
}

void coh_svc_deposit_watch_init(struct coh_svc_deposit_watch *cw, coh_chain_rpc *rpc,
                                const struct coh_svc_chain_worker_config *cfg)
{
    cw->rpc = rpc;
    cw->cfg = cfg;
    coh_crypto_keccak256(cw->topic_deposit, "Deposited(address,uint256)", 26);
    coh_crypto_keccak256(cw->topic_claim, "Claimed(address,uint256,uint256)", 32);
}

/* The node's hash of block n; *found = 0 when it has none (a reorg shortened the chain). */
static int block_hash_at(const struct coh_svc_deposit_watch *cw, uint8_t hash[32], int *found,
                         long long n, coh_err *err)
{
    char q[24];
    snprintf(q, sizeof q, "0x%llx", (unsigned long long)n);
    json_t *blk;
    int rc =
        coh_chain_rpc_call(cw->rpc, &blk, "eth_getBlockByNumber", json_pack("[s, b]", q, 0), err);
    if (rc)
        return rc;
    *found = json_is_object(blk);
    if (*found && coh_hex_decode_exact(hash, 32, json_string_value(json_object_get(blk, "hash"))))
        rc = coh_err_set(err, COH_CHAIN_ETRANSPORT, "eth_getBlockByNumber: malformed block hash");
    json_decref(blk);
    return rc;
}

/*
 * A reorg deeper than the confirmations replaced the block the events cursor stopped at: walks
 * the remembered blocks back to the newest one the node still has, and rewinds there (to the
 * start block when none survives; events keep their identity, so a rescan credits nothing
 * twice). *rewound = 1 when it did. *known = the cursor block's remembered hash (*have = 0 when
 * none: cursor set before 008, or never), for the check at the end of the step.
 */
static int check_reorg(const struct coh_svc_deposit_watch *cw, long long cursor, uint64_t head,
                       int *rewound, uint8_t known_hash[32], int *have, coh_err *err)
{
    *rewound = *have = 0;
    /* Every poll reads only the cursor's own row; the rest are read when it has changed. */
    struct coh_db_chain_block known[COH_DB_CHAIN_SCANNED_KEPT]; /* 10 KiB */
    size_t n = 0;
    int rc = coh_db_chain_scanned(known, 1, &n, cw->cfg->db, "events", cursor, err);
    if (rc || n == 0 || known[0].number != cursor)
        return rc; /* nothing remembered at the cursor: nothing to compare */
    memcpy(known_hash, known[0].hash, 32);
    *have = 1;
    /* A node behind the cursor (resyncing, or a lagging backend) is waited for, not taken for
     * a reorg; a reorg onto a shorter branch is seen once that branch reaches the cursor. */
    if ((long long)head < cursor)
        return 0;
    uint8_t h[32];
    int found = 0;
    if ((rc = block_hash_at(cw, h, &found, cursor, err)) != 0 ||
        (found && memcmp(h, known_hash, 32) == 0))
        return rc; /* the common case: no reorg */
    if ((rc = coh_db_chain_scanned(known, COH_DB_CHAIN_SCANNED_KEPT, &n, cw->cfg->db, "events",
                                   cursor - 1, err)) != 0)
        return rc;
    long long ancestor = cw->cfg->start_block - 1;
    for (size_t i = 0; i < n; i++) {
        if ((rc = block_hash_at(cw, h, &found, known[i].number, err)) != 0)
            return rc;
        if (found && memcmp(h, known[i].hash, 32) == 0) {
            ancestor = known[i].number;
            break;
        }
    }
    long orphaned = 0;
    if ((rc = coh_db_chain_rewind(&orphaned, cw->cfg->db, "events", ancestor, err)) != 0)
        return rc;
    coh_log_warn("chain events: reorg below the confirmations (block %lld changed); rescanning "
                 "from block %lld, %ld credited event(s) orphaned until seen again",
                 cursor, ancestor + 1, orphaned);
    *rewound = 1;
    return 0;
}

/*
 * Whether a log is the rewards contract's Deposited or Claimed event. The request's filter asks
 * the node for exactly these, but the answer is not trusted: a compromised or buggy endpoint
 * could add another contract's identical event, and it must credit nothing.
 */
static int is_ours(const struct coh_svc_deposit_watch *cw, json_t *lg)
{
    uint8_t addr[20], t0[32];
    json_t *topics = json_object_get(lg, "topics");
    return coh_hex_decode_exact(addr, 20, json_string_value(json_object_get(lg, "address"))) == 0 &&
           memcmp(addr, cw->cfg->rewards, 20) == 0 &&
           coh_hex_decode_exact(t0, 32, json_string_value(json_array_get(topics, 0))) == 0 &&
           (memcmp(t0, cw->topic_deposit, 32) == 0 || memcmp(t0, cw->topic_claim, 32) == 0);
}

/* Parses one Deposited/Claimed log; ordinal is its position among the tx's logs here. */
static int parse_log(const struct coh_svc_deposit_watch *cw, struct coh_db_chain_event *ev,
                     json_t *lg)
{
    json_t *topics = json_object_get(lg, "topics");
    const char *data_hex = json_string_value(json_object_get(lg, "data"));
    uint8_t t0[32], t1[32], data[96];
    long dl = coh_hex_decode(data, sizeof data, data_hex ? data_hex : "");
    uint64_t bn, li;
    if (json_array_size(topics) != 2 ||
        coh_hex_decode_exact(t0, 32, json_string_value(json_array_get(topics, 0))) ||
        coh_hex_decode_exact(t1, 32, json_string_value(json_array_get(topics, 1))) || dl < 32 ||
        coh_hex_decode_exact(ev->tx_hash, 32,
                             json_string_value(json_object_get(lg, "transactionHash"))) ||
        coh_hex_decode_exact(ev->block_hash, 32,
                             json_string_value(json_object_get(lg, "blockHash"))) ||
        coh_chain_quantity_u64(&bn, json_string_value(json_object_get(lg, "blockNumber"))) ||
        coh_chain_quantity_u64(&li, json_string_value(json_object_get(lg, "logIndex"))))
        return -1;
    ev->kind = memcmp(t0, cw->topic_deposit, 32) == 0 ? "deposit" : "claim";
    ev->block_number = (long long)bn;
    ev->log_index = (long long)li;
    memcpy(ev->account, t1 + 12, 20);
    memcpy(ev->amount, data, 32);
    if (strcmp(ev->kind, "claim") == 0) {
        if (dl < 64)
            return -1;
        memcpy(ev->cumulative, data + 32, 32); /* Claimed(account, amount, cumulativeAmount) */
    }
    return 0;
}

/* Credits one range's logs, in order; each transaction's logs come together in a range. */
static int credit_logs(const struct coh_svc_deposit_watch *cw, json_t *logs, long long to,
                       const uint8_t to_hash[32], coh_err *err)
{
    uint8_t prev_tx[32] = {0};
    long long ordinal = 0;
    size_t i, foreign = 0;
    int have_prev = 0;
    json_t *lg;
    json_array_foreach(logs, i, lg)
    {
        if (json_is_true(json_object_get(lg, "removed")))
            continue;
        if (!is_ours(cw, lg)) {
            /* Counted, never credited, and not given an ordinal (ours keep their numbering). */
            atomic_fetch_add(&logs_ignored, 1);
            foreign++;
            continue;
        }
        struct coh_db_chain_event ev = {0};
        if (parse_log(cw, &ev, lg) != 0)
            return coh_err_set(err, COH_CHAIN_ETRANSPORT, "eth_getLogs: malformed log");
        if (ev.block_number == to && memcmp(ev.block_hash, to_hash, 32) != 0)
            return coh_err_set(err, COH_CHAIN_ETRANSPORT,
                               "eth_getLogs: a log of block %lld from another branch", to);
        ordinal = have_prev && memcmp(prev_tx, ev.tx_hash, 32) == 0 ? ordinal + 1 : 0;
        memcpy(prev_tx, ev.tx_hash, 32);
        have_prev = 1;
        ev.tx_ordinal = ordinal;
        enum coh_db_event_seen seen;
        int rc = coh_db_chain_event_credit(&seen, cw->cfg->db, cw->cfg->ledger_key, &ev, err);
        if (rc)
            return rc;
        char txh[COH_HASH_HEX_SIZE];
        coh_hex_encode(txh, ev.tx_hash, 32, 1);
        if (seen == COH_DB_EVENT_CHANGED)
            coh_log_error("chain events: %s %s/%lld is on chain again with another account or "
                          "amount than the one credited; left as credited",
                          ev.kind, txh, ev.tx_ordinal);
        else if (seen == COH_DB_EVENT_BACK || seen == COH_DB_EVENT_MOVED)
            coh_log_info("chain events: %s %s/%lld mined again in block %lld; credited once",
                         ev.kind, txh, ev.tx_ordinal, ev.block_number);
    }
    if (foreign)
        coh_log_warn(
            "chain events: %zu log(s) up to block %lld were not the rewards contract's "
            "Deposited or Claimed events and were ignored: is the RPC endpoint trustworthy?",
            foreign, to);
    return 0;
}

/*
 * Credits Deposited/Claimed logs in confirmed blocks past the cursor. The hash of the range's
 * last block is read before and after the logs: equal, the logs are of that chain (a block hash
 * commits to all its ancestors), and it is remembered with the cursor for check_reorg.
 */
int coh_svc_deposit_watch_step(const struct coh_svc_deposit_watch *cw, coh_err *err)
{
    long long cursor;
    int rc = coh_db_chain_cursor_get(&cursor, cw->cfg->db, "events", cw->cfg->start_block - 1, err);
    if (rc)
        return rc;
    uint64_t head;
    if ((rc = coh_chain_rpc_u64(cw->rpc, &head, "eth_blockNumber", json_array(), err)) != 0)
        return rc;
    int rewound = 0, have_known = 0;
    uint8_t known[32];
    if ((rc = check_reorg(cw, cursor, head, &rewound, known, &have_known, err)) != 0 || rewound)
        return rc;
    long long safe = (long long)head - (cw->cfg->confirmations - 1);
    if (safe <= cursor)
        return 0;
    long long to = safe < cursor + 2000 ? safe : cursor + 2000;
    uint8_t h_before[32], h_cursor[32], h_after[32];
    int found = 0;
    if ((rc = block_hash_at(cw, h_before, &found, to, err)) != 0 || !found)
        return rc;
    char from_q[24], to_q[24];
    snprintf(from_q, sizeof from_q, "0x%llx", (unsigned long long)(cursor + 1));
    snprintf(to_q, sizeof to_q, "0x%llx", (unsigned long long)to);
    json_t *logs;
    rc = coh_chain_rpc_call(cw->rpc, &logs, "eth_getLogs",
                            json_pack("[{s:o, s:s, s:s, s:[[o, o]]}]", "address",
                                      coh_chain_json_hex(cw->cfg->rewards, 20), "fromBlock", from_q,
                                      "toBlock", to_q, "topics",
                                      coh_chain_json_hex(cw->topic_deposit, 32),
                                      coh_chain_json_hex(cw->topic_claim, 32)),
                            err);
    if (rc)
        return rc;
    /*
     * In this order: the cursor block still the one remembered (a reorg below it since
     * check_reorg shows here), then `to` unchanged (a reorg after that read would have
     * replaced `to` too, since `to` descends from the cursor block). Otherwise the chain moved
     * under the scan, and the next step sees it.
     */
    int same = 1;
    if (have_known && (rc = block_hash_at(cw, h_cursor, &found, cursor, err)) == 0)
        same = found && memcmp(h_cursor, known, 32) == 0;
    if (!rc && same && (rc = block_hash_at(cw, h_after, &found, to, err)) == 0)
        same = found && memcmp(h_before, h_after, 32) == 0;
    if (!rc && same)
        rc = credit_logs(cw, logs, to, h_after, err);
    json_decref(logs);
    if (rc || !same)
        return rc;
    return coh_db_chain_cursor_set(cw->cfg->db, "events", to, h_after, err);
}
