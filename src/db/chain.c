/*
 * chain (db): queries for anchoring and event crediting (sql/005_chain.sql,
 * 006_chain_solvency.sql). Anchors are created in one transaction that fixes the batch
 * (first_seq..last_seq), snapshots the claims leaves (cumulative credits to each payable:<address>
 * up to last_seq) and stores both roots; the partial unique index on open anchors makes concurrent
 * cohortd processes agree on one. Byte strings cross the SQL boundary as hex text through
 * decode()/encode().
 */
#include "db/db.h"
#include "ledger/ledger.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(char *out, const uint8_t *b, size_t n)
{
    coh_hex_encode(out, b, n, 0);
}

static int unhex(uint8_t *out, size_t n, const char *h)
{
    return coh_hex_decode_exact(out, n, h) == 0 ? 0 : COH_ERR_DB;
}

static int anchor_from_row(struct coh_db_chain_anchor *a, PGresult *r, int row)
{
    memset(a, 0, sizeof *a);
    a->id = atoll(PQgetvalue(r, row, 0));
    a->first_seq = strtoull(PQgetvalue(r, row, 1), NULL, 10);
    a->last_seq = strtoull(PQgetvalue(r, row, 2), NULL, 10);
    a->n_claims = atoll(PQgetvalue(r, row, 5));
    snprintf(a->status, sizeof a->status, "%s", PQgetvalue(r, row, 6));
    if (unhex(a->ledger_root, 32, PQgetvalue(r, row, 3)) ||
        unhex(a->claims_root, 32, PQgetvalue(r, row, 4)) ||
        coh_u256_from_dec(a->total_credited, PQgetvalue(r, row, 7)))
        return COH_ERR_DB;
    return 0;
}

#define ANCHOR_COLS                                                                                \
    "id, first_seq, last_seq, encode(ledger_root, 'hex'), encode(claims_root, 'hex'), n_claims, "  \
    "status, total_credited::text"

int coh_db_chain_anchor_open(struct coh_db_chain_anchor *out, coh_db_pool *p, coh_err *err)
{
    memset(out, 0, sizeof *out);
    PGresult *r = coh_db_query(
        p, "SELECT " ANCHOR_COLS " FROM chain_anchors WHERE status IN ('pending', 'sent')", 0,
        NULL, err);
    int rc = r ? 0 : err->code;
    if (r && PQntuples(r) == 0)
        rc = coh_err_set(err, COH_ERR_NOTFOUND, "no anchor in flight");
    else if (r)
        rc = anchor_from_row(out, r, 0);
    PQclear(r);
    return rc;
}

/* Roots from the rows already chosen, inside the open transaction. */
int coh_db_chain_batch_tree(coh_ledger_merkle **out, coh_db_conn *c, uint64_t first, uint64_t last,
                            coh_err *err)
{
    *out = NULL;
    char f[24], l[24];
    snprintf(f, sizeof f, "%llu", (unsigned long long)first);
    snprintf(l, sizeof l, "%llu", (unsigned long long)last);
    const char *pp[2] = {f, l};
    PGresult *r = coh_db_exec(c,
                              "SELECT encode(hash, 'hex') FROM ledger_entries WHERE seq BETWEEN "
                              "$1 AND $2 ORDER BY seq",
                              2, pp, err);
    if (!r)
        return err->code;
    size_t n = (size_t)PQntuples(r);
    if (n == 0 || n != last - first + 1) {
        PQclear(r);
        return coh_err_set(err, COH_ERR_CONFLICT, "ledger has a gap in %s..%s", f, l);
    }
    uint8_t(*leaves)[32] = malloc(32 * n);
    int rc = leaves ? 0 : COH_ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = unhex(leaves[i], 32, PQgetvalue(r, (int)i, 0));
    PQclear(r);
    if (rc == 0)
        rc = coh_ledger_merkle_new(out, (const uint8_t(*)[32])leaves, n, 0);
    free(leaves);
    return rc ? coh_err_set(err, rc, "cannot build the batch tree of %s..%s", f, l) : 0;
}

/*
 * Every address's cumulative claimable amount up to seq (a, 0x address; m, the sum): wave-1
 * entries to payable:<addr>, withdrawals from available:<addr> into the pool (the signed entry
 * carries the amount), and the private credits of wave-2 reward entries (docs/LEDGER.md), all
 * up to that entry. One definition for the anchorer's snapshot and `cohort watch`'s check.
 */
#define CLAIMS_AT_SQL(seq)                                                                         \
    "SELECT a, sum(m) AS m FROM (SELECT substr(credit, 9) AS a, amount AS m FROM ledger_entries "  \
    "WHERE seq <= " seq " AND credit LIKE 'payable:%' UNION ALL SELECT substr(debit, 11), amount " \
    "FROM ledger_entries WHERE seq <= " seq " AND kind = 'withdrawal' AND credit = 'payable' "     \
    "UNION ALL SELECT c.address, c.amount FROM ledger_credits c JOIN ledger_entries e ON "         \
    "e.idempotency_key = c.entry_key WHERE e.kind = 'reward' AND e.seq <= " seq ") u GROUP BY a"

int coh_db_chain_claims_at(PGresult **rows, coh_db_conn *c, uint64_t last_seq, coh_err *err)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)last_seq);
    const char *pp[1] = {s};
    *rows = coh_db_exec(c, "SELECT substr(a, 3), m::text FROM (" CLAIMS_AT_SQL("$1") ") x", 1, pp,
                        err);
    return *rows ? 0 : err->code;
}

int coh_db_chain_claims_tree(coh_ledger_merkle **out, PGresult *rows, coh_err *err)
{
    *out = NULL;
    size_t n = (size_t)PQntuples(rows);
    if (n == 0)
        return 0;
    uint8_t(*leaves)[32] = malloc(32 * n);
    int rc = leaves ? 0 : COH_ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t addr[20], amt[32];
        if (unhex(addr, 20, PQgetvalue(rows, (int)i, 0)) ||
            coh_u256_from_dec(amt, PQgetvalue(rows, (int)i, 1)))
            rc = COH_ERR_DB;
        else
            coh_ledger_claim_leaf(leaves[i], addr, amt);
    }
    if (rc == 0)
        rc = coh_ledger_merkle_new(out, (const uint8_t(*)[32])leaves, n, 1);
    free(leaves);
    return rc ? coh_err_set(err, rc, "cannot build the claims tree") : 0;
}

static int compute_roots(coh_db_conn *c, struct coh_db_chain_anchor *a, coh_err *err)
{
    coh_ledger_merkle *t = NULL;
    int rc = coh_db_chain_batch_tree(&t, c, a->first_seq, a->last_seq, err);
    if (rc)
        return rc;
    coh_ledger_merkle_root(a->ledger_root, t);
    coh_ledger_merkle_free(t);
    char id[24];
    snprintf(id, sizeof id, "%lld", a->id);
    const char *p1[1] = {id};
    PGresult *r = coh_db_exec(c, COH_DB_CLAIMS_LEAVES_SQL, 1, p1, err);
    if (!r)
        return err->code;
    a->n_claims = (long long)PQntuples(r);
    memset(a->claims_root, 0, 32); /* no leaves: 32 zero bytes */
    t = NULL;
    if ((rc = coh_db_chain_claims_tree(&t, r, err)) == 0 && t)
        coh_ledger_merkle_root(a->claims_root, t);
    coh_ledger_merkle_free(t);
    PQclear(r);
    return rc;
}

int coh_db_chain_anchor_create(struct coh_db_chain_anchor *out, int *created, coh_db_pool *p,
                               long batch_size, long interval_s, coh_err *err)
{
    memset(out, 0, sizeof *out);
    *created = 0;
    coh_db_conn *c = coh_db_acquire(p, 5000, err);
    if (!c)
        return err->code;
    int rc = coh_db_cmd(c, "BEGIN", err);
    char bs[24], iv[24];
    snprintf(bs, sizeof bs, "%ld", batch_size);
    snprintf(iv, sizeof iv, "%ld", interval_s);
    const char *pp[2] = {bs, iv};
    /* The next batch, if due: from the last anchored seq + 1 up to the head, capped. */
    PGresult *r =
        rc ? NULL
           : coh_db_exec(c,
                         "WITH prev AS (SELECT COALESCE(max(last_seq), 0) AS s FROM "
                         "chain_anchors), h AS (SELECT seq FROM ledger_head) "
                         "SELECT prev.s + 1, LEAST(h.seq, prev.s + $1::bigint) FROM prev, h "
                         "WHERE h.seq > prev.s AND NOT EXISTS (SELECT 1 FROM chain_anchors "
                         "WHERE status IN ('pending', 'sent')) AND (h.seq - prev.s >= $1::bigint "
                         "OR (SELECT created_at FROM ledger_entries WHERE seq = prev.s + 1) "
                         "<= now() - make_interval(secs => $2::bigint))",
                         2, pp, err);
    if (!rc && !r)
        rc = err->code;
    if (rc == 0 && PQntuples(r) == 1) {
        const char *ins[2] = {PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)};
        PGresult *r2 = coh_db_exec(c,
                                   "INSERT INTO chain_anchors (first_seq, last_seq, ledger_root, "
                                   "claims_root, n_claims, status) VALUES ($1, $2, "
                                   "decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), "
                                   "'hex'), 0, 'pending') RETURNING id",
                                   2, ins, err);
        /* zero roots until compute_roots below, all before the commit */
        if (!r2) {
            rc = err->code;
        } else {
            out->id = atoll(PQgetvalue(r2, 0, 0));
            out->first_seq = strtoull(ins[0], NULL, 10);
            out->last_seq = strtoull(ins[1], NULL, 10);
            PQclear(r2);
        }
    }
    PQclear(r);
    if (rc == 0 && out->id == 0) {
        coh_db_release(c); /* nothing due: release rolls the transaction back */
        return 0;
    }
    char id[24], last[24];
    snprintf(id, sizeof id, "%lld", out->id);
    snprintf(last, sizeof last, "%llu", (unsigned long long)out->last_seq);
    const char *pl[2] = {id, last};
    if (rc == 0) {
        r = coh_db_exec(
            c,
            "INSERT INTO chain_claim_leaves (anchor_id, address, cumulative) SELECT $1, a, m "
            "FROM (" CLAIMS_AT_SQL("$2") ") x",
            2, pl, err);
        rc = r ? 0 : err->code;
        PQclear(r);
    }
    if (rc == 0)
        rc = compute_roots(c, out, err);
    if (rc == 0) {
        char lr[COH_HASH_BARE_HEX_SIZE], cr[COH_HASH_BARE_HEX_SIZE], nc[24];
        hex(lr, out->ledger_root, 32);
        hex(cr, out->claims_root, 32);
        snprintf(nc, sizeof nc, "%lld", out->n_claims);
        const char *pu[4] = {id, lr, cr, nc};
        r = coh_db_exec(c,
                        "UPDATE chain_anchors SET ledger_root = decode($2, 'hex'), claims_root = "
                        "decode($3, 'hex'), n_claims = $4, total_credited = (SELECT "
                        "COALESCE(sum(cumulative), 0) FROM chain_claim_leaves WHERE anchor_id = "
                        "$1) WHERE id = $1 RETURNING total_credited::text",
                        4, pu, err);
        rc = r ? 0 : err->code;
        if (r && coh_u256_from_dec(out->total_credited, PQgetvalue(r, 0, 0)))
            rc = coh_err_set(err, COH_ERR_DB, "anchor %s: total credited beyond uint256", id);
        PQclear(r);
    }
    if (rc == 0)
        rc = coh_db_cmd(c, "COMMIT", err);
    if (rc != 0) {
        coh_db_release(c); /* rolls back */
        memset(out, 0, sizeof *out);
        return rc == COH_ERR_CONFLICT ? 0 : rc; /* another process opened one first */
    }
    coh_db_release(c);
    snprintf(out->status, sizeof out->status, "pending");
    *created = 1;
    return 0;
}

/* ---- the chain leader ---------------------------------------------------------------------- */
struct coh_db_leader {
    coh_db_pool *pool;
    PGconn *pg; /* the dedicated connection; NULL until the next try */
    int held;
    char name[64];
};

/* This process's part (coh_db_chain_leader): -1 until a leader handle exists. */
static atomic_int leader_state = -1;

int coh_db_chain_leader(void)
{
    return atomic_load(&leader_state);
}

int coh_db_leader_new(coh_db_leader **out, coh_db_pool *p, const char *application_name,
                      coh_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    (*out)->pool = p;
    snprintf((*out)->name, sizeof(*out)->name, "%s", application_name);
    atomic_store(&leader_state, 0);
    return 0;
}

/* Closes the connection: whatever it held, PostgreSQL releases with the session. */
static void leader_drop(coh_db_leader *l)
{
    PQfinish(l->pg);
    l->pg = NULL;
    l->held = 0;
    atomic_store(&leader_state, 0);
}

/* A failed statement on the leader's connection: err from the result or the connection, and
 * the connection closed (so nothing acts on a lock it may no longer hold). */
static int leader_fail(coh_db_leader *l, PGresult *r, const char *what, coh_err *err)
{
    char line[200];
    const char *m = "no connection";
    if (r && PQresultErrorMessage(r)[0])
        m = PQresultErrorMessage(r);
    else if (l->pg)
        m = PQerrorMessage(l->pg);
    snprintf(line, sizeof line, "%s", m);
    line[strcspn(line, "\n")] = '\0';
    PQclear(r);
    leader_drop(l);
    return coh_err_set(err, COH_ERR_UNAVAILABLE, "chain leader connection: %s: %s", what, line);
}

/* clang-format off */
#define COH_STR_(x) #x
#define COH_STR(x) COH_STR_(x)
#define LEADER_KEYS_SQL COH_STR(COH_DB_CHAIN_LEADER_KEY1) ", " COH_STR(COH_DB_CHAIN_LEADER_KEY2)
#define LEADER_HELD_SQL                                                                            \
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = "             \
    COH_STR(COH_DB_CHAIN_LEADER_KEY1) " AND objid = " COH_STR(COH_DB_CHAIN_LEADER_KEY2)            \
    " AND objsubid = 2 AND pid = pg_backend_pid() AND granted)"
/* clang-format on */

int coh_db_leader_try(coh_db_leader *l, int *held, coh_err *err)
{
    *held = 0;
    if (l->pg && PQstatus(l->pg) != CONNECTION_OK)
        leader_drop(l);
    if (!l->pg) {
        l->held = 0;
        if (!(l->pg = coh_db_connect_dedicated(l->pool, l->name, err)))
            return err->code ? err->code : COH_ERR_UNAVAILABLE;
    }
    /* Held: still ours? (pg_try_advisory_lock again would stack a second hold.) */
    const char *sql =
        l->held ? LEADER_HELD_SQL : "SELECT pg_try_advisory_lock(" LEADER_KEYS_SQL ")";
    PGresult *r = PQexec(l->pg, sql);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        return leader_fail(l, r, l->held ? "checking the lock" : "taking the lock", err);
    int t = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (l->held && !t) { /* alive but no longer holding it: start afresh on a new session */
        leader_drop(l);
        return coh_err_set(err, COH_ERR_UNAVAILABLE, "chain leader lock no longer held");
    }
    *held = t ? (l->held ? 1 : 2) : 0;
    l->held = t;
    atomic_store(&leader_state, t);
    return 0;
}

void coh_db_leader_free(coh_db_leader *l)
{
    if (!l)
        return;
    PQfinish(l->pg);
    free(l);
    atomic_store(&leader_state, -1);
}

#define TX_RECORD_SQL                                                                              \
    "WITH t AS (INSERT INTO chain_anchor_txs (tx_hash, anchor_id, nonce, max_fee, "                \
    "max_priority_fee, raw, status) VALUES (decode($1, 'hex'), $2, $3, $4, $5, "                   \
    "decode($6, 'hex'), 'sent') ON CONFLICT (tx_hash) DO NOTHING) "                                \
    "UPDATE chain_anchors SET status = 'sent' WHERE id = $2 AND status = 'pending'"

int coh_db_chain_tx_record(coh_db_pool *p, coh_db_leader *leader, long long anchor_id,
                           const struct coh_db_chain_tx *tx, coh_err *err)
{
    if (leader && (!leader->pg || !leader->held))
        return coh_err_set(err, COH_ERR_CONFLICT, "not the chain leader: nothing recorded");
    char id[24], nonce[24], h[COH_HASH_BARE_HEX_SIZE], mf[COH_U256_DEC_SIZE], mp[COH_U256_DEC_SIZE];
    snprintf(id, sizeof id, "%lld", anchor_id);
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)tx->nonce);
    hex(h, tx->hash, 32);
    coh_u256_to_dec(mf, tx->max_fee);
    coh_u256_to_dec(mp, tx->max_priority_fee);
    char *raw = malloc(2 * tx->raw_len + 1);
    if (!raw)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    hex(raw, tx->raw, tx->raw_len);
    const char *pp[6] = {h, id, nonce, mf, mp, raw};
    int rc = 0;
    if (!leader) {
        rc = coh_db_run(p, TX_RECORD_SQL, 6, pp, err);
    } else {
        /* On the session holding the lock: it succeeds only while that session (and so the
         * lock) is alive, so no other instance can be the leader at this moment. */
        PGresult *r = PQexecParams(leader->pg, TX_RECORD_SQL, 6, NULL, pp, NULL, NULL, 0);
        if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
        } else if (!r || PQstatus(leader->pg) != CONNECTION_OK) {
            rc = leader_fail(leader, r, "recording the anchor transaction", err);
        } else { /* a refusal by the database: the session (and the lock) stays */
            char line[200];
            snprintf(line, sizeof line, "%s", PQresultErrorMessage(r));
            line[strcspn(line, "\n")] = '\0';
            PQclear(r);
            rc = coh_err_set(err, COH_ERR_DB, "recording the anchor transaction: %s", line);
        }
    }
    free(raw);
    return rc;
}

void coh_db_chain_txs_free(struct coh_db_chain_tx *txs, size_t n)
{
    for (size_t i = 0; txs && i < n; i++)
        free(txs[i].raw);
    free(txs);
}

int coh_db_chain_txs(struct coh_db_chain_tx **out, size_t *n, coh_db_pool *p, long long anchor_id,
                     coh_err *err)
{
    *out = NULL;
    *n = 0;
    char id[24];
    snprintf(id, sizeof id, "%lld", anchor_id);
    const char *pp[1] = {id};
    PGresult *r =
        coh_db_query(p,
                     "SELECT encode(tx_hash, 'hex'), nonce, max_fee::text, max_priority_fee::text, "
                     "encode(raw, 'hex'), COALESCE(block_number, -1), "
                     "extract(epoch FROM now() - sent_at)::bigint, status FROM chain_anchor_txs "
                     "WHERE anchor_id = $1 ORDER BY sent_at DESC, max_fee DESC",
                     1, pp, err);
    int rc = r ? 0 : err->code;
    size_t rows = r ? (size_t)PQntuples(r) : 0;
    struct coh_db_chain_tx *t = rows ? calloc(rows, sizeof *t) : NULL;
    if (rows && !t)
        rc = COH_ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        int row = (int)i;
        const char *rh = PQgetvalue(r, row, 4);
        t[i].raw_len = strlen(rh) / 2;
        t[i].raw = malloc(t[i].raw_len + 1);
        if (!t[i].raw || unhex(t[i].hash, 32, PQgetvalue(r, row, 0)) ||
            coh_hex_decode_exact(t[i].raw, t[i].raw_len, rh) ||
            coh_u256_from_dec(t[i].max_fee, PQgetvalue(r, row, 2)) ||
            coh_u256_from_dec(t[i].max_priority_fee, PQgetvalue(r, row, 3)))
            rc = COH_ERR_DB;
        t[i].nonce = strtoull(PQgetvalue(r, row, 1), NULL, 10);
        t[i].block_number = atoll(PQgetvalue(r, row, 5));
        t[i].age_s = atoll(PQgetvalue(r, row, 6));
        snprintf(t[i].status, sizeof t[i].status, "%s", PQgetvalue(r, row, 7));
    }
    PQclear(r);
    if (rc != 0) {
        coh_db_chain_txs_free(t, rows);
        return rc;
    }
    *out = t;
    *n = rows;
    return 0;
}

int coh_db_chain_tx_mark(coh_db_pool *p, const uint8_t hash[32], const char *status,
                         long long block, coh_err *err)
{
    char h[COH_HASH_BARE_HEX_SIZE], b[24];
    hex(h, hash, 32);
    snprintf(b, sizeof b, "%lld", block);
    const char *pp[3] = {h, status, block >= 0 ? b : NULL};
    return coh_db_run(
        p,
        "UPDATE chain_anchor_txs SET status = $2, block_number = $3::bigint, updated_at = "
        "now() WHERE tx_hash = decode($1, 'hex')",
        3, pp, err);
}

int coh_db_chain_anchor_confirm(coh_db_pool *p, long long anchor_id, const uint8_t hash[32],
                                long long block, long long effective_at, coh_err *err)
{
    char id[24], h[COH_HASH_BARE_HEX_SIZE], b[24], e[24];
    snprintf(id, sizeof id, "%lld", anchor_id);
    hex(h, hash, 32);
    snprintf(b, sizeof b, "%lld", block);
    snprintf(e, sizeof e, "%lld", effective_at);
    const char *pp[4] = {id, h, b, e};
    return coh_db_run(p,
                      "UPDATE chain_anchors SET status = 'confirmed', tx_hash = decode($2, 'hex'), "
                      "block_number = $3, confirmed_at = now(), effective_at = "
                      "to_timestamp($4::bigint) WHERE id = $1",
                      4, pp, err);
}

int coh_db_chain_anchor_last_confirmed(uint64_t *last_seq, coh_db_pool *p, coh_err *err)
{
    *last_seq = 0;
    PGresult *r = coh_db_query(
        p, "SELECT COALESCE(max(last_seq), 0) FROM chain_anchors WHERE status = 'confirmed'", 0,
        NULL, err);
    if (!r)
        return err->code;
    *last_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int coh_db_chain_anchor_veto(coh_db_pool *p, uint64_t last_seq, coh_err *err)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)last_seq);
    const char *pp[1] = {s};
    PGresult *r = coh_db_query(p,
                               "UPDATE chain_anchors SET status = 'vetoed', vetoed_at = now() "
                               "WHERE last_seq = $1 AND status = 'confirmed' RETURNING id",
                               1, pp, err);
    int rc = r ? PQntuples(r) : err->code;
    PQclear(r);
    return rc;
}

int coh_db_chain_anchorer_set(coh_db_pool *p, const char *signer, const char *state,
                              const char *reason, int failures, long next_try_s, coh_err *err)
{
    char f[24], n[24];
    snprintf(f, sizeof f, "%d", failures);
    snprintf(n, sizeof n, "%ld", next_try_s);
    const char *pp[5] = {signer, state, reason, f, next_try_s >= 0 ? n : NULL};
    return coh_db_run(p,
                      "INSERT INTO chain_anchorer (signer, state, reason, failures, next_try_at) "
                      "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::bigint)) "
                      "ON CONFLICT (id) DO UPDATE SET signer = EXCLUDED.signer, state = "
                      "EXCLUDED.state, reason = EXCLUDED.reason, failures = EXCLUDED.failures, "
                      "next_try_at = EXCLUDED.next_try_at, updated_at = now()",
                      5, pp, err);
}

json_t *coh_db_chain_anchorer_json(coh_db_pool *p, coh_err *err)
{
    return coh_db_json(p,
                       "SELECT COALESCE((SELECT json_build_object('signer', signer, 'state', "
                       "state, 'reason', reason, 'failures', failures, 'next_try_at', "
                       "next_try_at, 'updated_at', updated_at) FROM chain_anchorer), 'null'::json)",
                       0, NULL, err);
}

json_t *coh_db_chain_anchors_json(coh_db_pool *p, long long after, int limit, coh_err *err)
{
    char a[24], l[24];
    snprintf(a, sizeof a, "%lld", after);
    snprintf(l, sizeof l, "%d", limit);
    const char *pp[2] = {a, l};
    return coh_db_json(
        p,
        "WITH page AS (SELECT * FROM chain_anchors WHERE id > $1 ORDER BY id LIMIT $2) "
        "SELECT json_build_object('anchors', COALESCE(json_agg(json_build_object("
        "'id', id, 'first_seq', first_seq, 'last_seq', last_seq, "
        "'ledger_root', '0x' || encode(ledger_root, 'hex'), "
        "'claims_root', '0x' || encode(claims_root, 'hex'), 'claims', n_claims, "
        "'status', status, 'total_credited', total_credited::text, "
        "'state', CASE WHEN status = 'vetoed' THEN 'vetoed' WHEN status = 'confirmed' AND "
        "effective_at <= now() THEN 'effective' ELSE 'pending' END, 'claimable_at', "
        "CASE WHEN status <> 'vetoed' THEN effective_at END, 'vetoed_at', vetoed_at, "
        "'tx_hash', '0x' || encode(tx_hash, 'hex'), "
        "'block_number', block_number, 'created_at', created_at, 'confirmed_at', confirmed_at, "
        "'solvency', (SELECT json_build_object('block_number', s.block_number, "
        "'contract_balance', s.contract_balance::text, 'deposits_minus_claims', "
        "s.net_deposits::text, 'owed', s.owed::text, 'ok', s.ok) FROM chain_solvency s "
        "WHERE s.anchor_id = page.id), "
        "'transactions', (SELECT COALESCE(json_agg(json_build_object('tx_hash', '0x' || "
        "encode(t.tx_hash, 'hex'), 'nonce', t.nonce, 'max_fee_per_gas', t.max_fee::text, "
        "'max_priority_fee_per_gas', t.max_priority_fee::text, 'status', t.status, "
        "'block_number', t.block_number, 'sent_at', t.sent_at) ORDER BY t.sent_at), '[]') "
        "FROM chain_anchor_txs t WHERE t.anchor_id = page.id)) ORDER BY id), '[]'::json), "
        "'next', CASE WHEN count(*) = $2 THEN max(id) END) FROM page",
        2, pp, err);
}

int coh_db_chain_anchor_reopen(coh_db_pool *p, uint64_t onchain_last_seq, coh_err *err)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)onchain_last_seq);
    const char *pp[1] = {s};
    /* Its transactions are no longer mined either, so GET /v1/claims stops proving against
     * its root at once rather than at the worker's next poll. */
    PGresult *r = coh_db_query(
        p,
        "WITH a AS (UPDATE chain_anchors SET status = 'sent', tx_hash = NULL, block_number = "
        "NULL, confirmed_at = NULL WHERE id = (SELECT min(id) FROM chain_anchors WHERE status = "
        "'confirmed' AND last_seq > $1) RETURNING id), "
        "t AS (UPDATE chain_anchor_txs SET status = 'sent', block_number = NULL, updated_at = "
        "now() WHERE anchor_id IN (SELECT id FROM a) AND status = 'mined') "
        "SELECT id FROM a",
        1, pp, err);
    int rc = r ? PQntuples(r) : err->code;
    PQclear(r);
    return rc;
}

/* Batch-tree proof of one entry: its hash and the sibling hashes, leaf to root. */
static json_t *entry_proof(coh_db_conn *c, PGresult *ra, uint64_t seq, coh_err *err)
{
    uint64_t first = strtoull(PQgetvalue(ra, 0, 1), NULL, 10);
    uint64_t last = strtoull(PQgetvalue(ra, 0, 2), NULL, 10);
    coh_ledger_merkle *t = NULL;
    uint8_t proof[64][32], root[32], want[32];
    size_t np = 0;
    int rc = coh_db_chain_batch_tree(&t, c, first, last, err) ? COH_ERR_DB : 0;
    if (rc == 0)
        rc = coh_ledger_merkle_proof(proof, 64, &np, t, (size_t)(seq - first));
    if (rc == 0) {
        coh_ledger_merkle_root(root, t);
        if (unhex(want, 32, PQgetvalue(ra, 0, 3)) || memcmp(root, want, 32) != 0)
            rc = COH_ERR_DB; /* the stored root must be the tree's */
    }
    coh_ledger_merkle_free(t);
    if (rc) {
        coh_err_set(err, COH_ERR_DB, "cannot rebuild the batch tree of entry %llu",
                    (unsigned long long)seq);
        return NULL;
    }
    json_t *pr = json_array();
    char h[COH_HASH_HEX_SIZE];
    for (size_t i = 0; pr && i < np; i++) {
        coh_hex_encode(h, proof[i], 32, 1);
        json_array_append_new(pr, json_string(h));
    }
    return pr;
}

json_t *coh_db_chain_entry_anchor_json(coh_db_pool *p, uint64_t seq, coh_err *err)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seq);
    const char *pp[1] = {s};
    coh_db_conn *c = coh_db_acquire(p, 5000, err);
    if (!c)
        return NULL;
    PGresult *ra = coh_db_exec(c,
                               "SELECT id, first_seq, last_seq, encode(ledger_root, 'hex'), "
                               "encode(claims_root, 'hex'), status, encode(tx_hash, 'hex'), "
                               "block_number FROM chain_anchors WHERE $1::bigint BETWEEN "
                               "first_seq AND last_seq",
                               1, pp, err);
    json_t *out = NULL;
    if (ra && PQntuples(ra) == 0) {
        out = json_pack("{s:n, s:n}", "inclusion_proof", "anchor");
    } else if (ra) {
        json_t *proof = entry_proof(c, ra, seq, err);
        if (proof) {
            char lr[COH_HASH_HEX_SIZE], cr[COH_HASH_HEX_SIZE], tx[COH_HASH_HEX_SIZE];
            snprintf(lr, sizeof lr, "0x%s", PQgetvalue(ra, 0, 3));
            snprintf(cr, sizeof cr, "0x%s", PQgetvalue(ra, 0, 4));
            snprintf(tx, sizeof tx, "0x%s", PQgetvalue(ra, 0, 6));
            int mined = !PQgetisnull(ra, 0, 6);
            out = json_pack(
                "{s:o, s:{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s?, s:o}}", "inclusion_proof", proof,
                "anchor", "id", (json_int_t)atoll(PQgetvalue(ra, 0, 0)), "first_seq",
                (json_int_t)atoll(PQgetvalue(ra, 0, 1)), "last_seq",
                (json_int_t)atoll(PQgetvalue(ra, 0, 2)), "leaf_index",
                (json_int_t)(seq - strtoull(PQgetvalue(ra, 0, 1), NULL, 10)), "ledger_root", lr,
                "claims_root", cr, "status", PQgetvalue(ra, 0, 5), "tx_hash", mined ? tx : NULL,
                "block_number", mined ? json_integer(atoll(PQgetvalue(ra, 0, 7))) : json_null());
        }
    }
    PQclear(ra);
    coh_db_release(c);
    return out;
}

int coh_db_chain_solvency_due(long long *anchor_id, long long *anchor_block, coh_db_pool *p,
                              coh_err *err)
{
    *anchor_id = 0;
    *anchor_block = 0;
    PGresult *r = coh_db_query(p,
                               "SELECT a.id, a.block_number FROM chain_anchors a WHERE a.id = "
                               "(SELECT max(id) FROM chain_anchors WHERE status = 'confirmed') "
                               "AND NOT EXISTS (SELECT 1 FROM chain_solvency s WHERE "
                               "s.anchor_id = a.id)",
                               0, NULL, err);
    int rc = r ? 0 : err->code;
    if (r && PQntuples(r) == 1) {
        *anchor_id = atoll(PQgetvalue(r, 0, 0));
        *anchor_block = atoll(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

int coh_db_chain_solvency_record(int *ok, char net[80], char owed[80], coh_db_pool *p,
                                 long long anchor_id, long long block, const char *balance,
                                 coh_err *err)
{
    *ok = 0;
    net[0] = owed[0] = '\0';
    char id[24], b[24];
    snprintf(id, sizeof id, "%lld", anchor_id);
    snprintf(b, sizeof b, "%lld", block);
    const char *pp[3] = {id, b, balance};
    PGresult *r = coh_db_query(
        p,
        "WITH ev AS (SELECT COALESCE(sum(CASE kind WHEN 'deposit' THEN amount ELSE -amount END), "
        "0) AS net FROM chain_events WHERE block_number <= $2::bigint), "
        "cl AS (SELECT account, sum(amount) AS claimed FROM chain_events WHERE kind = 'claim' "
        "AND block_number <= $2::bigint GROUP BY account), "
        "ow AS (SELECT COALESCE(sum(greatest(l.cumulative - COALESCE(cl.claimed, 0), 0)), 0) AS "
        "owed FROM chain_claim_leaves l LEFT JOIN cl ON cl.account = l.address WHERE "
        "l.anchor_id = $1::bigint) "
        "INSERT INTO chain_solvency (anchor_id, block_number, contract_balance, net_deposits, "
        "owed, ok) SELECT $1::bigint, $2::bigint, $3::numeric, ev.net, ow.owed, "
        "($3::numeric = ev.net AND $3::numeric >= ow.owed) FROM ev, ow "
        "ON CONFLICT (anchor_id) DO UPDATE SET block_number = EXCLUDED.block_number, "
        "contract_balance = EXCLUDED.contract_balance, net_deposits = EXCLUDED.net_deposits, "
        "owed = EXCLUDED.owed, ok = EXCLUDED.ok, checked_at = now() "
        "RETURNING ok, net_deposits::text, owed::text",
        3, pp, err);
    int rc = r ? 0 : err->code;
    if (r && PQntuples(r) == 1) {
        *ok = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        snprintf(net, 80, "%s", PQgetvalue(r, 0, 1));
        snprintf(owed, 80, "%s", PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return rc;
}

PGresult *coh_db_chain_claims_leaves(coh_db_pool *p, const char *anchor_id, coh_err *err)
{
    const char *pp[1] = {anchor_id};
    return coh_db_query(p, COH_DB_CLAIMS_LEAVES_SQL, 1, pp, err);
}

/*
 * The effective anchor: the latest confirmed one whose challenge period is over (a vetoed one is
 * no longer 'confirmed'). A proof against a pending proposal would fail on chain until it is
 * effective, so none is served before.
 */
PGresult *coh_db_chain_claim_effective(coh_db_pool *p, const char *address, coh_err *err)
{
    const char *pp[1] = {address};
    return coh_db_query(
        p,
        "WITH a AS (SELECT id, last_seq, claims_root, tx_hash, block_number, effective_at FROM "
        "chain_anchors WHERE status = 'confirmed' AND effective_at <= now() ORDER BY id DESC "
        "LIMIT 1) SELECT a.id, a.last_seq, encode(a.claims_root, 'hex'), encode(a.tx_hash, "
        "'hex'), a.block_number, l.cumulative::text, true, to_json(a.effective_at) #>> '{}' "
        "FROM a LEFT JOIN chain_claim_leaves l ON l.anchor_id = a.id AND l.address = $1",
        1, pp, err);
}

int coh_db_chain_entries_waiting(int *out, coh_db_pool *p, coh_err *err)
{
    PGresult *r = coh_db_query(p,
                               "SELECT h.seq > COALESCE((SELECT max(last_seq) FROM chain_anchors), "
                               "0) FROM ledger_head h",
                               0, NULL, err);
    if (!r)
        return err->code;
    *out = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}
