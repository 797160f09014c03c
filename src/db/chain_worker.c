/*
 * chain_worker: the thread inside cohortd that anchors the ledger and credits chain events.
 *
 * Anchoring, one batch at a time (every step is a row, see sql/005_chain.sql):
 *   pending  -> sign anchor(ledgerRoot, claimsRoot, lastSeq) with the next nonce, record the
 *               raw transaction, then broadcast it (a crash in between re-sends the recorded
 *               bytes: same hash, never a second anchor for the batch);
 *   sent     -> poll the receipts of every transaction recorded for the batch. Mined with
 *               `confirmations` blocks: confirmed. Pending for `stuck_s`: re-signed with the
 *               same nonce and both fees raised by 12.5% (nodes require >= 10%), so exactly one
 *               can be mined. Seen mined, then gone (a reorg): re-broadcast. Nonce taken by a
 *               transaction not ours: re-signed with a fresh nonce.
 *   confirmed-> the next batch. If the contract's lastSeq falls below a confirmed anchor (a
 *               reorg deeper than the confirmations), that anchor is reopened and re-sent.
 * The contract refuses a lastSeq that does not increase, which backs all of this on chain.
 *
 * Solvency: once the events of the block that confirmed an anchor are credited, the
 * contract's token balance at the events cursor is compared with deposits - claims and with
 * what the anchor lets addresses claim (DESIGN.md, the money model); the result is a row of
 * chain_solvency and a log line (an error when it does not hold).
 *
 * Events: the deposit watcher (chain_watch.c) runs in the same thread at every poll.
 */
#include "db/chain_db.h"
#include "db/chain_watch.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct coh_db_chain_worker {
    struct coh_db_chain_worker_config cfg;
    coh_chain_rpc *rpc;
    uint8_t signer[20];
    uint8_t token[20]; /* rewards.token(), read once */
    int have_token;
    struct coh_db_chain_watch watch; /* the deposit watcher (chain_watch.c) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

#define ANCHOR_GAS 100000
#define FEE_BUMP_NUM 1125 /* 12.5% above the previous fees */
#define FEE_BUMP_DEN 1000

/* Current fee suggestion: tip from the node (1 gwei if unsupported), max = 2 * base + tip. */
static int market_fees(coh_db_chain_worker *w, uint8_t max_fee[32], uint8_t tip[32], coh_err *err)
{
    json_t *blk;
    int rc = coh_chain_rpc_call(w->rpc, &blk, "eth_getBlockByNumber",
                                json_pack("[s, b]", "latest", 0), err);
    if (rc)
        return rc;
    uint8_t base[32];
    rc = coh_chain_quantity_parse(base, json_string_value(json_object_get(blk, "baseFeePerGas")));
    json_decref(blk);
    if (rc)
        return coh_err_set(err, COH_CHAIN_ETRANSPORT, "latest block has no baseFeePerGas");
    json_t *t;
    coh_err ignore = {0};
    if (coh_chain_rpc_call(w->rpc, &t, "eth_maxPriorityFeePerGas", json_array(), &ignore) != 0 ||
        coh_chain_quantity_parse(tip, json_string_value(t)) != 0)
        coh_chain_u256_from_u64(tip, 1000000000);
    json_decref(t);
    coh_chain_u256_scale(max_fee, base, 2, 1);
    /* max_fee += tip (tip is small: below 2^64 on any real chain) */
    uint8_t sum[32];
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned s = (unsigned)max_fee[i] + tip[i] + carry;
        sum[i] = (uint8_t)s;
        carry = s >> 8;
    }
    memcpy(max_fee, sum, 32);
    return 0;
}

/* Signs the anchor transaction with the given nonce and fees, records it, broadcasts it. */
static int send_anchor(coh_db_chain_worker *w, const struct coh_db_chain_anchor *a, uint64_t nonce,
                       const uint8_t max_fee[32], const uint8_t tip[32], coh_err *err)
{
    coh_chain_abi_arg args[3] = {coh_chain_abi_bytes32(a->ledger_root),
                                 coh_chain_abi_bytes32(a->claims_root),
                                 coh_chain_abi_u64(a->last_seq)};
    coh_chain_buf data, raw;
    coh_chain_buf_init(&data);
    coh_chain_buf_init(&raw);
    coh_chain_abi_calldata(&data, "anchor(bytes32,bytes32,uint64)", args, 3);
    coh_chain_tx tx = {.chain_id = w->cfg.chain_id,
                       .nonce = nonce,
                       .gas_limit = ANCHOR_GAS,
                       .has_to = 1,
                       .data = data.data,
                       .data_len = data.len};
    memcpy(tx.max_fee, max_fee, 32);
    memcpy(tx.max_priority_fee, tip, 32);
    memcpy(tx.to, w->cfg.rewards, 20);
    struct coh_db_chain_tx rec = {.nonce = nonce, .block_number = -1};
    memcpy(rec.max_fee, max_fee, 32);
    memcpy(rec.max_priority_fee, tip, 32);
    int rc =
        data.oom ? COH_ERR_NOMEM : coh_chain_tx_sign(&raw, rec.hash, NULL, &tx, w->cfg.ledger_key);
    if (rc == 0) {
        rec.raw = raw.data;
        rec.raw_len = raw.len;
        rc = coh_db_chain_tx_record(w->cfg.db, a->id, &rec, err);
    } else {
        coh_err_set(err, rc, "cannot sign the anchor transaction");
    }
    if (rc == 0) {
        char h[67];
        coh_hex_encode(h, rec.hash, 32, 1);
        coh_log_info("anchor %lld (entries %llu..%llu): sending %s nonce %llu", a->id,
                     (unsigned long long)a->first_seq, (unsigned long long)a->last_seq, h,
                     (unsigned long long)nonce);
        coh_crash_point("anchor-recorded");
        uint8_t got[32];
        coh_err e2 = {0};
        if (coh_chain_rpc_send_raw(w->rpc, got, raw.data, raw.len, &e2) != 0)
            coh_log_warn("anchor %lld: broadcast: %s (will retry)", a->id, e2.msg);
    }
    coh_chain_buf_clear(&data);
    coh_chain_buf_clear(&raw);
    return rc;
}

static int nonce_of(coh_db_chain_worker *w, uint64_t *out, const char *tag, coh_err *err)
{
    return coh_chain_rpc_u64(w->rpc, out, "eth_getTransactionCount",
                             json_pack("[o, s]", coh_chain_json_hex(w->signer, 20), tag), err);
}

static int send_new(coh_db_chain_worker *w, const struct coh_db_chain_anchor *a, coh_err *err)
{
    uint64_t nonce;
    uint8_t max_fee[32], tip[32];
    int rc = nonce_of(w, &nonce, "pending", err);
    if (rc == 0)
        rc = market_fees(w, max_fee, tip, err);
    return rc ? rc : send_anchor(w, a, nonce, max_fee, tip, err);
}

/* The contract's lastSeq(). */
static int onchain_last_seq(coh_db_chain_worker *w, uint64_t *out, coh_err *err)
{
    uint8_t sel[4];
    coh_chain_abi_selector(sel, "lastSeq()");
    uint8_t *ret;
    size_t n;
    int rc = coh_chain_rpc_eth_call(w->rpc, &ret, &n, w->cfg.rewards, sel, 4, err);
    if (rc)
        return rc;
    rc = coh_chain_abi_get_u64(out, ret, n, 0);
    free(ret);
    return rc ? coh_err_set(err, rc, "lastSeq(): malformed answer") : 0;
}

/* Polls one sent anchor. */
static int step_sent(coh_db_chain_worker *w, const struct coh_db_chain_anchor *a, coh_err *err)
{
    struct coh_db_chain_tx *txs;
    size_t n;
    int rc = coh_db_chain_txs(&txs, &n, w->cfg.db, a->id, err);
    if (rc)
        return rc;
    if (n == 0) {
        coh_db_chain_txs_free(txs, n);
        return send_new(w, a, err);
    }
    uint64_t head;
    if ((rc = coh_chain_rpc_u64(w->rpc, &head, "eth_blockNumber", json_array(), err)) != 0)
        goto out;
    int was_mined = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *rcpt;
        if ((rc = coh_chain_rpc_call(w->rpc, &rcpt, "eth_getTransactionReceipt",
                                     json_pack("[o]", coh_chain_json_hex(txs[i].hash, 32)), err)) !=
            0)
            goto out;
        if (strcmp(txs[i].status, "mined") == 0)
            was_mined = 1;
        if (json_is_null(rcpt)) {
            json_decref(rcpt);
            continue;
        }
        uint64_t bn = 0, ok = 0;
        int bad =
            coh_chain_quantity_u64(&bn, json_string_value(json_object_get(rcpt, "blockNumber"))) ||
            coh_chain_quantity_u64(&ok, json_string_value(json_object_get(rcpt, "status")));
        json_decref(rcpt);
        if (bad) {
            rc = coh_err_set(err, COH_CHAIN_ETRANSPORT, "malformed receipt");
            goto out;
        }
        if (!ok) {
            uint64_t last = 0;
            coh_log_error("anchor %lld: transaction reverted in block %llu", a->id,
                          (unsigned long long)bn);
            if ((rc = coh_db_chain_tx_mark(w->cfg.db, txs[i].hash, "failed", (long long)bn, err)) ||
                (rc = onchain_last_seq(w, &last, err)))
                goto out;
            if (last >= a->last_seq) /* anchored by a copy we lost track of: settled */
                rc = coh_db_chain_anchor_confirm(w->cfg.db, a->id, txs[i].hash, (long long)bn, err);
            else
                rc = send_new(w, a, err);
            goto out;
        }
        if (txs[i].block_number != (long long)bn)
            if ((rc = coh_db_chain_tx_mark(w->cfg.db, txs[i].hash, "mined", (long long)bn, err)))
                goto out;
        if (head + 1 >= bn + (uint64_t)w->cfg.confirmations) {
            coh_log_info("anchor %lld confirmed in block %llu (%ld confirmations)", a->id,
                         (unsigned long long)bn, w->cfg.confirmations);
            rc = coh_db_chain_anchor_confirm(w->cfg.db, a->id, txs[i].hash, (long long)bn, err);
        }
        goto out; /* mined: wait for confirmations */
    }
    /* No receipt for any of the batch's transactions. */
    if (was_mined) {
        coh_log_warn("anchor %lld: transaction no longer in the chain (reorg); re-sending", a->id);
        for (size_t i = 0; i < n; i++)
            if (strcmp(txs[i].status, "mined") == 0 &&
                (rc = coh_db_chain_tx_mark(w->cfg.db, txs[i].hash, "sent", -1, err)))
                goto out;
    }
    uint64_t mined_nonce;
    if ((rc = nonce_of(w, &mined_nonce, "latest", err)) != 0)
        goto out;
    if (mined_nonce > txs[0].nonce) {
        coh_log_warn("anchor %lld: nonce %llu used by another transaction; re-signing", a->id,
                     (unsigned long long)txs[0].nonce);
        for (size_t i = 0; i < n; i++)
            if ((rc = coh_db_chain_tx_mark(w->cfg.db, txs[i].hash, "dropped", -1, err)))
                goto out;
        rc = send_new(w, a, err);
        goto out;
    }
    if (txs[0].age_s >= w->cfg.stuck_s) {
        uint8_t max_fee[32], tip[32], mkt_fee[32], mkt_tip[32];
        coh_chain_u256_scale(max_fee, txs[0].max_fee, FEE_BUMP_NUM, FEE_BUMP_DEN);
        coh_chain_u256_scale(tip, txs[0].max_priority_fee, FEE_BUMP_NUM, FEE_BUMP_DEN);
        if (market_fees(w, mkt_fee, mkt_tip, err) == 0 && coh_chain_u256_cmp(mkt_fee, max_fee) > 0)
            memcpy(max_fee, mkt_fee, 32);
        char f0[79], f1[79];
        coh_crypto_uint256_to_dec(f0, txs[0].max_fee);
        coh_crypto_uint256_to_dec(f1, max_fee);
        coh_log_warn("anchor %lld: pending %llds, replacing nonce %llu, max fee %s -> %s", a->id,
                     txs[0].age_s, (unsigned long long)txs[0].nonce, f0, f1);
        if ((rc = coh_db_chain_tx_mark(w->cfg.db, txs[0].hash, "replaced", -1, err)) == 0)
            rc = send_anchor(w, a, txs[0].nonce, max_fee, tip, err);
        goto out;
    }
    /* Still pending (or dropped by the node, or lost in a reorg): broadcast again. */
    uint8_t got[32];
    coh_err e2 = {0};
    if (coh_chain_rpc_send_raw(w->rpc, got, txs[0].raw, txs[0].raw_len, &e2) == 0 && was_mined)
        coh_log_info("anchor %lld: re-sent after reorg", a->id);
out:
    coh_db_chain_txs_free(txs, n);
    return rc;
}

static int step_anchor(coh_db_chain_worker *w, coh_err *err)
{
    struct coh_db_chain_anchor a;
    int rc = coh_db_chain_anchor_open(&a, w->cfg.db, err);
    if (rc == 0)
        return step_sent(w, &a, err);
    if (rc != COH_ERR_NOTFOUND)
        return rc;
    /* Nothing in flight: first make sure confirmed anchors are still on chain. */
    uint64_t last;
    if ((rc = onchain_last_seq(w, &last, err)) != 0)
        return rc;
    if ((rc = coh_db_chain_anchor_reopen(w->cfg.db, last, err)) <= 0) {
        if (rc < 0)
            return rc;
    } else {
        coh_log_warn("contract lastSeq %llu is behind a confirmed anchor (reorg): reopened",
                     (unsigned long long)last);
        return 0;
    }
    int created = 0;
    rc = coh_db_chain_anchor_create(&a, &created, w->cfg.db, w->cfg.batch_size, w->cfg.interval_s,
                                    err);
    if (rc || !created)
        return rc;
    return send_new(w, &a, err);
}

/* A uint256 view function of `to` with one address argument (or none), at block. */
static int call_u256(coh_db_chain_worker *w, uint8_t out[32], const uint8_t to[20], const char *sig,
                     const uint8_t *arg, const char *block, coh_err *err)
{
    coh_chain_buf data;
    coh_chain_buf_init(&data);
    coh_chain_abi_arg a = arg ? coh_chain_abi_address(arg) : coh_chain_abi_u64(0);
    coh_chain_abi_calldata(&data, sig, &a, arg ? 1 : 0);
    uint8_t *ret = NULL;
    size_t n = 0;
    int rc = data.oom
                 ? coh_err_set(err, COH_ERR_NOMEM, "out of memory")
                 : coh_chain_rpc_eth_call_at(w->rpc, &ret, &n, to, data.data, data.len, block, err);
    coh_chain_buf_clear(&data);
    if (rc == 0 && coh_chain_abi_get_word(out, ret, n, 0) != 0)
        rc = coh_err_set(err, COH_CHAIN_EABI, "%s: malformed answer", sig);
    free(ret);
    return rc;
}

/* The solvency check of the latest confirmed anchor, once its block's events are credited. */
static int step_solvency(coh_db_chain_worker *w, coh_err *err)
{
    long long id, anchor_block, cursor;
    int rc = coh_db_chain_solvency_due(&id, &anchor_block, w->cfg.db, err);
    if (rc || id == 0)
        return rc;
    if ((rc = coh_db_chain_cursor_get(&cursor, w->cfg.db, "events", -1, err)) != 0)
        return rc;
    if (cursor < anchor_block)
        return 0; /* the events up to the anchor are not all credited yet */
    if (!w->have_token) {
        uint8_t word[32];
        if ((rc = call_u256(w, word, w->cfg.rewards, "token()", NULL, "latest", err)) != 0)
            return rc;
        memcpy(w->token, word + 12, 20);
        w->have_token = 1;
    }
    char tag[24], bal_dec[79], net[80], owed[80];
    snprintf(tag, sizeof tag, "0x%llx", (unsigned long long)cursor);
    uint8_t bal[32];
    if ((rc = call_u256(w, bal, w->token, "balanceOf(address)", w->cfg.rewards, tag, err)) != 0)
        return rc;
    coh_crypto_uint256_to_dec(bal_dec, bal);
    int ok = 0;
    if ((rc = coh_db_chain_solvency_record(&ok, net, owed, w->cfg.db, id, cursor, bal_dec, err)) !=
        0)
        return rc;
    if (ok)
        coh_log_info("solvency ok after anchor %lld (block %lld): contract holds %s = deposits - "
                     "claims, >= %s claimable",
                     id, cursor, bal_dec, owed);
    else
        coh_log_error("SOLVENCY BROKEN after anchor %lld (block %lld): contract holds %s, "
                      "deposits - claims = %s, claimable = %s",
                      id, cursor, bal_dec, net, owed);
    return 0;
}

static void *worker_main(void *arg)
{
    coh_db_chain_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        coh_err err = {0};
        if (coh_db_chain_watch_step(&w->watch, &err) != 0)
            coh_log_warn("chain events: %s", err.msg);
        memset(&err, 0, sizeof err);
        if (step_anchor(w, &err) != 0)
            coh_log_warn("anchorer: %s", err.msg);
        memset(&err, 0, sizeof err);
        if (step_solvency(w, &err) != 0)
            coh_log_warn("solvency check: %s", err.msg);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += w->cfg.poll_ms / 1000;
        ts.tv_nsec += (w->cfg.poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&w->mu);
        if (!w->stop)
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int coh_db_chain_worker_start(coh_db_chain_worker **out,
                              const struct coh_db_chain_worker_config *cfg, coh_err *err)
{
    *out = NULL;
    coh_db_chain_worker *w = calloc(1, sizeof *w);
    if (!w)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    w->cfg = *cfg;
    if (w->cfg.confirmations < 1)
        w->cfg.confirmations = 1;
    coh_chain_rpc_opts o = {10000, 2, 200};
    w->rpc = coh_chain_rpc_new(cfg->rpc_url, &o);
    int rc = w->rpc ? coh_crypto_address_from_seckey(w->signer, cfg->ledger_key) : COH_ERR_NOMEM;
    if (rc) {
        coh_chain_rpc_free(w->rpc);
        free(w);
        return coh_err_set(err, rc, "chain worker: cannot start");
    }
    w->cfg.rpc_url = NULL; /* not kept: the rpc object has its own copy */
    coh_db_chain_watch_init(&w->watch, w->rpc, &w->cfg);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        coh_chain_rpc_free(w->rpc);
        free(w);
        return coh_err_set(err, COH_ERR_NOMEM, "chain worker: cannot create thread");
    }
    *out = w;
    return 0;
}

void coh_db_chain_worker_stop(coh_db_chain_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    coh_chain_rpc_free(w->rpc);
    free(w);
}
