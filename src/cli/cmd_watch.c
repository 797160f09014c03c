/*
 * cmd_watch: `cohort watch`, the guardian's watchman (docs/KEYS.md, who may move the money on
 * chain), run by the operator away from cohortd with read-only database
 * credentials and the guardian key.
 *
 * Every poll it reads the rewards contract's pending proposal (pending()) and finds its
 * Anchored log (ledgerRoot, claimsRoot, lastSeq, totalCredited, effectiveAt). Every proposal
 * is judged on its own, keyed by its log (transaction hash and log index), so a proposal
 * re-sent after a veto with the same (lastSeq, root) is judged again; a claims root vetoed
 * before on this contract (its Vetoed logs, and this process's own vetoes) is vetoed again
 * at once. Judging a proposal:
 * - walks the ledger entries from seq 1 up to its lastSeq as `cohort verify` does (again
 *   for every new proposal: entries may have been altered since an earlier walk)
 *   (coh_ledger_walk: links, hashes, signatures, key rotations), the ledger key at lastSeq
 *   being one the contract has had as anchorer (its AnchorerChanged logs);
 * - checks every pooled reward entry's private credits: exactly `count` of them, their
 *   credit-leaf root is the entry's root and their amounts sum to its amount; a pooled
 *   withdrawal's credit (if stored) is its researcher's, of its amount; no credit under any
 *   other entry (the credits are read as the claims query joins them);
 * - recomputes the claims root and its total (coh_db_chain_claims_at and
 *   coh_db_chain_claims_tree: the anchorer's own definition) and the batch root of the
 *   entries since an earlier proposal (coh_db_chain_batch_tree), in one READ ONLY
 *   REPEATABLE READ transaction, and compares them with claimsRoot, totalCredited and
 *   ledgerRoot.
 * Any difference means the anchorer key proposed something the ledger did not produce: the
 * proposal is vetoed with the guardian key, then claims are paused (pause(); --no-pause to
 * skip) until the operator has rotated the anchorer and unpauses (docs/KEYS.md). A lastSeq
 * beyond the database's head (a lagging replica?) is looked at again until the deadline nears,
 * then vetoed the same way. A proposal that cannot be judged (database error, malformed data,
 * no Anchored log) fails closed: once within half the challenge period of its effectiveAt,
 * claims are paused. Every poll it also compares the contract's effective claimsRoot() and
 * effectiveLastSeq() with the ledger and pauses when a root it did not find to be the
 * ledger's became effective (watch was down, say). Alerts are ALERT lines on stderr; good
 * proposals one line on stdout. Exit status: 0, or 3 once anything was alerted (a veto, a
 * pause, a bad effective root), when stopped by SIGINT/SIGTERM or after --once; 1 on errors
 * with --once; 2 on usage errors.
 */
#include "chain/chain.h"
#include "cli/cli.h"
#include "cli/http_client.h"
#include "db/db.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VETO_GAS 100000
#define MAX_FIRSTS 32 /* earlier proposals' lastSeq + 1 tried as a batch's first entry */

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* A pooled entry of the walk whose private credits are checked. */
struct posted {
    uint64_t seq;
    int kind; /* COH_LEDGER_REWARD or COH_LEDGER_WITHDRAWAL */
    uint64_t count;
    uint8_t root[32], amount[32], addr[20]; /* addr: a withdrawal's researcher */
};

/* A proposal as its Anchored log gives it. */
struct proposal {
    uint64_t seq, at;
    uint8_t ledger_root[32], claims_root[32], total[32];
    char key[100]; /* "txhash:logIndex" */
    char block[24]; /* its block, a 0x quantity */
    int have_log;
};

struct watch {
    coh_chain_rpc *rpc;
    coh_db_pool *db;
    coh_secbuf *guardian;
    uint8_t rewards[20];
    char from_block[24];
    uint64_t challenge; /* challengePeriod() */
    int no_pause;
    char judged[100]; /* the log of the last proposal found to be the ledger's ... */
    char judged_block[24]; /* ... its block ... */
    uint64_t judged_at; /* ... and effectiveAt */
    uint8_t judged_root[32];
    uint64_t judged_seq;
    char failed[100]; /* the proposal that could not be judged and paused claims */
    uint8_t (*vetoed)[32]; /* claims roots vetoed on this contract */
    size_t n_vetoed;
    uint8_t (*anchorers)[20]; /* every address the contract has had as anchorer */
    size_t n_anchorers;
    uint64_t firsts[MAX_FIRSTS]; /* earlier proposals' lastSeq + 1, newest first */
    size_t n_firsts;
    uint8_t eff_root[32]; /* the effective (lastSeq, root) last looked at */
    uint64_t eff_seq;
    /* the incremental walk of the ledger and its pooled entries */
    coh_ledger_walk *walk;
    char walked_for[100]; /* the proposal the walk was started for */
    uint8_t signer[20]; /* the ledger key at the end of the walk */
    struct posted *posted;
    size_t n_posted, cap_posted;
    int vetoes, alerts;
    long interval_ms; /* the poll */
};

static void walk_reset(struct watch *w)
{
    coh_ledger_walk_free(w->walk);
    w->walk = NULL;
    w->n_posted = 0;
}

/* Walks the ledger up to seq (continuing the walk so far). *beyond when the database holds
 * fewer entries; *broken (err says where) when the chain of entries does not verify. */
static int walk_to(struct watch *w, uint64_t seq, int *beyond, int *broken, coh_err *err)
{
    *beyond = *broken = 0;
    uint8_t none[20] = {0};
    if (w->walk && coh_ledger_walk_count(w->walk) > seq)
        walk_reset(w); /* an earlier lastSeq: walk again from the start */
    if (!w->walk && coh_ledger_walk_new(&w->walk, none)) /* the key is checked by signer_known */
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    while (coh_ledger_walk_count(w->walk) < seq) {
        struct coh_db_ledger_filter f = {.after = coh_ledger_walk_count(w->walk), .limit = 1000};
        coh_ledger_entry *es = NULL;
        size_t n = 0;
        int rc = coh_db_ledger_entries(&es, &n, w->db, &f, err);
        if (rc)
            return rc;
        if (n == 0) {
            free(es);
            *beyond = 1;
            return 0;
        }
        for (size_t i = 0; i < n && coh_ledger_walk_count(w->walk) < seq; i++) {
            const coh_ledger_entry *e = &es[i];
            if (coh_ledger_walk_add(w->walk, e, err)) {
                free(es);
                walk_reset(w);
                *broken = 1;
                return 0;
            }
            memcpy(w->signer, e->signer, 20); /* a key rotation hands over to its new key */
            const char *next = "";
            if (e->kind == COH_LEDGER_KEY_ROTATION &&
                (coh_ledger_account_parse(e->credit, NULL, &next) != 0 ||
                 coh_hex_decode_exact(w->signer, 20, next) != 0))
                memcpy(w->signer, e->signer, 20);
            int pooled = strcmp(e->credit, COH_LEDGER_POOL_ACCOUNT) == 0 &&
                         (e->kind == COH_LEDGER_REWARD || e->kind == COH_LEDGER_WITHDRAWAL);
            if (!pooled)
                continue;
            if (w->n_posted == w->cap_posted) {
                size_t cap = w->cap_posted ? 2 * w->cap_posted : 64;
                struct posted *p = realloc(w->posted, cap * sizeof *p);
                if (!p) {
                    free(es);
                    walk_reset(w);
                    return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
                }
                w->posted = p;
                w->cap_posted = cap;
            }
            struct posted *p = &w->posted[w->n_posted];
            memset(p, 0, sizeof *p);
            p->seq = e->seq;
            p->kind = e->kind;
            memcpy(p->amount, e->amount, 32);
            if (e->kind == COH_LEDGER_REWARD &&
                coh_ledger_credits_ref_parse(e->ref_contribution, &p->count, p->root) != 0) {
                free(es);
                walk_reset(w);
                *broken = 1;
                return coh_err_set(err, COH_ERR_INVALID, "entry %llu: malformed credits reference",
                                   (unsigned long long)e->seq);
            }
            int dkind = 0;
            const char *researcher = "";
            if (e->kind == COH_LEDGER_WITHDRAWAL &&
                (coh_ledger_account_parse(e->debit, &dkind, &researcher) != 0 ||
                 dkind != COH_LEDGER_ACCOUNT_AVAILABLE ||
                 coh_hex_decode_exact(p->addr, 20, researcher) != 0)) {
                free(es);
                walk_reset(w);
                *broken = 1;
                return coh_err_set(err, COH_ERR_INVALID, "entry %llu: malformed account",
                                   (unsigned long long)e->seq);
            }
            w->n_posted++;
        }
        free(es);
    }
    return 0;
}

/* The walked ledger key at the end of the walk is one the contract has had as anchorer. */
static int signer_known(struct watch *w, char *why, size_t whylen)
{
    if (coh_ledger_walk_count(w->walk) == 0)
        return 1;
    for (size_t i = 0; i < w->n_anchorers; i++)
        if (memcmp(w->anchorers[i], w->signer, 20) == 0)
            return 1;
    char a[COH_ADDR_HEX_SIZE];
    coh_crypto_address_format(a, w->signer);
    snprintf(why, whylen, "the ledger's key at that entry, %s, was never the contract's anchorer",
             a);
    return 0;
}

/* Checks the private credits of every pooled entry up to seq (rows: seq, address hex, amount,
 * salt hex, by seq). 0 when they match; else why says which. Errors: malformed data. */
static int credits_check(struct watch *w, PGresult *r, uint64_t seq, char *why, size_t whylen,
                         int *bad, coh_err *err)
{
    *bad = 0;
    int rows = PQntuples(r), i = 0;
    size_t k = 0;
    uint8_t(*leaves)[32] = malloc(((size_t)rows + 1) * 32);
    if (!leaves)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    int rc = 0;
    while (rc == 0 && !*bad && (i < rows || (k < w->n_posted && w->posted[k].seq <= seq))) {
        uint64_t gs = i < rows ? strtoull(PQgetvalue(r, i, 0), NULL, 10) : UINT64_MAX;
        while (k < w->n_posted && w->posted[k].seq < gs && w->posted[k].seq <= seq) {
            if (w->posted[k].kind == COH_LEDGER_REWARD) {
                snprintf(why, whylen, "reward entry %llu has no private credits",
                         (unsigned long long)w->posted[k].seq);
                *bad = 1;
                break;
            }
            k++;
        }
        if (*bad || i >= rows)
            break;
        const struct posted *p = k < w->n_posted && w->posted[k].seq == gs ? &w->posted[k] : NULL;
        size_t n = 0;
        uint8_t sum[32] = {0}, addr[20], amount[32], salt[32];
        int one_addr_ok = 1;
        for (; i < rows && strtoull(PQgetvalue(r, i, 0), NULL, 10) == gs; i++, n++) {
            if (coh_hex_decode_exact(addr, 20, PQgetvalue(r, i, 1)) ||
                coh_u256_from_dec(amount, PQgetvalue(r, i, 2)) ||
                coh_hex_decode_exact(salt, 32, PQgetvalue(r, i, 3))) {
                rc = coh_err_set(err, COH_ERR_DB, "a credit of entry %llu is malformed",
                                 (unsigned long long)gs);
                break;
            }
            if (coh_u256_add(sum, sum, amount) != 0) {
                rc = coh_err_set(err, COH_ERR_DB, "the credits of entry %llu exceed uint256",
                                 (unsigned long long)gs);
                break;
            }
            coh_ledger_credit_leaf(leaves[n], addr, amount, salt);
            if (p && p->kind == COH_LEDGER_WITHDRAWAL && memcmp(addr, p->addr, 20) != 0)
                one_addr_ok = 0;
        }
        if (rc)
            break;
        if (!p) {
            snprintf(why, whylen, "entry %llu, not a pooled reward or withdrawal, has %zu "
                                  "private credits", (unsigned long long)gs, n);
            *bad = 1;
        } else if (p->kind == COH_LEDGER_WITHDRAWAL) {
            if (n != 1 || !one_addr_ok || coh_u256_cmp(sum, p->amount) != 0) {
                snprintf(why, whylen, "withdrawal entry %llu: its private credits (%zu) are not "
                                      "its researcher's amount", (unsigned long long)gs, n);
                *bad = 1;
            }
        } else {
            uint8_t root[32];
            coh_ledger_merkle *t = NULL;
            if (coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, n, 1)) {
                rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
                break;
            }
            coh_ledger_merkle_root(root, t);
            coh_ledger_merkle_free(t);
            if (n != p->count || memcmp(root, p->root, 32) != 0 ||
                coh_u256_cmp(sum, p->amount) != 0) {
                char rh[COH_HASH_HEX_SIZE];
                coh_hex_encode(rh, root, 32, 1);
                snprintf(why, whylen, "reward entry %llu publishes %llu credits and their root "
                                      "but the database holds %zu with root %s",
                         (unsigned long long)gs, (unsigned long long)p->count, n, rh);
                *bad = 1;
            }
        }
        k += p ? 1 : 0;
    }
    free(leaves);
    return rc;
}

enum { VERDICT_OK, VERDICT_FORGED, VERDICT_BEYOND };

/*
 * Judges (seq, claims root) and, with the Anchored log, ledgerRoot and totalCredited against
 * the ledger. *verdict and, unless OK, why. Errors: the proposal cannot be judged.
 */
static int judge(int *verdict, char *why, size_t whylen, struct watch *w, const struct proposal *pr,
                 coh_err *err)
{
    *verdict = VERDICT_OK;
    int beyond = 0, broken = 0;
    int rc = walk_to(w, pr->seq, &beyond, &broken, err);
    if (rc)
        return rc;
    if (beyond) {
        *verdict = VERDICT_BEYOND;
        snprintf(why, whylen, "its lastSeq %llu is beyond the ledger's head",
                 (unsigned long long)pr->seq);
        return 0;
    }
    if (broken || !signer_known(w, why, whylen)) {
        if (broken)
            snprintf(why, whylen, "the ledger's entries do not verify: %s", err->msg);
        memset(err, 0, sizeof *err);
        *verdict = VERDICT_FORGED;
        return 0;
    }
    coh_db_conn *c = coh_db_acquire(w->db, 5000, err);
    if (!c)
        return err->code;
    PGresult *r = NULL;
    coh_ledger_merkle *t = NULL;
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)pr->seq);
    const char *pp[1] = {s};
    uint8_t want[32] = {0}, total[32] = {0};
    int bad = 0;
    /* READ ONLY: this process never writes, whatever its credentials allow. */
    rc = coh_db_cmd(c, "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    /* The credits as the claims query counts them (joined to their entry). */
    if (rc == 0 &&
        !(r = coh_db_exec(c,
                          "SELECT e.seq, substr(c.address, 3), c.amount::text, "
                          "encode(c.salt, 'hex') FROM ledger_credits c JOIN ledger_entries e ON "
                          "e.idempotency_key = c.entry_key WHERE e.seq <= $1::bigint "
                          "ORDER BY e.seq",
                          1, pp, err)))
        rc = err->code;
    if (rc == 0)
        rc = credits_check(w, r, pr->seq, why, whylen, &bad, err);
    PQclear(r);
    r = NULL;
    if (rc == 0 && !bad && (rc = coh_db_chain_claims_at(&r, c, pr->seq, err)) == 0 &&
        (rc = coh_db_chain_claims_tree(&t, r, err)) == 0) {
        if (t)
            coh_ledger_merkle_root(want, t); /* no leaves: 32 zero bytes, as the anchorer sends */
        for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
            uint8_t m[32];
            if (coh_u256_from_dec(m, PQgetvalue(r, i, 1)) || coh_u256_add(total, total, m) != 0)
                rc = coh_err_set(err, COH_ERR_DB, "the claims total exceeds uint256");
        }
        char gh[COH_HASH_HEX_SIZE], wh[COH_HASH_HEX_SIZE];
        coh_hex_encode(gh, pr->claims_root, 32, 1);
        coh_hex_encode(wh, want, 32, 1);
        if (rc == 0 && memcmp(want, pr->claims_root, 32) != 0) {
            snprintf(why, whylen, "the ledger gives claims root %s at entry %llu", wh,
                     (unsigned long long)pr->seq);
            bad = 1;
        } else if (rc == 0 && pr->have_log && coh_u256_cmp(total, pr->total) != 0) {
            char td[COH_U256_DEC_SIZE], pd[COH_U256_DEC_SIZE];
            coh_u256_to_dec(td, total);
            coh_u256_to_dec(pd, pr->total);
            snprintf(why, whylen, "its totalCredited %s is not the ledger's %s", pd, td);
            bad = 1;
        }
    }
    /* The ledger root: the batch tree of the entries since an earlier proposal, as the
     * anchorer builds it (its batch starts after its previous proposal's lastSeq). */
    if (rc == 0 && !bad && pr->have_log) {
        int found = 0;
        for (size_t i = 0; rc == 0 && !found && i < w->n_firsts; i++) {
            coh_ledger_merkle *b = NULL;
            uint8_t lr[32];
            if (w->firsts[i] > pr->seq)
                continue;
            if ((rc = coh_db_chain_batch_tree(&b, c, w->firsts[i], pr->seq, err)) != 0)
                break;
            coh_ledger_merkle_root(lr, b);
            coh_ledger_merkle_free(b);
            found = memcmp(lr, pr->ledger_root, 32) == 0;
        }
        if (rc == 0 && !found) {
            char lh[COH_HASH_HEX_SIZE];
            coh_hex_encode(lh, pr->ledger_root, 32, 1);
            snprintf(why, whylen, "its ledgerRoot %s is no batch root the ledger gives up to "
                                  "entry %llu", lh, (unsigned long long)pr->seq);
            bad = 1;
        }
    }
    coh_ledger_merkle_free(t);
    PQclear(r);
    coh_db_release(c); /* rolls the read-only transaction back */
    if (rc == 0 && bad)
        *verdict = VERDICT_FORGED;
    return rc;
}

static int send_guardian(struct watch *w, const char *fn, char tx_hex[COH_HASH_HEX_SIZE],
                         coh_err *err)
{
    coh_chain_buf data;
    coh_chain_buf_init(&data);
    coh_chain_abi_calldata(&data, fn, NULL, 0);
    uint8_t hash[32] = {0};
    uint64_t block = 0;
    int ok = 0;
    int rc = data.oom ? coh_err_set(err, COH_ERR_NOMEM, "out of memory")
                      : coh_chain_send_call(hash, w->rpc, w->guardian, w->rewards, data.data,
                                            data.len, VETO_GAS, err);
    coh_chain_buf_clear(&data);
    if (rc == 0)
        rc = coh_chain_wait_receipt(&ok, &block, w->rpc, hash, 30000, err);
    coh_hex_encode(tx_hex, hash, 32, 1);
    if (rc == 0 && !ok)
        rc = coh_err_set(err, COH_CHAIN_ERPC, "%s transaction %s reverted", fn, tx_hex);
    return rc;
}

/* A view returning one word. */
static int view_word(struct watch *w, uint8_t word[32], const char *fn, coh_err *err)
{
    uint8_t sel[4], *ret = NULL;
    size_t n = 0;
    coh_chain_abi_selector(sel, fn);
    int rc = coh_chain_rpc_eth_call(w->rpc, &ret, &n, w->rewards, sel, 4, err);
    if (rc == 0 && coh_chain_abi_get_word(word, ret, n, 0))
        rc = coh_err_set(err, COH_CHAIN_EABI, "%s: malformed answer", fn);
    free(ret);
    return rc;
}

/* Pauses claims (unless paused already); why names the reason in the alert. */
static void pause_claims(struct watch *w, const char *why)
{
    coh_err err = {0};
    uint8_t word[32];
    char tx[COH_HASH_HEX_SIZE];
    if (view_word(w, word, "paused()", &err) == 0 && word[31]) {
        fprintf(stderr, "cohort watch: ALERT: claims are paused already (%s)\n", why);
        w->alerts++;
        return;
    }
    if (send_guardian(w, "pause()", tx, &err) != 0) {
        fprintf(stderr, "cohort watch: ALERT: PAUSE FAILED (%s): %s\n", why, err.msg);
        w->alerts++;
        return;
    }
    w->alerts++;
    fprintf(stderr, "cohort watch: ALERT: paused claims in transaction %s (%s); rotate the "
                    "anchorer (setAnchorer), then unpause (docs/KEYS.md)\n", tx, why);
}

static int root_vetoed(const struct watch *w, const uint8_t root[32])
{
    for (size_t i = 0; i < w->n_vetoed; i++)
        if (memcmp(w->vetoed[i], root, 32) == 0)
            return 1;
    return 0;
}

static void remember_vetoed(struct watch *w, const uint8_t root[32])
{
    if (root_vetoed(w, root))
        return;
    uint8_t(*v)[32] = realloc(w->vetoed, (w->n_vetoed + 1) * 32);
    if (!v)
        return;
    w->vetoed = v;
    memcpy(w->vetoed[w->n_vetoed++], root, 32);
}

/*
 * Reads the contract's Anchored, Vetoed and AnchorerChanged logs: the proposal (seq, root, at)
 * (the last Anchored log that matches; pr->have_log), the claims roots vetoed, the anchorers,
 * and earlier proposals' lastSeq + 1 as batch starts.
 */
static int read_logs(struct watch *w, struct proposal *pr, const char *from, coh_err *err)
{
    static const char *const sigs[3] = {
        "Anchored(uint64,bytes32,bytes32,uint256,uint64)", "Vetoed(uint64,bytes32,address)",
        "AnchorerChanged(address,address)"};
    uint8_t t[3][32];
    for (int i = 0; i < 3; i++)
        coh_crypto_keccak256(t[i], sigs[i], strlen(sigs[i]));
    json_t *logs = NULL;
    int rc = coh_chain_rpc_call(
        w->rpc, &logs, "eth_getLogs",
        json_pack("[{s:s, s:s, s:o, s:[[o, o, o]]}]", "fromBlock", from, "toBlock",
                  "latest", "address", coh_chain_json_hex(w->rewards, 20), "topics",
                  coh_chain_json_hex(t[0], 32), coh_chain_json_hex(t[1], 32),
                  coh_chain_json_hex(t[2], 32)),
        err);
    if (rc)
        return rc;
    pr->have_log = 0;
    w->n_anchorers = 0;
    w->n_firsts = 0;
    uint64_t prev[MAX_FIRSTS];
    size_t np = 0;
    size_t i;
    json_t *lg;
    json_array_foreach(logs, i, lg)
    {
        json_t *topics = json_object_get(lg, "topics");
        const char *a = json_string_value(json_object_get(lg, "address"));
        const char *t0 = json_string_value(json_array_get(topics, 0));
        const char *t1 = json_string_value(json_array_get(topics, 1));
        const char *d = json_string_value(json_object_get(lg, "data"));
        uint8_t addr[20], h0[32], h1[32], data[128];
        size_t dl = d && strlen(d) >= 2 ? (strlen(d) - 2) / 2 : 0;
        if (!a || !t0 || !t1 || !d || dl > 128 || strlen(a) != 42 || strlen(t0) != 66 ||
            strlen(t1) != 66 || coh_hex_decode_exact(addr, 20, a + 2) ||
            coh_hex_decode_exact(h0, 32, t0 + 2) || coh_hex_decode_exact(h1, 32, t1 + 2) ||
            coh_hex_decode_exact(data, dl, d + 2) || memcmp(addr, w->rewards, 20) != 0)
            continue;
        if (memcmp(h0, t[2], 32) == 0) { /* AnchorerChanged: topic 2 the new anchorer */
            const char *t2 = json_string_value(json_array_get(topics, 2));
            uint8_t h2[32];
            if (!t2 || strlen(t2) != 66 || coh_hex_decode_exact(h2, 32, t2 + 2))
                continue;
            uint8_t(*v)[20] = realloc(w->anchorers, (w->n_anchorers + 1) * 20);
            if (!v)
                break;
            w->anchorers = v;
            memcpy(w->anchorers[w->n_anchorers++], h2 + 12, 20);
            continue;
        }
        uint64_t seq = 0;
        for (int b = 24; b < 32; b++)
            seq = seq << 8 | h1[b];
        if (memcmp(h0, t[1], 32) == 0) { /* Vetoed: data claimsRoot, guardian */
            if (dl >= 32)
                remember_vetoed(w, data);
            continue;
        }
        /* Anchored: data ledgerRoot, claimsRoot, totalCredited, effectiveAt */
        uint64_t at = 0;
        if (dl != 128 || coh_chain_abi_get_u64(&at, data, 128, 3))
            continue;
        if (seq == pr->seq && at == pr->at && memcmp(data + 32, pr->claims_root, 32) == 0) {
            const char *tx = json_string_value(json_object_get(lg, "transactionHash"));
            const char *li = json_string_value(json_object_get(lg, "logIndex"));
            const char *bn = json_string_value(json_object_get(lg, "blockNumber"));
            snprintf(pr->block, sizeof pr->block, "%s", bn ? bn : "0x0");
            memcpy(pr->ledger_root, data, 32);
            memcpy(pr->total, data + 64, 32);
            snprintf(pr->key, sizeof pr->key, "%s:%s", tx ? tx : "?", li ? li : "?");
            pr->have_log = 1;
            /* the batch starts after an earlier proposal: those before this log */
            w->n_firsts = 0;
            for (size_t k = np; k > 0 && w->n_firsts < MAX_FIRSTS - 1; k--)
                w->firsts[w->n_firsts++] = prev[(k - 1) % MAX_FIRSTS] + 1;
        }
        if (np < (size_t)-1)
            prev[np++ % MAX_FIRSTS] = seq;
    }
    json_decref(logs);
    if (pr->have_log) {
        if (w->n_firsts > MAX_FIRSTS - 1) /* unreachable: bounded above */
            w->n_firsts = MAX_FIRSTS - 1;
        w->firsts[w->n_firsts++] = 1; /* the first batch */
    }
    /* the contract's anchorer now, in case its logs lag */
    uint8_t word[32];
    if (view_word(w, word, "anchorer()", err) == 0) {
        uint8_t(*v)[20] = realloc(w->anchorers, (w->n_anchorers + 1) * 20);
        if (v) {
            w->anchorers = v;
            memcpy(w->anchorers[w->n_anchorers++], word + 12, 20);
        }
    }
    memset(err, 0, sizeof *err);
    return 0;
}

/* Vetoes the pending proposal, remembers its root, and pauses claims. */
static int veto_forged(struct watch *w, const struct proposal *pr, const char *why, coh_err *err)
{
    char got_hex[COH_HASH_HEX_SIZE], tx[COH_HASH_HEX_SIZE];
    coh_hex_encode(got_hex, pr->claims_root, 32, 1);
    fprintf(stderr, "cohort watch: ALERT: proposal of entries up to %llu with claims root %s was "
                    "not produced by the ledger (%s); vetoing\n",
            (unsigned long long)pr->seq, got_hex, why);
    w->alerts++;
    remember_vetoed(w, pr->claims_root);
    int rc = send_guardian(w, "veto()", tx, err);
    if (rc != 0) {
        fprintf(stderr, "cohort watch: ALERT: VETO FAILED for proposal %llu: %s\n",
                (unsigned long long)pr->seq, err->msg);
        return rc; /* tried again at the next poll */
    }
    w->vetoes++;
    fprintf(stderr, "cohort watch: ALERT: vetoed proposal %llu in transaction %s; the anchorer "
                    "key proposed it: replace it (docs/KEYS.md)\n",
            (unsigned long long)pr->seq, tx);
    if (!w->no_pause)
        pause_claims(w, "the anchorer key proposed a forged root");
    return 0;
}

/* The effective root: alerts and pauses when one this watch did not find to be the ledger's
 * became effective and differs from the ledger. */
static int check_effective(struct watch *w, coh_err *err)
{
    uint8_t root[32], word[32];
    int rc = view_word(w, root, "claimsRoot()", err);
    if (rc == 0)
        rc = view_word(w, word, "effectiveLastSeq()", err);
    if (rc)
        return rc;
    uint64_t seq = 0;
    for (int b = 24; b < 32; b++)
        seq = seq << 8 | word[b];
    uint8_t small[32] = {0};
    memcpy(small, root, 31);
    if (seq == 0 || (memcmp(small, (uint8_t[32]){0}, 32) == 0 && root[31] <= 2))
        return 0; /* none effective yet (NO_ROOT) */
    if (seq == w->eff_seq && memcmp(root, w->eff_root, 32) == 0)
        return 0;
    if (seq == w->judged_seq && memcmp(root, w->judged_root, 32) == 0) {
        w->eff_seq = seq;
        memcpy(w->eff_root, root, 32);
        return 0;
    }
    struct proposal pr;
    memset(&pr, 0, sizeof pr);
    pr.seq = seq;
    memcpy(pr.claims_root, root, 32);
    int verdict = VERDICT_OK;
    char why[400] = "";
    /* the anchorers and vetoed roots (its Anchored log is not looked for: pr.at is 0) */
    if ((rc = read_logs(w, &pr, w->from_block, err)) != 0)
        return rc;
    walk_reset(w); /* from seq 1 again, as for a new proposal */
    w->walked_for[0] = '\0';
    if ((rc = judge(&verdict, why, sizeof why, w, &pr, err)) != 0)
        return rc;
    w->eff_seq = seq;
    memcpy(w->eff_root, root, 32);
    if (verdict == VERDICT_OK)
        return 0;
    char rh[COH_HASH_HEX_SIZE];
    coh_hex_encode(rh, root, 32, 1);
    fprintf(stderr, "cohort watch: ALERT: the effective claims root %s (entries up to %llu) was "
                    "never checked and is not the ledger's (%s)\n",
            rh, (unsigned long long)seq, why);
    w->alerts++;
    pause_claims(w, "an unchecked root became effective");
    return 0;
}

/* One look at the contract: judges (and vetoes) the pending proposal unless judged already. */
static int step(struct watch *w, coh_err *err)
{
    uint8_t sel[4], *ret = NULL;
    size_t n = 0;
    coh_chain_abi_selector(sel, "pending()");
    int rc = coh_chain_rpc_eth_call(w->rpc, &ret, &n, w->rewards, sel, 4, err);
    struct proposal pr;
    memset(&pr, 0, sizeof pr);
    if (rc == 0 && (coh_chain_abi_get_word(pr.claims_root, ret, n, 0) ||
                    coh_chain_abi_get_u64(&pr.seq, ret, n, 1) ||
                    coh_chain_abi_get_u64(&pr.at, ret, n, 2)))
        rc = coh_err_set(err, COH_CHAIN_EABI, "pending(): malformed answer");
    free(ret);
    if (rc)
        return rc;
    if (pr.at == 0)
        return check_effective(w, err); /* nothing in its challenge period */
    long long left_ms = ((long long)pr.at - (long long)time(NULL)) * 1000;
    snprintf(pr.key, sizeof pr.key, "%llu@%llu", (unsigned long long)pr.seq,
             (unsigned long long)pr.at); /* until its log is found */
    /* The proposal judged last, unless proposed again since: only the logs from its block on
     * are read (the whole history is read for a proposal to judge). */
    int same = w->judged[0] && pr.seq == w->judged_seq && pr.at == w->judged_at &&
               memcmp(pr.claims_root, w->judged_root, 32) == 0;
    rc = read_logs(w, &pr, same ? w->judged_block : w->from_block, err);
    if (rc == 0 && same && pr.have_log && strcmp(pr.key, w->judged) == 0)
        return 0;
    if (rc == 0 && same)
        rc = read_logs(w, &pr, w->from_block, err);
    if (rc == 0 && !pr.have_log)
        rc = coh_err_set(err, COH_ERR_NOTFOUND, "no Anchored log for the pending proposal %llu",
                         (unsigned long long)pr.seq);
    if (rc == 0 && strcmp(pr.key, w->judged) == 0)
        return 0; /* this very proposal was found to be the ledger's */
    int verdict = VERDICT_OK;
    char why[400] = "";
    if (rc == 0 && root_vetoed(w, pr.claims_root)) {
        verdict = VERDICT_FORGED;
        snprintf(why, sizeof why, "its claims root was vetoed before");
    } else if (rc == 0) {
        /* Each new proposal re-walks the ledger from seq 1: entries walked for an earlier one
         * may have been altered since by whoever can write to the database. */
        if (strcmp(pr.key, w->walked_for) != 0) {
            walk_reset(w);
            snprintf(w->walked_for, sizeof w->walked_for, "%s", pr.key);
        }
        rc = judge(&verdict, why, sizeof why, w, &pr, err);
    }
    if (rc) {
        /* Fail closed: once within half the challenge period of effectiveAt, pause claims. */
        if (left_ms <= (long long)w->challenge * 500 && strcmp(w->failed, pr.key) != 0) {
            snprintf(w->failed, sizeof w->failed, "%s", pr.key);
            char msg[sizeof err->msg + 120];
            snprintf(msg, sizeof msg, "proposal %llu could not be checked: %s",
                     (unsigned long long)pr.seq, err->msg);
            fprintf(stderr, "cohort watch: ALERT: %s; it becomes effective at unix time %llu\n",
                    msg, (unsigned long long)pr.at);
            pause_claims(w, "a proposal could not be checked");
        }
        return rc;
    }
    /* A database replica may lag the primary cohortd writes to: a lastSeq beyond its head is
     * looked at again while the deadline allows (entries below the head never change, so a
     * root that differs there is vetoed at once). */
    if (verdict == VERDICT_BEYOND && left_ms > 3 * w->interval_ms + 2000)
        return 0;
    if (verdict == VERDICT_OK) {
        char got_hex[COH_HASH_HEX_SIZE];
        coh_hex_encode(got_hex, pr.claims_root, 32, 1);
        snprintf(w->judged, sizeof w->judged, "%s", pr.key);
        w->judged_seq = pr.seq;
        w->judged_at = pr.at;
        snprintf(w->judged_block, sizeof w->judged_block, "%s", pr.block);
        memcpy(w->judged_root, pr.claims_root, 32);
        printf("cohort watch: ok: proposal of entries up to %llu, claims root %s, is the ledger's; "
               "effective at unix time %llu\n",
               (unsigned long long)pr.seq, got_hex, (unsigned long long)pr.at);
        fflush(stdout);
        return 0;
    }
    return veto_forged(w, &pr, why, err);
}
/* The rewards contract from cohortd's GET /v1/chain. */
static int contract_from(uint8_t out[20], const char *url, coh_err *err)
{
    char u[1100];
    snprintf(u, sizeof u, "%s/v1/chain", url);
    json_t *j = NULL;
    long status = 0;
    int rc = coh_cli_http_call(&j, &status, u, NULL, NULL, err);
    if (rc)
        return rc;
    const char *c = json_string_value(json_object_get(json_object_get(j, "contracts"), "rewards"));
    rc = c && coh_crypto_address_parse(out, c) == 0
             ? 0
             : coh_err_set(err, COH_ERR_INVALID, "%s names no rewards contract", u);
    json_decref(j);
    return rc;
}

static int run(int argc, char **argv);

const struct coh_cli_cmd coh_cli_cmd_watch = {
    "watch", "guardian: veto any rewards proposal the ledger did not produce",
    "usage: cohort watch --url URL --rpc URL --database-url DBURL --guardian-key FILE\n"
    "                    [--contract 0x..] [--interval-ms N] [--from-block N] [--no-pause]\n"
    "                    [--once]\n\n"
    "Follows the rewards contract's proposals (the contract named by cohortd's GET /v1/chain at\n"
    "--url, or --contract) on the node at --rpc, reading its logs from block N (default 0).\n"
    "For each proposal in its challenge period it walks the ledger in the database at\n"
    "--database-url (hashes, signatures, each pooled reward's private credits) and recomputes\n"
    "the claims root, its total and the ledger root (give it a read-only role; it only reads,\n"
    "in READ ONLY transactions). When anything differs, the claims root was vetoed before, or\n"
    "the proposal's lastSeq is beyond the ledger's head, it vetoes the proposal with the\n"
    "guardian key in FILE (64 hex characters, mode 0600), pauses claims (unless --no-pause)\n"
    "and prints ALERT lines on stderr. A proposal it cannot check pauses claims once within\n"
    "half the challenge period of becoming effective; an effective root it never checked and\n"
    "that is not the ledger's pauses claims too. Polls every N ms (default 1000; keep it well\n"
    "under the challenge period). --once checks the current proposal and exits. Exit status:\n"
    "0; 3 when anything was alerted (a veto, a pause); 1 on errors with --once.\n",
    run};

static int run(int argc, char **argv)
{
    const char *url = NULL, *rpc_url = NULL, *db_url = NULL, *key_file = NULL, *contract = NULL;
    long interval = 1000;
    long long from_block = 0;
    int once = 0, no_pause = 0;
    if (coh_cli_wants_help(argc, argv)) {
        fputs(coh_cli_cmd_watch.usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        char opt[64], *v = NULL;
        if (strcmp(argv[i], "--once") == 0) {
            once = 1;
            continue;
        }
        if (strcmp(argv[i], "--no-pause") == 0) {
            no_pause = 1;
            continue;
        }
        int rc = coh_cli_option_next(&coh_cli_cmd_watch, argc, argv, &i, opt, &v);
        if (rc)
            return rc;
        if (strcmp(opt, "--url") == 0)
            url = v;
        else if (strcmp(opt, "--rpc") == 0)
            rpc_url = v;
        else if (strcmp(opt, "--database-url") == 0)
            db_url = v;
        else if (strcmp(opt, "--guardian-key") == 0)
            key_file = v;
        else if (strcmp(opt, "--contract") == 0)
            contract = v;
        else if (strcmp(opt, "--interval-ms") == 0)
            interval = strtol(v, NULL, 10);
        else if (strcmp(opt, "--from-block") == 0)
            from_block = strtoll(v, NULL, 10);
        else
            return coh_cli_usage_error(&coh_cli_cmd_watch, "unknown option '%s'", opt);
    }
    if ((!url && !contract) || !rpc_url || !db_url || !key_file)
        return coh_cli_usage_error(&coh_cli_cmd_watch, "--url (or --contract), --rpc, "
                                                        "--database-url and --guardian-key are "
                                                        "required");
    if (interval < 50 || interval > 600000)
        return coh_cli_usage_error(&coh_cli_cmd_watch, "--interval-ms must be 50..600000");
    if (from_block < 0)
        return coh_cli_usage_error(&coh_cli_cmd_watch, "--from-block must be >= 0");
    struct watch w;
    memset(&w, 0, sizeof w);
    w.interval_ms = interval;
    w.no_pause = no_pause;
    snprintf(w.from_block, sizeof w.from_block, "0x%llx", (unsigned long long)from_block);
    coh_err err = {0};
    int status = 1;
    if (coh_key_file_read(&w.guardian, 32, key_file, "guardian key", &err)) {
        coh_cli_fail("watch", "%s", err.msg);
        goto out;
    }
    if (contract ? coh_crypto_address_parse(w.rewards, contract) != 0
                 : contract_from(w.rewards, url, &err) != 0) {
        coh_cli_fail("watch", "%s", contract ? "--contract is not an address" : err.msg);
        goto out;
    }
    coh_chain_rpc_opts o = {10000, 2, 200};
    if (!(w.rpc = coh_chain_rpc_new(rpc_url, &o)) ||
        coh_db_pool_new(&w.db, db_url, 1, 30000, &err)) {
        coh_cli_fail("watch", "%s", w.rpc ? err.msg : "out of memory");
        goto out;
    }
    /* The guardian must be the contract's, or a veto would only revert. */
    uint8_t sel[4], *ret = NULL, me[20], word[32];
    size_t n = 0;
    coh_chain_abi_selector(sel, "guardian()");
    if (coh_crypto_address_from_seckey(me, w.guardian) ||
        coh_chain_rpc_eth_call(w.rpc, &ret, &n, w.rewards, sel, 4, &err) ||
        coh_chain_abi_get_word(word, ret, n, 0)) {
        free(ret);
        coh_cli_fail("watch", "guardian(): %s", err.msg[0] ? err.msg : "malformed answer");
        goto out;
    }
    free(ret);
    char me_hex[COH_ADDR_HEX_SIZE], c_hex[COH_ADDR_HEX_SIZE];
    coh_crypto_address_format(me_hex, me);
    coh_crypto_address_format(c_hex, w.rewards);
    if (memcmp(word + 12, me, 20) != 0) {
        coh_cli_fail("watch", "%s is not the guardian of %s", me_hex, c_hex);
        goto out;
    }
    if (view_word(&w, word, "challengePeriod()", &err)) {
        coh_cli_fail("watch", "challengePeriod(): %s", err.msg);
        goto out;
    }
    for (int b = 24; b < 32; b++)
        w.challenge = w.challenge << 8 | word[b];
    printf("cohort watch: guarding %s as %s\n", c_hex, me_hex);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    status = 0;
    while (!stop_flag) {
        memset(&err, 0, sizeof err);
        if (step(&w, &err) != 0) {
            fprintf(stderr, "cohort watch: %s\n", err.msg);
            if (once) {
                status = 1;
                break;
            }
        }
        if (once)
            break;
        struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w.vetoes || w.alerts)
        status = 3;
out:
    coh_db_pool_free(w.db);
    coh_chain_rpc_free(w.rpc);
    coh_secbuf_free(w.guardian);
    coh_ledger_walk_free(w.walk);
    free(w.posted);
    free(w.vetoed);
    free(w.anchorers);
    return status;
}
