/*
 * anchorer: the chain worker, the thread inside cohortd that anchors the ledger and credits
 * chain events.
 *
 * Anchoring, one batch at a time (every step is a row, see sql/005_chain.sql). An anchor is a
 * proposal to the rewards contract (propose(ledgerRoot, claimsRoot, lastSeq, totalCredited)),
 * effective after the contract's challenge period unless the guardian vetoes it:
 *   pending  -> simulate propose with eth_call from our key, then sign it with the next nonce,
 *               record the raw transaction and broadcast it (a crash in between re-sends the
 *               recorded bytes: same hash, never a second anchor for the batch);
 *   sent     -> poll the receipts of every transaction recorded for the batch. Mined with
 *               `confirmations` blocks: confirmed, with the time it becomes effective (the
 *               Anchored event's effectiveAt). Pending for `stuck_s`: re-signed with the same
 *               nonce and both fees raised by 12.5% (nodes require >= 10%), so exactly one
 *               can be mined. Seen mined, then gone (a reorg): re-broadcast. Nonce taken by a
 *               transaction not ours, or signed by a key rotated away: a fresh one. Reverted:
 *               a failure (below), then simulated again before anything is re-sent.
 *   confirmed-> the next batch, once the contract has no proposal in its challenge period
 *               (one pending at a time). If the contract's lastSeq falls below a confirmed
 *               anchor, the guardian vetoed it (vetoed(lastSeq): marked 'vetoed', the next
 *               batch starts after it) or a reorg deeper than the confirmations dropped it
 *               (reopened and re-sent).
 * Promotion: once a proposal's challenge period is over and there is nothing new to propose,
 * the worker simulates promote() with eth_call and, unless it would revert (NothingToPromote:
 * none due), sends it, so claims read the promoted root and none pays the promotion (the
 * contract's fallback); it waits while ledger entries wait to be anchored, and for
 * anchor_interval_s after the proposal is first seen due (a proposal meanwhile promotes it for
 * free). The transaction is tracked in memory only (a crash forgets it; the next simulation
 * tells whether a promotion is still due): polled at every step until mined, its fees raised
 * after `stuck_s` (so an anchor never waits behind it), forgotten when its nonce is used by
 * another. A revert or a refusal is a failure and backs off like an anchor's.
 * Before every step the worker checks that its key is the contract's anchorer; if not (a
 * rotation the guardian has not installed yet, or a replaced key) it sends nothing and says
 * so (chain_anchorer row: /readyz, /metrics, GET /v1/chain). After `cohort ledger rotate-key`
 * it reloads the active key from the database, so it anchors with the new key as soon as the
 * chain has it. Failures back off exponentially from backoff_ms: a simulation or a
 * transaction that reverts, or a transaction the node refuses (what would burn gas or never
 * get through), doubling up to 10 minutes, and after max_failures of them in a row the
 * anchorer stops until cohortd restarts; an unreachable node or database (an outage that
 * ends by itself: chain health stays out of /readyz, docs/OPERATIONS.md) doubling up to 30 seconds,
 * never stopping.
 *
 * Solvency: once the events of the block that confirmed an anchor are credited, the
 * contract's token balance at the events cursor is compared with deposits - claims and with
 * what the anchor lets addresses claim (docs/LEDGER.md, the money model); the result is a row of
 * chain_solvency and a log line (an error when it does not hold).
 *
 * Events: the deposit watcher (deposit_watch.c) runs in the same thread at every poll.
 *
 * Leadership: several cohortd may share one database (docs/OPERATIONS.md, "Several
 * instances"), each with this thread, but only one acts. Every poll first calls
 * coh_db_leader_try: the instance whose own connection (not a pooled one) holds the chain
 * leader's session advisory lock runs the events, anchoring and solvency steps; the others do
 * nothing but try to take the lock at each poll, so one of them takes over within a poll of the
 * leader's session ending (SIGKILL closes its socket and PostgreSQL releases the lock). A leader
 * whose connection fails, or that finds the lock no longer held, stops acting at that poll; and
 * it records a new anchor transaction on that same connection (coh_db_chain_tx_record with
 * the leader), so a process that lost the lock mid-step cannot record, hence cannot broadcast,
 * a transaction its successor does not know of. A new leader continues from the database like
 * a restarted one: the in-flight anchor's recorded bytes are re-sent (same hash, same nonce),
 * its fees bumped on the same nonce when stuck; no batch gets a second proposal. A standby
 * never writes the chain_anchorer row: GET /v1/chain shows the leader's anchorer whichever
 * instance answers, and says whether the answering one leads (chain_leader); /metrics has
 * cohort_chain_leader 0/1 on every instance and the cohort_anchorer_* series on the leader
 * only; /readyz fails for a stopped anchorer on the leader only. A stopped anchorer keeps the
 * lock (its failures would be every instance's: same key, same ledger) until it is restarted.
 * Leadership gained and lost is logged.
 */
#include "svc/deposit_watch.h"
#include "svc/svc.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct coh_svc_chain_worker {
    struct coh_svc_chain_worker_config cfg; /* cfg.ledger_key: the key anchoring now */
    coh_chain_rpc *rpc;
    uint8_t signer[20];
    char signer_hex[COH_ADDR_HEX_SIZE]; /* lowercase 0x form of signer */
    coh_secbuf *own_key;         /* the key reloaded after a rotation (NULL: cfg's borrowed one) */
    int failures;                /* in a row, of any kind */
    int refusals;                /* in a row: reverts and transactions the node refused */
    int may_send;                /* our key is the contract's anchorer (checked every step) */
    int stopped;                 /* after max_failures: nothing more until restart */
    struct timespec next_try;    /* CLOCK_MONOTONIC; no anchoring step before */
    char state[16], reason[256]; /* as last written to chain_anchorer */
    uint8_t token[20];           /* rewards.token(), read once */
    int have_token;
    uint64_t promoted_seq; /* a contract lastSeq seen with nothing left to promote */
    uint64_t due_seq;      /* a contract lastSeq seen due for promotion ... */
    time_t due_since;      /* ... since (CLOCK_MONOTONIC seconds) */
    struct {
        int live; /* sent, no receipt yet */
        uint8_t hash[32], max_fee[32], tip[32];
        uint64_t nonce;
        time_t sent;                    /* CLOCK_MONOTONIC seconds */
    } promo;                            /* the promote() transaction in flight */
    struct coh_svc_deposit_watch watch; /* the deposit watcher (deposit_watch.c) */
    coh_db_leader *leader;              /* the chain leader's lock and connection */
    int leading;                        /* held at the last poll */
    int standby_logged;                 /* "standing by" said since the last change */
    char leader_error[256];             /* the last lock error logged (said once each) */
    coh_worker *thread;
};

#define ANCHOR_GAS 100000
#define PROMOTE_GAS 60000       /* promote() uses about 41,000 */
#define BACKOFF_CAP_MS 600000L  /* after reverts and refusals */
#define TRANSIENT_CAP_MS 30000L /* after an unreachable node or database */
#define ANCHOR_WAIT 1           /* a step that sends nothing on purpose (not the anchorer) */
#define FEE_BUMP_NUM 1125       /* 12.5% above the previous fees */
#define FEE_BUMP_DEN 1000

static int market_fees(coh_svc_chain_worker *w, uint8_t max_fee[32], uint8_t tip[32], coh_err *err)
{
    return coh_chain_fees(w->rpc, max_fee, tip, err);
}

/* propose(ledgerRoot, claimsRoot, lastSeq, totalCredited) of the anchor, into a fresh data. */
static void propose_calldata(coh_chain_buf *data, const struct coh_db_chain_anchor *a)
{
    coh_chain_abi_arg args[4] = {
        coh_chain_abi_bytes32(a->ledger_root), coh_chain_abi_bytes32(a->claims_root),
        coh_chain_abi_u64(a->last_seq), coh_chain_abi_uint256(a->total_credited)};
    coh_chain_buf_init(data);
    coh_chain_abi_calldata(data, "propose(bytes32,bytes32,uint64,uint256)", args, 4);
}

/* The name of a CohortRewards custom error whose selector a node's revert message carries. */
static const char *revert_name(const char *msg)
{
    static const char *const errors[] = {"NotAnchorer()", "StaleAnchor(uint64,uint64)",
                                         "CreditsExceedDeposits(uint256,uint256)",
                                         "ChallengePeriodRunning(uint64)", "NothingToPromote()"};
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        uint8_t sel[4];
        char hex[11];
        coh_chain_abi_selector(sel, errors[i]);
        coh_hex_encode(hex, sel, 4, 1);
        if (strstr(msg, hex))
            return errors[i];
    }
    return NULL;
}

/* eth_call of data (calling fn) from our key at "pending": COH_CHAIN_ERPC naming the error if
 * it reverts. */
static int simulate(coh_svc_chain_worker *w, const char *fn, const uint8_t *data, size_t len,
                    coh_err *err)
{
    json_t *res = NULL;
    json_t *call =
        json_pack("{s:o, s:o, s:o}", "from", coh_chain_json_hex(w->signer, 20), "to",
                  coh_chain_json_hex(w->cfg.rewards, 20), "data", coh_chain_json_hex(data, len));
    int rc =
        coh_chain_rpc_call(w->rpc, &res, "eth_call", json_pack("[o, s]", call, "pending"), err);
    json_decref(res);
    if (rc == COH_CHAIN_ERPC) {
        const char *name = revert_name(err->msg);
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return coh_err_set(err, rc, "%s would revert%s%s (%s)", fn, name ? ": " : "",
                           name ? name : "", msg);
    }
    return rc;
}

/* A transaction to the rewards contract carrying data, with these fees. */
static coh_chain_tx rewards_tx(const coh_svc_chain_worker *w, uint64_t nonce, uint64_t gas,
                               const coh_chain_buf *data, const uint8_t max_fee[32],
                               const uint8_t tip[32])
{
    coh_chain_tx tx = {.chain_id = w->cfg.chain_id,
                       .nonce = nonce,
                       .gas_limit = gas,
                       .has_to = 1,
                       .data = data->data,
                       .data_len = data->len};
    memcpy(tx.max_fee, max_fee, 32);
    memcpy(tx.max_priority_fee, tip, 32);
    memcpy(tx.to, w->cfg.rewards, 20);
    return tx;
}

/* Signs the anchor transaction with the given nonce and fees, records it, broadcasts it. */
static int send_anchor(coh_svc_chain_worker *w, const struct coh_db_chain_anchor *a, uint64_t nonce,
                       const uint8_t max_fee[32], const uint8_t tip[32], coh_err *err)
{
    coh_chain_buf data, raw;
    coh_chain_buf_init(&raw);
    propose_calldata(&data, a);
    coh_chain_tx tx = rewards_tx(w, nonce, ANCHOR_GAS, &data, max_fee, tip);
    struct coh_db_chain_tx rec = {.nonce = nonce, .block_number = -1};
    memcpy(rec.max_fee, max_fee, 32);
    memcpy(rec.max_priority_fee, tip, 32);
    int rc =
        data.oom ? COH_ERR_NOMEM : coh_chain_tx_sign(&raw, rec.hash, NULL, &tx, w->cfg.ledger_key);
    if (rc == 0) {
        rec.raw = raw.data;
        rec.raw_len = raw.len;
        rc = coh_db_chain_tx_record(w->cfg.db, w->leader, a->id, &rec, err);
    } else {
        coh_err_set(err, rc, "cannot sign the anchor transaction");
    }
    if (rc == 0) {
        char h[COH_HASH_HEX_SIZE];
        coh_hex_encode(h, rec.hash, 32, 1);
        coh_log_info("anchor %lld (entries %llu..%llu): sending %s nonce %llu", a->id,
                     (unsigned long long)a->first_seq, (unsigned long long)a->last_seq, h,
                     (unsigned long long)nonce);
        coh_crash_point("anchor-recorded");
        uint8_t got[32];
        coh_err e2 = {0};
        int sent = coh_chain_rpc_send_raw(w->rpc, got, raw.data, raw.len, &e2);
        if (sent == COH_CHAIN_ERPC) /* the node refused it (no gas money, ...): a failure */
            rc = coh_err_set(err, sent, "anchor %lld: %s", a->id, e2.msg);
        else if (sent != 0)
            coh_log_warn("anchor %lld: broadcast: %s (will retry)", a->id, e2.msg);
    }
    coh_chain_buf_clear(&data);
    coh_chain_buf_clear(&raw);
    return rc;
}

static int nonce_of(coh_svc_chain_worker *w, uint64_t *out, const char *tag, coh_err *err)
{
    return coh_chain_rpc_u64(w->rpc, out, "eth_getTransactionCount",
                             json_pack("[o, s]", coh_chain_json_hex(w->signer, 20), tag), err);
}

static int settled_on_chain(coh_svc_chain_worker *w, const struct coh_db_chain_anchor *a,
                            coh_err *err);

/* A first (or fresh) transaction for the anchor, after a simulation that does not revert. */
static int send_new(coh_svc_chain_worker *w, const struct coh_db_chain_anchor *a, coh_err *err)
{
    uint64_t nonce;
    uint8_t max_fee[32], tip[32];
    coh_chain_buf data;
    if (!w->may_send)
        return ANCHOR_WAIT;
    int rc0 = settled_on_chain(w, a, err);
    if (rc0)
        return rc0 > 0 ? 0 : rc0;
    propose_calldata(&data, a);
    int rc = data.oom ? coh_err_set(err, COH_ERR_NOMEM, "out of memory")
                      : simulate(w, "propose", data.data, data.len, err);
    coh_chain_buf_clear(&data);
    if (rc) {
        coh_log_warn("anchor %lld (entries %llu..%llu): %s; nothing sent", a->id,
                     (unsigned long long)a->first_seq, (unsigned long long)a->last_seq, err->msg);
        return rc;
    }
    rc = nonce_of(w, &nonce, "pending", err);
    if (rc == 0)
        rc = market_fees(w, max_fee, tip, err);
    return rc ? rc : send_anchor(w, a, nonce, max_fee, tip, err);
}

/* Word `index` of a view function's answer; arg: a uint64 argument, or none when has_arg is 0. */
static int view_word(coh_svc_chain_worker *w, uint8_t out[32], const char *sig, int has_arg,
                     uint64_t arg, size_t index, coh_err *err)
{
    coh_chain_buf data;
    coh_chain_buf_init(&data);
    coh_chain_abi_arg a = coh_chain_abi_u64(arg);
    coh_chain_abi_calldata(&data, sig, &a, has_arg ? 1 : 0);
    uint8_t *ret = NULL;
    size_t n = 0;
    int rc = data.oom ? coh_err_set(err, COH_ERR_NOMEM, "out of memory")
                      : coh_chain_rpc_eth_call(w->rpc, &ret, &n, w->cfg.rewards, data.data,
                                               data.len, err);
    coh_chain_buf_clear(&data);
    if (rc == 0 && coh_chain_abi_get_word(out, ret, n, index) != 0)
        rc = coh_err_set(err, COH_CHAIN_EABI, "%s: malformed answer", sig);
    free(ret);
    return rc;
}

static int view_u64(coh_svc_chain_worker *w, uint64_t *out, const char *sig, int has_arg,
                    uint64_t arg, size_t index, coh_err *err)
{
    uint8_t word[32];
    int rc = view_word(w, word, sig, has_arg, arg, index, err);
    *out = 0;
    if (rc == 0 && coh_u256_to_u64(out, word) != 0)
        rc = coh_err_set(err, COH_CHAIN_EABI, "%s returned more than a uint64", sig);
    return rc;
}

/* The contract's lastSeq(): of the latest live (pending or effective) proposal. */
static int onchain_last_seq(coh_svc_chain_worker *w, uint64_t *out, coh_err *err)
{
    return view_u64(w, out, "lastSeq()", 0, 0, 0, err);
}

/* The effectiveAt of the Anchored log of the contract in a receipt; 0 when none. */
static long long receipt_effective_at(coh_svc_chain_worker *w, json_t *rcpt)
{
    static const char sig[] = "Anchored(uint64,bytes32,bytes32,uint256,uint64)";
    uint8_t topic0[32];
    coh_crypto_keccak256(topic0, sig, sizeof sig - 1);
    size_t i;
    json_t *lg;
    json_array_foreach(json_object_get(rcpt, "logs"), i, lg)
    {
        uint8_t addr[20], t0[32], data[128];
        const char *a = json_string_value(json_object_get(lg, "address"));
        const char *t = json_string_value(json_array_get(json_object_get(lg, "topics"), 0));
        const char *d = json_string_value(json_object_get(lg, "data"));
        if (!a || !t || !d || strlen(a) != 42 || strlen(t) != 66 || strlen(d) != 258 ||
            coh_hex_decode_exact(addr, 20, a + 2) || coh_hex_decode_exact(t0, 32, t + 2) ||
            coh_hex_decode_exact(data, 128, d + 2) || memcmp(addr, w->cfg.rewards, 20) != 0 ||
            memcmp(t0, topic0, 32) != 0)
            continue;
        uint64_t at = 0;
        if (coh_chain_abi_get_u64(&at, data, 128, 3) == 0)
            return (long long)at;
    }
    return 0;
}

/*
 * 1 (and the anchor confirmed) when the contract already holds the batch: a transaction of
 * ours that we lost track of (signed by a key rotated away, or marked dropped) was mined.
 * Found by its Anchored log (topic lastSeq). 0 when not.
 */
static int settled_on_chain(coh_svc_chain_worker *w, const struct coh_db_chain_anchor *a,
                            coh_err *err)
{
    uint64_t last = 0;
    int rc = onchain_last_seq(w, &last, err);
    if (rc || last < a->last_seq)
        return rc;
    static const char sig[] = "Anchored(uint64,bytes32,bytes32,uint256,uint64)";
    uint8_t topic0[32], seq[32];
    coh_crypto_keccak256(topic0, sig, sizeof sig - 1);
    coh_u256_from_u64(seq, a->last_seq);
    char from[24];
    snprintf(from, sizeof from, "0x%llx", (unsigned long long)w->cfg.start_block);
    json_t *logs;
    rc = coh_chain_rpc_call(w->rpc, &logs, "eth_getLogs",
                            json_pack("[{s:s, s:s, s:o, s:[o, o]}]", "fromBlock", from, "toBlock",
                                      "latest", "address", coh_chain_json_hex(w->cfg.rewards, 20),
                                      "topics", coh_chain_json_hex(topic0, 32),
                                      coh_chain_json_hex(seq, 32)),
                            err);
    if (rc)
        return rc;
    /* The latest log carrying this batch's roots and total: a proposal of the same lastSeq by
     * another hand (a thief with the key) is not ours. */
    json_t *lg = NULL;
    for (size_t i = json_array_size(logs); i > 0 && !lg; i--) {
        json_t *l = json_array_get(logs, i - 1);
        const char *d = json_string_value(json_object_get(l, "data"));
        uint8_t data[128];
        if (d && strlen(d) == 258 && coh_hex_decode_exact(data, 128, d + 2) == 0 &&
            memcmp(data, a->ledger_root, 32) == 0 && memcmp(data + 32, a->claims_root, 32) == 0 &&
            memcmp(data + 64, a->total_credited, 32) == 0)
            lg = l;
    }
    uint8_t hash[32];
    uint64_t bn = 0;
    const char *h = json_string_value(json_object_get(lg, "transactionHash"));
    int found =
        lg && h && strlen(h) == 66 && coh_hex_decode_exact(hash, 32, h + 2) == 0 &&
        coh_chain_quantity_u64(&bn, json_string_value(json_object_get(lg, "blockNumber"))) == 0;
    if (found) {
        json_t *rcpt = json_pack("{s:[O]}", "logs", lg);
        long long at = receipt_effective_at(w, rcpt);
        json_decref(rcpt);
        coh_log_warn("anchor %lld: already on chain (transaction %s); confirmed", a->id, h);
        rc = coh_db_chain_anchor_confirm(w->cfg.db, a->id, hash, (long long)bn, at, err);
    }
    json_decref(logs);
    return rc ? rc : found;
}

/* Polls one sent anchor. */
static int step_sent(coh_svc_chain_worker *w, const struct coh_db_chain_anchor *a, coh_err *err)
{
    struct coh_db_chain_tx *all;
    size_t n_all;
    int rc = coh_db_chain_txs(&all, &n_all, w->cfg.db, a->id, err);
    if (rc)
        return rc;
    /* Reverted and dropped transactions are settled; the rest (newest first) may be mined. */
    struct coh_db_chain_tx *txs = all;
    size_t n = 0;
    for (size_t i = 0; i < n_all; i++)
        if (strcmp(all[i].status, "failed") != 0 && strcmp(all[i].status, "dropped") != 0) {
            struct coh_db_chain_tx t = all[n];
            all[n++] = all[i];
            all[i] = t;
        }
    if (n == 0) {
        coh_db_chain_txs_free(all, n_all);
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
        long long effective_at = bad ? 0 : receipt_effective_at(w, rcpt);
        json_decref(rcpt);
        if (bad) {
            rc = coh_err_set(err, COH_CHAIN_ETRANSPORT, "malformed receipt");
            goto out;
        }
        if (!ok) {
            uint64_t last = 0;
            char h[COH_HASH_HEX_SIZE];
            coh_hex_encode(h, txs[i].hash, 32, 1);
            coh_log_error("anchor %lld: transaction %s reverted in block %llu", a->id, h,
                          (unsigned long long)bn);
            if ((rc = coh_db_chain_tx_mark(w->cfg.db, txs[i].hash, "failed", (long long)bn, err)) ||
                (rc = onchain_last_seq(w, &last, err)))
                goto out;
            if (last >= a->last_seq) { /* proposed by a copy we lost track of: settled */
                uint64_t at = 0;
                coh_err ignore = {0};
                if (view_u64(w, &at, "pending()", 0, 0, 2, &ignore) != 0 || last != a->last_seq)
                    at = 0;
                rc = coh_db_chain_anchor_confirm(w->cfg.db, a->id, txs[i].hash, (long long)bn,
                                                 at ? (long long)at : (long long)time(NULL), err);
            } else {
                /* a failure: backed off, then simulated again before anything is re-sent */
                rc = coh_err_set(err, COH_CHAIN_ERPC, "anchor %lld: transaction %s reverted", a->id,
                                 h);
            }
            goto out;
        }
        if (txs[i].block_number != (long long)bn)
            if ((rc = coh_db_chain_tx_mark(w->cfg.db, txs[i].hash, "mined", (long long)bn, err)))
                goto out;
        if (head + 1 >= bn + (uint64_t)w->cfg.confirmations) {
            coh_log_info("anchor %lld confirmed in block %llu (%ld confirmations); effective at "
                         "unix time %lld unless vetoed",
                         a->id, (unsigned long long)bn, w->cfg.confirmations, effective_at);
            rc = coh_db_chain_anchor_confirm(w->cfg.db, a->id, txs[i].hash, (long long)bn,
                                             effective_at, err);
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
    coh_chain_tx dec;
    uint8_t sender[20];
    if (coh_chain_tx_decode(&dec, sender, NULL, txs[0].raw, txs[0].raw_len) != 0 ||
        memcmp(sender, w->signer, 20) != 0) {
        /* Signed by the key rotated away: it can no longer propose (or its nonce is not ours). */
        coh_log_warn("anchor %lld: its transaction was signed by the previous key; re-signing "
                     "with %s",
                     a->id, w->signer_hex);
        for (size_t i = 0; i < n; i++)
            if ((rc = coh_db_chain_tx_mark(w->cfg.db, txs[i].hash, "dropped", -1, err)))
                goto out;
        rc = send_new(w, a, err);
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
    if (!w->may_send) { /* receipts are still read above; nothing is (re)sent */
        rc = ANCHOR_WAIT;
        goto out;
    }
    if (txs[0].age_s >= w->cfg.stuck_s) {
        uint8_t max_fee[32], tip[32], mkt_fee[32], mkt_tip[32];
        if (coh_u256_scale(max_fee, txs[0].max_fee, FEE_BUMP_NUM, FEE_BUMP_DEN) != 0 ||
            coh_u256_scale(tip, txs[0].max_priority_fee, FEE_BUMP_NUM, FEE_BUMP_DEN) != 0) {
            rc = coh_err_set(err, COH_CHAIN_EFEE, "anchor %lld: the bumped fee exceeds a uint256",
                             a->id);
            goto out;
        }
        if (market_fees(w, mkt_fee, mkt_tip, err) == 0 && coh_u256_cmp(mkt_fee, max_fee) > 0)
            memcpy(max_fee, mkt_fee, 32);
        char f0[COH_U256_DEC_SIZE], f1[COH_U256_DEC_SIZE];
        coh_u256_to_dec(f0, txs[0].max_fee);
        coh_u256_to_dec(f1, max_fee);
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
    coh_db_chain_txs_free(all, n_all);
    return rc;
}

/* After `cohort ledger rotate-key`: the database's active key replaces the one in use. */
static int reload_key(coh_svc_chain_worker *w, coh_err *err)
{
    if (!w->cfg.master_key)
        return 0;
    char active[COH_ADDR_HEX_SIZE] = "";
    int rc = coh_db_ledger_key_active(active, w->cfg.db, err);
    if (rc)
        return rc;
    if (!active[0] || strcmp(active, w->signer_hex) == 0)
        return 0;
    coh_secbuf *key = NULL;
    uint8_t addr[20];
    rc = coh_db_ledger_key_load(&key, addr, w->cfg.db, w->cfg.master_key, 0, err);
    if (rc)
        return rc;
    char old[COH_ADDR_HEX_SIZE];
    snprintf(old, sizeof old, "%s", w->signer_hex);
    coh_secbuf_free(w->own_key);
    w->own_key = key;
    w->cfg.ledger_key = key; /* the deposit watcher reads it through cfg too */
    memcpy(w->signer, addr, 20);
    coh_hex_encode(w->signer_hex, addr, 20, 1);
    w->promo.live = 0; /* its nonce was the old key's */
    coh_log_warn("anchorer: the ledger key was rotated (%s -> %s); anchoring with the new key "
                 "once the contract's anchorer is it",
                 old, w->signer_hex);
    return 0;
}

/* Writes the anchorer's health row when it changed, and logs the change. */
static void set_state(coh_svc_chain_worker *w, const char *state, const char *reason,
                      long next_try_s)
{
    assert(strlen(state) < sizeof w->state);
    if (strcmp(w->state, state) == 0 && strcmp(w->reason, reason) == 0 && next_try_s < 0)
        return;
    if (strcmp(w->state, state) != 0 || strcmp(w->reason, reason) != 0) {
        if (strcmp(state, "ok") == 0)
            coh_log_info("anchorer: ok (%s)", w->signer_hex);
        else if (strcmp(state, "stopped") == 0)
            coh_log_error("ALERT anchorer stopped after %d failures in a row: %s (restart cohortd "
                          "once fixed)",
                          w->failures, reason);
        else if (strcmp(state, "not_anchorer") == 0)
            coh_log_error("ALERT anchorer: %s; sending nothing", reason);
    }
    snprintf(w->state, sizeof w->state, "%s", state);
    snprintf(w->reason, sizeof w->reason, "%s", reason);
    coh_err err = {0};
    if (coh_db_chain_anchorer_set(w->cfg.db, w->signer_hex, state, reason, w->failures, next_try_s,
                                  &err) != 0)
        coh_log_warn("anchorer: cannot record its state: %s", err.msg);
}

/* ANCHOR_WAIT unless our key is the contract's anchorer. */
static int check_anchorer(coh_svc_chain_worker *w, coh_err *err)
{
    uint8_t word[32];
    int rc = view_word(w, word, "anchorer()", 0, 0, 0, err);
    if (rc)
        return rc;
    if (memcmp(word + 12, w->signer, 20) == 0)
        return 0;
    char reason[200], onchain[COH_ADDR_HEX_SIZE];
    coh_hex_encode(onchain, word + 12, 20, 1);
    snprintf(reason, sizeof reason,
             "the contract's anchorer is %s, not this ledger key %s (the guardian installs it "
             "with setAnchorer)",
             onchain, w->signer_hex);
    set_state(w, "not_anchorer", reason, -1);
    return ANCHOR_WAIT;
}

static time_t mono_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec;
}

/* Signs promote() with the given nonce and fees and broadcasts it; remembers it in w->promo. */
static int send_promote(coh_svc_chain_worker *w, uint64_t nonce, const uint8_t max_fee[32],
                        const uint8_t tip[32], coh_err *err)
{
    coh_chain_buf data, raw;
    coh_chain_buf_init(&raw);
    coh_chain_buf_init(&data);
    coh_chain_abi_arg none = coh_chain_abi_u64(0);
    coh_chain_abi_calldata(&data, "promote()", &none, 0);
    coh_chain_tx tx = rewards_tx(w, nonce, PROMOTE_GAS, &data, max_fee, tip);
    uint8_t hash[32];
    int rc = data.oom ? COH_ERR_NOMEM : coh_chain_tx_sign(&raw, hash, NULL, &tx, w->cfg.ledger_key);
    if (rc) {
        rc = coh_err_set(err, rc, "cannot sign promote()");
    } else {
        char h[COH_HASH_HEX_SIZE];
        coh_hex_encode(h, hash, 32, 1);
        uint8_t got[32];
        coh_err e2 = {0};
        int sent = coh_chain_rpc_send_raw(w->rpc, got, raw.data, raw.len, &e2);
        if (sent == COH_CHAIN_ERPC) { /* the node refused it: a failure */
            rc = coh_err_set(err, sent, "promote(): %s", e2.msg);
        } else {
            if (sent != 0)
                coh_log_warn("promote(): broadcast: %s (polled, replaced if stuck)", e2.msg);
            coh_log_info("promote(): sending %s nonce %llu", h, (unsigned long long)nonce);
            w->promo.live = 1;
            memcpy(w->promo.hash, hash, 32);
            memcpy(w->promo.max_fee, max_fee, 32);
            memcpy(w->promo.tip, tip, 32);
            w->promo.nonce = nonce;
            w->promo.sent = mono_s();
        }
    }
    coh_chain_buf_clear(&data);
    coh_chain_buf_clear(&raw);
    return rc;
}

/* Polls the promote() transaction in flight: mined, reverted (a failure), its nonce taken by
 * another transaction (forgotten), or pending for stuck_s (replaced with higher fees). */
static int poll_promote(coh_svc_chain_worker *w, coh_err *err)
{
    char h[COH_HASH_HEX_SIZE];
    coh_hex_encode(h, w->promo.hash, 32, 1);
    json_t *rcpt;
    int rc = coh_chain_rpc_call(w->rpc, &rcpt, "eth_getTransactionReceipt",
                                json_pack("[o]", coh_chain_json_hex(w->promo.hash, 32)), err);
    if (rc)
        return rc;
    if (!json_is_null(rcpt)) {
        uint64_t bn = 0, ok = 0;
        int bad =
            coh_chain_quantity_u64(&bn, json_string_value(json_object_get(rcpt, "blockNumber"))) ||
            coh_chain_quantity_u64(&ok, json_string_value(json_object_get(rcpt, "status")));
        json_decref(rcpt);
        if (bad)
            return coh_err_set(err, COH_CHAIN_ETRANSPORT, "malformed receipt");
        w->promo.live = 0;
        if (!ok) /* backed off, then simulated again before anything is re-sent */
            return coh_err_set(err, COH_CHAIN_ERPC, "promote(): transaction %s reverted in %llu", h,
                               (unsigned long long)bn);
        coh_log_info("promote(): mined in block %llu (%s); claims read the promoted root",
                     (unsigned long long)bn, h);
        return 0;
    }
    json_decref(rcpt);
    uint64_t mined_nonce;
    if ((rc = nonce_of(w, &mined_nonce, "latest", err)) != 0)
        return rc;
    if (mined_nonce > w->promo.nonce) {
        coh_log_warn("promote(): nonce %llu used by another transaction; forgotten",
                     (unsigned long long)w->promo.nonce);
        w->promo.live = 0;
        return 0;
    }
    if (mono_s() - w->promo.sent < w->cfg.stuck_s)
        return 0;
    uint8_t max_fee[32], tip[32], mkt_fee[32], mkt_tip[32];
    if (coh_u256_scale(max_fee, w->promo.max_fee, FEE_BUMP_NUM, FEE_BUMP_DEN) != 0 ||
        coh_u256_scale(tip, w->promo.tip, FEE_BUMP_NUM, FEE_BUMP_DEN) != 0)
        return coh_err_set(err, COH_CHAIN_EFEE, "promote(): the bumped fee exceeds a uint256");
    if (market_fees(w, mkt_fee, mkt_tip, err) == 0 && coh_u256_cmp(mkt_fee, max_fee) > 0)
        memcpy(max_fee, mkt_fee, 32);
    coh_log_warn("promote(): %s pending %llds, replacing nonce %llu with higher fees", h,
                 (long long)(mono_s() - w->promo.sent), (unsigned long long)w->promo.nonce);
    return send_promote(w, w->promo.nonce, max_fee, tip, err);
}

/* Whether ledger entries wait to be anchored (the next batch, due or not yet). */
static int entries_waiting(coh_svc_chain_worker *w, int *out, coh_err *err)
{
    return coh_db_chain_entries_waiting(out, w->cfg.db, err);
}

/*
 * Nothing new to propose and no proposal in its challenge period (pending() is zero): if the
 * contract's latest proposal (lastSeq `last`) is effective but not promoted, promote() it, once
 * no ledger entry waits to be anchored and it has been due for anchor_interval_s (a proposal
 * of entries arriving meanwhile promotes it without a transaction of its own).
 */
static int step_promote(coh_svc_chain_worker *w, uint64_t last, coh_err *err)
{
    if (w->promo.live || last == 0 || last == w->promoted_seq)
        return 0;
    int waiting = 0;
    int rc0 = entries_waiting(w, &waiting, err);
    if (rc0 || waiting)
        return rc0;
    if (w->due_seq == last && mono_s() - w->due_since < w->cfg.interval_s)
        return 0;
    coh_chain_buf data;
    coh_chain_buf_init(&data);
    coh_chain_abi_arg none = coh_chain_abi_u64(0);
    coh_chain_abi_calldata(&data, "promote()", &none, 0);
    int rc = data.oom ? coh_err_set(err, COH_ERR_NOMEM, "out of memory")
                      : simulate(w, "promote", data.data, data.len, err);
    coh_chain_buf_clear(&data);
    if (rc == COH_CHAIN_ERPC && strstr(err->msg, "NothingToPromote")) {
        /* None pending (pending() is zero, so none in its challenge period either): the root of
         * lastSeq is the promoted one, or lastSeq fell back to it on a veto. */
        w->promoted_seq = last;
        memset(err, 0, sizeof *err);
        return 0;
    }
    if (rc) {
        coh_log_warn("promote(): %s; nothing sent", err->msg);
        return rc;
    }
    if (w->due_seq != last) { /* due from now; sent after anchor_interval_s if still due */
        w->due_seq = last;
        w->due_since = mono_s();
        return 0;
    }
    uint64_t nonce;
    uint8_t max_fee[32], tip[32];
    rc = nonce_of(w, &nonce, "pending", err);
    if (rc == 0)
        rc = market_fees(w, max_fee, tip, err);
    if (rc == 0)
        coh_log_info("promote(): the proposal ending at entry %llu is effective; promoting it",
                     (unsigned long long)last);
    return rc ? rc : send_promote(w, nonce, max_fee, tip, err);
}

static int step_anchor(coh_svc_chain_worker *w, coh_err *err)
{
    int rc = reload_key(w, err);
    if (rc == 0)
        rc = check_anchorer(w, err);
    if (rc < 0)
        return rc;
    w->may_send = rc == 0;
    /* A promote() in flight: polled, and replaced when stuck, so no anchor waits behind it. */
    if (w->promo.live && w->may_send && (rc = poll_promote(w, err)) != 0)
        return rc;
    struct coh_db_chain_anchor a;
    rc = coh_db_chain_anchor_open(&a, w->cfg.db, err);
    if (rc == 0) /* receipts are polled even when we may not send: a revert is seen at once */
        return (rc = step_sent(w, &a, err)) == 0 && !w->may_send ? ANCHOR_WAIT : rc;
    if (rc != COH_ERR_NOTFOUND)
        return rc;
    if (!w->may_send)
        return ANCHOR_WAIT;
    /* Nothing in flight: first make sure confirmed anchors are still on chain. */
    uint64_t last, ours;
    if ((rc = onchain_last_seq(w, &last, err)) != 0 ||
        (rc = coh_db_chain_anchor_last_confirmed(&ours, w->cfg.db, err)) != 0)
        return rc;
    if (last < ours) {
        uint64_t vetoed = 0;
        if ((rc = view_u64(w, &vetoed, "vetoed(uint64)", 1, ours, 0, err)) != 0)
            return rc;
        if (vetoed) {
            if ((rc = coh_db_chain_anchor_veto(w->cfg.db, ours, err)) < 0)
                return rc;
            coh_log_error("ALERT anchor ending at entry %llu was VETOED by the guardian; the next "
                          "batch starts after it",
                          (unsigned long long)ours);
            return 0;
        }
        if ((rc = coh_db_chain_anchor_reopen(w->cfg.db, last, err)) < 0)
            return rc;
        if (rc > 0) {
            coh_log_warn("contract lastSeq %llu is behind a confirmed anchor (reorg): reopened",
                         (unsigned long long)last);
            return 0;
        }
    }
    /* One proposal in its challenge period at a time: the next waits for it. */
    uint64_t pending_at = 0;
    if ((rc = view_u64(w, &pending_at, "pending()", 0, 0, 2, err)) != 0 || pending_at != 0)
        return rc;
    int created = 0;
    rc = coh_db_chain_anchor_create(&a, &created, w->cfg.db, w->cfg.batch_size, w->cfg.interval_s,
                                    err);
    if (rc)
        return rc;
    return created ? send_new(w, &a, err) : step_promote(w, last, err);
}

/* One anchoring step, unless stopped or backing off; counts failures and backs off. */
static void anchor_tick(coh_svc_chain_worker *w)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (w->stopped || now.tv_sec < w->next_try.tv_sec ||
        (now.tv_sec == w->next_try.tv_sec && now.tv_nsec < w->next_try.tv_nsec))
        return;
    coh_err err = {0};
    int rc = step_anchor(w, &err);
    if (rc == ANCHOR_WAIT)
        return;
    if (rc == 0) {
        w->failures = w->refusals = 0;
        set_state(w, "ok", "", -1);
        return;
    }
    w->failures++;
    /* The node answered with an error: a revert (simulated or mined) or a refused transaction. */
    int refused = rc == COH_CHAIN_ERPC;
    if (refused && ++w->refusals >= w->cfg.max_failures) {
        w->stopped = 1;
        set_state(w, "stopped", err.msg, -1);
        return;
    }
    long cap = refused ? BACKOFF_CAP_MS : TRANSIENT_CAP_MS, ms = w->cfg.backoff_ms;
    for (int i = 1; i < w->failures && ms < cap; i++)
        ms *= 2;
    if (ms > cap)
        ms = cap;
    w->next_try = now;
    w->next_try.tv_sec += ms / 1000;
    w->next_try.tv_nsec += (ms % 1000) * 1000000L;
    if (w->next_try.tv_nsec >= 1000000000L) {
        w->next_try.tv_sec++;
        w->next_try.tv_nsec -= 1000000000L;
    }
    coh_log_warn("anchorer: %s (failure %d in a row, %d refused of at most %ld; next try in %ld "
                 "ms)",
                 err.msg, w->failures, w->refusals, w->cfg.max_failures, ms);
    set_state(w, "backoff", err.msg, (ms + 999) / 1000);
}

/* A uint256 view function of `to` with one address argument (or none), at block. */
static int call_u256(coh_svc_chain_worker *w, uint8_t out[32], const uint8_t to[20],
                     const char *sig, const uint8_t *arg, const char *block, coh_err *err)
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
static int step_solvency(coh_svc_chain_worker *w, coh_err *err)
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
    char tag[24], bal_dec[COH_U256_DEC_SIZE], net[80], owed[80];
    snprintf(tag, sizeof tag, "0x%llx", (unsigned long long)cursor);
    uint8_t bal[32];
    if ((rc = call_u256(w, bal, w->token, "balanceOf(address)", w->cfg.rewards, tag, err)) != 0)
        return rc;
    coh_u256_to_dec(bal_dec, bal);
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

/*
 * Whether this instance leads at this poll (coh_db_leader_try); logs leadership gained and lost.
 * A leadership gained starts from the database as after a restart: the state row is written
 * again at the next step, nothing in flight is remembered from an earlier term.
 */
static int lead(coh_svc_chain_worker *w)
{
    int held = 0;
    coh_err err = {0};
    int rc = coh_db_leader_try(w->leader, &held, &err);
    if (rc && strcmp(err.msg, w->leader_error) != 0) {
        coh_log_warn("chain leader: %s", err.msg);
        snprintf(w->leader_error, sizeof w->leader_error, "%s", err.msg);
    } else if (rc == 0) {
        w->leader_error[0] = '\0';
    }
    if (held == 2 && w->leading) /* its session ended since the last poll; a new one took it */
        coh_log_warn("chain leader: LOST the chain lock with its connection, and took it again");
    if (held == 2) {
        coh_log_info("chain leader: this instance holds the chain lock; it runs anchoring and "
                     "deposit watching now");
        w->promo.live = 0;
        w->due_seq = 0;
        w->standby_logged = 0;
        char reason[sizeof w->reason];
        snprintf(reason, sizeof reason, "%s", w->reason);
        w->state[0] = '\0'; /* the row may be another leader's: written again */
        if (w->stopped) {   /* stopped in an earlier term: still stopped until restarted */
            set_state(w, "stopped", reason, -1);
        } else {
            w->reason[0] = '\0';
            w->failures = w->refusals = 0;
            memset(&w->next_try, 0, sizeof w->next_try);
        }
    } else if (!held && w->leading) {
        coh_log_warn("chain leader: LOST the chain lock (%s); this instance stops anchoring and "
                     "deposit watching at once and tries to take it again at each poll",
                     rc ? err.msg : "not held");
        w->standby_logged = 1;
    } else if (!held && rc == 0 && !w->standby_logged) {
        coh_log_info("chain leader: another instance holds the chain lock; this one stands by "
                     "and takes over when it is released");
        w->standby_logged = 1;
    }
    w->leading = held != 0;
    return held != 0;
}

/* One poll: as the leader only, events, an anchoring step, the solvency check; always sleeps
 * poll_ms after. */
static int worker_step(void *arg)
{
    coh_svc_chain_worker *w = arg;
    if (!lead(w))
        return 0;
    coh_err err = {0};
    if (coh_svc_deposit_watch_step(&w->watch, &err) != 0)
        coh_log_warn("chain events: %s", err.msg);
    anchor_tick(w);
    memset(&err, 0, sizeof err);
    if (step_solvency(w, &err) != 0)
        coh_log_warn("solvency check: %s", err.msg);
    return 0;
}

int coh_svc_chain_worker_start(coh_svc_chain_worker **out,
                               const struct coh_svc_chain_worker_config *cfg, coh_err *err)
{
    *out = NULL;
    coh_svc_chain_worker *w = calloc(1, sizeof *w);
    if (!w)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    w->cfg = *cfg;
    if (w->cfg.confirmations < 1)
        w->cfg.confirmations = 1;
    if (w->cfg.max_failures < 1)
        w->cfg.max_failures = 10;
    if (w->cfg.backoff_ms < 1)
        w->cfg.backoff_ms = 2000;
    coh_chain_rpc_opts o = {10000, 2, 200};
    w->rpc = coh_chain_rpc_new(cfg->rpc_url, &o);
    int rc = w->rpc ? coh_crypto_address_from_seckey(w->signer, cfg->ledger_key) : COH_ERR_NOMEM;
    if (rc) {
        coh_chain_rpc_free(w->rpc);
        free(w);
        return coh_err_set(err, rc, "chain worker: cannot start");
    }
    coh_hex_encode(w->signer_hex, w->signer, 20, 1);
    /* The lock's connection names this instance in pg_stat_activity. */
    char host[64] = "", name[64];
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    snprintf(name, sizeof name, "cohortd chain %.32s pid %ld", host, (long)getpid());
    if ((rc = coh_db_leader_new(&w->leader, cfg->db, name, err)) != 0) {
        coh_chain_rpc_free(w->rpc);
        free(w);
        return rc;
    }
    w->cfg.rpc_url = NULL; /* not kept: the rpc object has its own copy */
    coh_svc_deposit_watch_init(&w->watch, w->rpc, &w->cfg);
    if ((rc = coh_worker_start(&w->thread, w->cfg.poll_ms, worker_step, w, err)) != 0) {
        coh_db_leader_free(w->leader);
        coh_chain_rpc_free(w->rpc);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void coh_svc_chain_worker_stop(coh_svc_chain_worker *w)
{
    if (!w)
        return;
    coh_worker_stop(w->thread);
    coh_db_leader_free(w->leader); /* the lock goes with the session: a standby takes over */
    coh_chain_rpc_free(w->rpc);
    coh_secbuf_free(w->own_key);
    free(w);
}
