/*
 * ledger: postings, queries and the signing key over sql/002_ledger.sql.
 *
 * Invariants: every posting runs in one transaction that first locks ledger_head FOR UPDATE,
 * so appends are strictly serialized and seq/prev_hash always extend the committed head; the
 * entry insert, both balance updates and the head update are one statement, so they commit or
 * fail together; the balance CHECK makes overdrafts impossible even for a buggy caller; the
 * idempotency key is UNIQUE, and a conflicting insert (ON CONFLICT DO NOTHING) posts nothing.
 * The key check in the lock statement refuses postings by a key that is no longer active.
 * Load: three round trips and one commit per single posting; a batch shares lock and commit.
 */
#include "db/ledger_db.h"

#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRAP_CONTEXT "ledger"

/* Runs sql; returns the result or NULL with err (sqlstate copied to state, may be NULL). */
static PGresult *exec(coh_db_conn *c, const char *sql, int n, const char *const *params,
                      char state[6], coh_err *err)
{
    PGresult *r = PQexecParams(coh_db_pgconn(c), sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (state)
        state[0] = '\0';
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (state && s)
        snprintf(state, 6, "%s", s);
    if (PQstatus(coh_db_pgconn(c)) != CONNECTION_OK)
        coh_err_set(err, COH_ERR_UNAVAILABLE, "database connection lost");
    else if (s && strcmp(s, "57014") == 0)
        coh_err_set(err, COH_ERR_UNAVAILABLE, "statement timed out");
    else
        coh_err_set(err, COH_ERR_DB, "database error %s: %s", s ? s : "?", m ? m : "unknown");
    PQclear(r);
    return NULL;
}

static int cmd(coh_db_conn *c, const char *sql, coh_err *err)
{
    PGresult *r = exec(c, sql, 0, NULL, NULL, err);
    if (!r)
        return err->code;
    PQclear(r);
    return 0;
}

static void bytea(char *out, const uint8_t *b, size_t len)
{
    out[0] = '\\';
    out[1] = 'x';
    coh_hex_encode(out + 2, b, len, 0);
}

static void addr_lower(char out[43], const uint8_t a[20])
{
    coh_hex_encode(out, a, 20, 1);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The columns every entry query selects, in the order row_to_entry reads them. */
#define ENTRY_COLS                                                                                 \
    "seq, kind, debit, credit, amount::text, coalesce(ref_request, ''), "                          \
    "coalesce(ref_contribution, ''), coalesce(ref_anchor, ''), coalesce(ref_tx, ''), "             \
    "(extract(epoch FROM created_at) * 1000000)::bigint, idempotency_key, encode(prev_hash, "      \
    "'hex'), encode(hash, 'hex'), encode(signature, 'hex'), signer"

static int row_to_entry(coh_ledger_entry *e, PGresult *r, int i, coh_err *err)
{
    memset(e, 0, sizeof *e);
    e->seq = strtoull(PQgetvalue(r, i, 0), NULL, 10);
    e->kind = coh_ledger_kind_parse(PQgetvalue(r, i, 1));
    char *strs[] = {e->debit, e->credit, e->ref_request, e->ref_contribution, e->ref_anchor};
    static const int cols[] = {2, 3, 5, 6, 7};
    for (int k = 0; k < 5; k++)
        snprintf(strs[k], COH_LEDGER_STR_MAX + 1, "%s", PQgetvalue(r, i, cols[k]));
    snprintf(e->ref_tx, sizeof e->ref_tx, "%s", PQgetvalue(r, i, 8));
    e->created_us = strtoll(PQgetvalue(r, i, 9), NULL, 10);
    snprintf(e->idempotency_key, sizeof e->idempotency_key, "%s", PQgetvalue(r, i, 10));
    if (coh_crypto_uint256_from_dec(e->amount, PQgetvalue(r, i, 4)) ||
        coh_hex_decode_exact(e->prev_hash, 32, PQgetvalue(r, i, 11)) ||
        coh_hex_decode_exact(e->hash, 32, PQgetvalue(r, i, 12)) ||
        coh_hex_decode_exact(e->signature, 65, PQgetvalue(r, i, 13)) ||
        coh_hex_decode_exact(e->signer, 20, PQgetvalue(r, i, 14))) {
        memset(e, 0, sizeof *e);
        return coh_err_set(err, COH_ERR_DB, "ledger entry %s is malformed", PQgetvalue(r, i, 0));
    }
    return 0;
}

/*
 * The append statement: insert the entry unless its key exists, debit (an existing account;
 * "chain" is created on first use since it alone may go negative), credit (created on first
 * use), advance the head. A proposed INSERT row is checked against the balance CHECK before
 * conflict resolution, so a debit must be an UPDATE, never an upsert of a negative row.
 * Prepared once per connection (its plan is the bulk of a posting's server time).
 */
#define APPEND_NAME "coh_ledger_append"
#define APPEND_SQL                                                                                 \
    "WITH ins AS (INSERT INTO ledger_entries (seq, kind, debit, credit, amount, ref_request, "     \
    "ref_contribution, ref_anchor, ref_tx, created_at, idempotency_key, prev_hash, hash, "         \
    "signature, signer) VALUES ($1::bigint, $2, $3, $4, $5::numeric, nullif($6, ''), "             \
    "nullif($7, ''), nullif($8, ''), nullif($9, ''), $10::timestamptz, $11, $12::bytea, "          \
    "$13::bytea, $14::bytea, $15) ON CONFLICT (idempotency_key) DO NOTHING RETURNING seq), "       \
    "deb_chain AS (INSERT INTO ledger_balances AS b (account, balance, debited) SELECT $3, "       \
    "-$5::numeric, $5::numeric FROM ins WHERE $3 = 'chain' ON CONFLICT (account) DO UPDATE SET "   \
    "balance = b.balance - $5::numeric, debited = b.debited + $5::numeric RETURNING 1), "          \
    "deb AS (UPDATE ledger_balances SET balance = balance - $5::numeric, debited = debited + "     \
    "$5::numeric FROM ins WHERE account = $3 AND $3 <> 'chain' RETURNING 1), "                     \
    "cre AS (INSERT INTO ledger_balances AS b (account, balance, credited, owner) SELECT $4, "     \
    "$5::numeric, $5::numeric, nullif($16, '') FROM ins ON CONFLICT (account) DO UPDATE SET "      \
    "balance = b.balance + $5::numeric, credited = b.credited + $5::numeric, owner = "             \
    "coalesce(b.owner, EXCLUDED.owner) RETURNING 1), "                                             \
    "head AS (UPDATE ledger_head SET seq = $1::bigint, hash = $13::bytea FROM ins WHERE "          \
    "ledger_head.id = 1 RETURNING 1) "                                                             \
    "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM deb_chain) + (SELECT count(*) "      \
    "FROM deb), (SELECT count(*) FROM cre), (SELECT count(*) FROM head)"

static PGresult *exec_append(coh_db_conn *c, const char *const *params, char state[6], coh_err *err)
{
    PGconn *pg = coh_db_pgconn(c);
    PGresult *r = PQexecPrepared(pg, APPEND_NAME, 16, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    state[0] = '\0';
    if (st == PGRES_TUPLES_OK)
        return r;
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (s)
        snprintf(state, 6, "%s", s);
    if (PQstatus(pg) != CONNECTION_OK)
        coh_err_set(err, COH_ERR_UNAVAILABLE, "database connection lost");
    else if (s && strcmp(s, "57014") == 0)
        coh_err_set(err, COH_ERR_UNAVAILABLE, "statement timed out");
    else
        coh_err_set(err, COH_ERR_DB, "database error %s: %s", s ? s : "?", m ? m : "unknown");
    PQclear(r);
    return NULL;
}

/* Prepares the append statement on c unless the lock query found it prepared already. */
static int prepare_append(coh_db_conn *c, coh_err *err)
{
    PGresult *r = PQprepare(coh_db_pgconn(c), APPEND_NAME, APPEND_SQL, 16, NULL);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        coh_err_set(err, COH_ERR_DB, "cannot prepare the ledger append: %s",
                    PQerrorMessage(coh_db_pgconn(c)));
    PQclear(r);
    return ok ? 0 : err->code;
}

/* ---- posting ----------------------------------------------------------------------------- */

/* Locks the head (the caller is inside BEGIN) and checks the signing key is still active. */
static int lock_head(coh_db_conn *c, uint64_t *seq, uint8_t hash[32], const uint8_t signer[20],
                     coh_err *err)
{
    PGresult *r = exec(c,
                       "SELECT h.seq, encode(h.hash, 'hex'), (SELECT address FROM ledger_keys "
                       "WHERE active), (SELECT count(*) FROM pg_prepared_statements WHERE name "
                       "= '" APPEND_NAME "') FROM ledger_head h WHERE h.id = 1 FOR UPDATE",
                       0, NULL, NULL, err);
    if (!r)
        return err->code;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return coh_err_set(err, COH_ERR_DB, "ledger_head row is missing");
    }
    *seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    int bad = coh_hex_decode_exact(hash, 32, PQgetvalue(r, 0, 1));
    char mine[43];
    addr_lower(mine, signer);
    int rotated = !PQgetisnull(r, 0, 2) && strcmp(PQgetvalue(r, 0, 2), mine) != 0;
    int prepared = atoi(PQgetvalue(r, 0, 3));
    PQclear(r);
    if (!prepared && !bad && !rotated && prepare_append(c, err))
        return err->code;
    if (bad)
        return coh_err_set(err, COH_ERR_DB, "ledger_head hash is malformed");
    if (rotated)
        return coh_err_set(err, COH_ERR_CONFLICT,
                           "the ledger key was rotated; this process must reload it");
    return 0;
}

static int fetch_by_key(coh_ledger_entry *out, coh_db_conn *c, const char *key, coh_err *err)
{
    const char *params[] = {key};
    PGresult *r = exec(c, "SELECT " ENTRY_COLS " FROM ledger_entries WHERE idempotency_key = $1", 1,
                       params, NULL, err);
    if (!r)
        return err->code;
    int rc = PQntuples(r) == 1 ? row_to_entry(out, r, 0, err)
                               : coh_err_set(err, COH_ERR_DB, "idempotent entry vanished");
    PQclear(r);
    return rc;
}

/*
 * Appends e after (*head_seq, head_hash) inside the caller's transaction, or finds it already
 * posted under its key (*replayed = 1). Advances the head on success.
 */
static int append(coh_ledger_entry *e, int *replayed, coh_db_conn *c, const coh_secbuf *key,
                  uint64_t *head_seq, uint8_t head_hash[32], coh_err *err)
{
    *replayed = 0;
    coh_ledger_entry want = *e;
    e->seq = *head_seq + 1;
    e->created_us = now_us();
    memcpy(e->prev_hash, head_hash, 32);
    if (coh_ledger_entry_seal(e, key))
        return coh_err_set(err, COH_ERR_CRYPTO, "cannot sign the ledger entry");
    char seq[24], amount[79], when[48], prev[67], hash[67], sig[133], signer[43], owner[43] = "";
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)e->seq);
    coh_crypto_uint256_to_dec(amount, e->amount);
    time_t secs = (time_t)(e->created_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(when, sizeof when, "%s.%06ld+00", date, (long)(e->created_us % 1000000));
    bytea(prev, e->prev_hash, 32);
    bytea(hash, e->hash, 32);
    bytea(sig, e->signature, 65);
    addr_lower(signer, e->signer);
    if (e->kind == COH_LEDGER_ESCROW)
        snprintf(owner, sizeof owner, "%s", e->debit + strlen("available:"));
    const char *params[] = {seq,
                            coh_ledger_kind_name(e->kind),
                            e->debit,
                            e->credit,
                            amount,
                            e->ref_request,
                            e->ref_contribution,
                            e->ref_anchor,
                            e->ref_tx,
                            when,
                            e->idempotency_key,
                            prev,
                            hash,
                            sig,
                            signer,
                            owner};
    char state[6];
    PGresult *r = exec_append(c, params, state, err);
    if (!r) {
        if (strcmp(state, "23514") == 0)
            return coh_err_set(err, COH_ERR_LIMIT,
                               "insufficient funds: debiting %s from account '%s' would make it "
                               "negative",
                               amount, e->debit);
        return err->code;
    }
    int inserted = atoi(PQgetvalue(r, 0, 0)), debited = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (inserted && !debited && e->kind != COH_LEDGER_KEY_ROTATION)
        return coh_err_set(err, COH_ERR_LIMIT,
                           "insufficient funds: account '%s' is empty, cannot debit %s", e->debit,
                           amount);
    if (inserted) {
        *head_seq = e->seq;
        memcpy(head_hash, e->hash, 32);
        return 0;
    }
    /* The key was posted before: same content is a replay, other content a conflict. */
    int rc = fetch_by_key(e, c, want.idempotency_key, err);
    if (rc)
        return rc;
    if (!coh_ledger_entry_same_content(e, &want)) {
        char s[24];
        snprintf(s, sizeof s, "%llu", (unsigned long long)e->seq);
        *e = want;
        return coh_err_set(err, COH_ERR_CONFLICT,
                           "idempotency key '%s' was already used for entry %s with other "
                           "content",
                           want.idempotency_key, s);
    }
    *replayed = 1;
    return 0;
}

/* Clears what a failed posting may have filled in, keeping the caller's content. */
static void reset_out(coh_ledger_entry *e, const coh_ledger_entry *orig)
{
    *e = *orig;
}

/* Posts es[0..n) in one transaction; replayed (n flags) may be NULL. */
static int post_many(coh_ledger_entry *es, int *replayed, size_t n, coh_db_pool *p,
                     const coh_secbuf *key, coh_err *err)
{
    for (size_t i = 0; i < n; i++) {
        coh_err e2 = {0};
        if (coh_ledger_entry_check(&es[i], &e2))
            return coh_err_set(err, COH_ERR_INVALID, "%s%s", n > 1 ? "entry in batch: " : "",
                               e2.msg);
    }
    coh_ledger_entry *orig = malloc((n ? n : 1) * sizeof *orig);
    if (!orig)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    memcpy(orig, es, n * sizeof *es);
    uint8_t signer[20], head_hash[32];
    uint64_t head_seq = 0;
    int rc = coh_crypto_address_from_seckey(signer, key) ? COH_ERR_CRYPTO : 0;
    coh_db_conn *c = rc ? NULL : coh_db_acquire(p, 5000, err);
    if (rc)
        coh_err_set(err, rc, "ledger key is not a valid secp256k1 key");
    else if (!c)
        rc = err->code;
    else if (!(rc = cmd(c, "BEGIN", err)))
        rc = lock_head(c, &head_seq, head_hash, signer, err);
    for (size_t i = 0; !rc && i < n; i++) {
        int rep = 0;
        rc = append(&es[i], &rep, c, key, &head_seq, head_hash, err);
        if (replayed)
            replayed[i] = rep;
        if (rc && n > 1) {
            coh_err e2 = *err;
            coh_err_set(err, e2.code, "batch entry %zu: %s", i, e2.msg);
        }
    }
    if (!rc)
        rc = cmd(c, "COMMIT", err);
    if (rc)
        for (size_t i = 0; i < n; i++)
            reset_out(&es[i], &orig[i]);
    coh_db_release(c); /* rolls back an open transaction */
    free(orig);
    return rc;
}

int coh_db_ledger_post_batch(coh_ledger_entry *es, size_t n, coh_db_pool *p, const coh_secbuf *key,
                             coh_err *err)
{
    return post_many(es, NULL, n, p, key, err);
}

int coh_db_ledger_post(coh_ledger_entry *e, int *replayed, coh_db_pool *p, const coh_secbuf *key,
                       coh_err *err)
{
    int rep = 0;
    int rc = post_many(e, &rep, 1, p, key, err);
    if (replayed)
        *replayed = rc ? 0 : rep;
    return rc;
}

/* ---- queries ------------------------------------------------------------------------------ */

static coh_db_conn *borrow(coh_db_pool *p, coh_err *err)
{
    return coh_db_acquire(p, 2000, err);
}

int coh_db_ledger_entries(coh_ledger_entry **out, size_t *n, coh_db_pool *p,
                          const struct coh_db_ledger_filter *f, coh_err *err)
{
    *out = NULL;
    *n = 0;
    char after[24], limit[12];
    snprintf(after, sizeof after, "%llu", (unsigned long long)f->after);
    snprintf(limit, sizeof limit, "%d", f->limit < 1 ? 1 : f->limit > 1000 ? 1000 : f->limit);
    const char *params[] = {after, f->account ? f->account : "", f->kind ? f->kind : "",
                            f->request ? f->request : "", limit};
    coh_db_conn *c = borrow(p, err);
    if (!c)
        return err->code;
    /* An address filter means its available: and payable: accounts. */
    PGresult *r = exec(c,
                       "SELECT " ENTRY_COLS " FROM ledger_entries WHERE seq > $1::bigint AND "
                       "($2 = '' OR debit = $2 OR credit = $2 OR ($2 ~ '^0x[0-9a-f]{40}$' AND "
                       "(debit IN ('available:' || $2, 'payable:' || $2) OR credit IN "
                       "('available:' || $2, 'payable:' || $2)))) AND ($3 = '' OR kind = $3) AND "
                       "($4 = '' OR ref_request = $4) ORDER BY seq LIMIT $5::int",
                       5, params, NULL, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    int rows = PQntuples(r), rc = 0;
    coh_ledger_entry *es = calloc(rows ? (size_t)rows : 1, sizeof *es);
    if (!es)
        rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < rows; i++)
        rc = row_to_entry(&es[i], r, i, err);
    PQclear(r);
    if (rc) {
        free(es);
        return rc;
    }
    *out = es;
    *n = (size_t)rows;
    return 0;
}

int coh_db_ledger_entry_get(coh_ledger_entry *out, coh_db_pool *p, uint64_t seq, coh_err *err)
{
    memset(out, 0, sizeof *out);
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seq);
    const char *params[] = {s};
    coh_db_conn *c = borrow(p, err);
    if (!c)
        return err->code;
    PGresult *r = exec(c, "SELECT " ENTRY_COLS " FROM ledger_entries WHERE seq = $1::bigint", 1,
                       params, NULL, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    int rc = PQntuples(r) == 1 ? row_to_entry(out, r, 0, err)
                               : coh_err_set(err, COH_ERR_NOTFOUND, "no ledger entry %s", s);
    PQclear(r);
    return rc;
}

int coh_db_ledger_balance(struct coh_db_ledger_balance *out, coh_db_pool *p, const char *addr,
                          coh_err *err)
{
    memset(out, 0, sizeof *out);
    const char *params[] = {addr};
    coh_db_conn *c = borrow(p, err);
    if (!c)
        return err->code;
    /* Anchoring arrives with the chain module: until then nothing is anchored, so claimable is
     * 0 and everything earned is pending. */
    PGresult *r = exec(
        c,
        "WITH v AS (SELECT coalesce((SELECT balance FROM ledger_balances WHERE account = "
        "'available:' || $1), 0) AS available, coalesce((SELECT sum(balance) FROM "
        "ledger_balances WHERE owner = $1 AND account LIKE 'escrow:%'), 0) AS escrowed, "
        "coalesce((SELECT credited FROM ledger_balances WHERE account = 'payable:' || $1), 0) AS "
        "earned, coalesce((SELECT debited FROM ledger_balances WHERE account = 'payable:' || "
        "$1), 0) AS claimed, 0::numeric AS anchored) "
        "SELECT available::text, escrowed::text, earned::text, claimed::text, anchored::text, "
        "greatest(anchored - claimed, 0)::text, greatest(earned - anchored, 0)::text FROM v",
        1, params, NULL, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    char *f[] = {out->available, out->escrowed,  out->earned, out->claimed,
                 out->anchored,  out->claimable, out->pending};
    for (int i = 0; i < 7; i++)
        snprintf(f[i], 80, "%s", PQgetvalue(r, 0, i));
    PQclear(r);
    return 0;
}

int coh_db_ledger_request_totals(char escrowed[80], char paid[80], char refunded[80],
                                 coh_db_pool *p, const char *request_id, coh_err *err)
{
    const char *params[] = {request_id};
    coh_db_conn *c = borrow(p, err);
    if (!c)
        return err->code;
    PGresult *r = exec(c,
                       "SELECT coalesce(sum(amount) FILTER (WHERE kind = 'escrow'), 0)::text, "
                       "coalesce(sum(amount) FILTER (WHERE kind = 'reward'), 0)::text, "
                       "coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0)::text FROM "
                       "ledger_entries WHERE debit = 'escrow:' || $1 OR credit = 'escrow:' || $1",
                       1, params, NULL, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    snprintf(escrowed, 80, "%s", PQgetvalue(r, 0, 0));
    snprintf(paid, 80, "%s", PQgetvalue(r, 0, 1));
    snprintf(refunded, 80, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return 0;
}

int coh_db_ledger_head(uint64_t *seq, uint8_t hash[32], coh_db_pool *p, coh_err *err)
{
    coh_db_conn *c = borrow(p, err);
    if (!c)
        return err->code;
    PGresult *r = exec(c, "SELECT seq, encode(hash, 'hex') FROM ledger_head WHERE id = 1", 0, NULL,
                       NULL, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    int rc = 0;
    if (PQntuples(r) != 1 || coh_hex_decode_exact(hash, 32, PQgetvalue(r, 0, 1)) != 0)
        rc = coh_err_set(err, COH_ERR_DB, "ledger_head row is missing");
    else
        *seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* ---- the signing key ---------------------------------------------------------------------- */

/* Wraps a fresh key; out gets the bytea text of the blob and addr its address. */
static int new_wrapped(coh_secbuf **key, char out[2 + 2 * (32 + COH_CRYPTO_WRAP_OVERHEAD) + 1],
                       char addr[43], const coh_secbuf *master, coh_err *err)
{
    uint8_t blob[32 + COH_CRYPTO_WRAP_OVERHEAD], a[20];
    if (coh_crypto_seckey_generate(key) ||
        coh_crypto_wrap(blob, master, WRAP_CONTEXT, coh_secbuf_data(*key), 32) ||
        coh_crypto_address_from_seckey(a, *key)) {
        coh_secbuf_free(*key);
        *key = NULL;
        return coh_err_set(err, COH_ERR_CRYPTO, "cannot generate the ledger key");
    }
    bytea(out, blob, sizeof blob);
    addr_lower(addr, a);
    return 0;
}

int coh_db_ledger_key_load(coh_secbuf **key, uint8_t address[20], coh_db_pool *p,
                           const coh_secbuf *master, int create, coh_err *err)
{
    *key = NULL;
    memset(address, 0, 20);
    coh_db_conn *c = borrow(p, err);
    if (!c)
        return err->code;
    int rc = 0;
    PGresult *r = NULL;
    for (int attempt = 0; attempt < 2 && !rc; attempt++) {
        r = exec(c, "SELECT address, encode(wrapped_key, 'hex') FROM ledger_keys WHERE active", 0,
                 NULL, NULL, err);
        if (!r) {
            rc = err->code;
            break;
        }
        if (PQntuples(r) == 1 || !create || attempt == 1)
            break;
        PQclear(r);
        r = NULL;
        char blob[2 + 2 * (32 + COH_CRYPTO_WRAP_OVERHEAD) + 1], addr[43];
        coh_secbuf *fresh = NULL;
        if ((rc = new_wrapped(&fresh, blob, addr, master, err)) != 0)
            break;
        coh_secbuf_free(fresh); /* reloaded below: a concurrent starter may have won */
        const char *params[] = {addr, blob};
        PGresult *ins = exec(c,
                             "INSERT INTO ledger_keys (address, wrapped_key, active) VALUES ($1, "
                             "$2::bytea, true) ON CONFLICT (active) WHERE active DO NOTHING",
                             2, params, NULL, err);
        if (!ins)
            rc = err->code;
        PQclear(ins);
    }
    if (!rc && (!r || PQntuples(r) != 1))
        rc = coh_err_set(err, COH_ERR_NOTFOUND,
                         "no ledger key: run the set-up command or start cohortd once");
    if (!rc) {
        uint8_t blob[32 + COH_CRYPTO_WRAP_OVERHEAD], a[20];
        if (coh_hex_decode_exact(blob, sizeof blob, PQgetvalue(r, 0, 1)) != 0 ||
            coh_crypto_unwrap(key, master, WRAP_CONTEXT, blob, sizeof blob) != 0 ||
            coh_secbuf_len(*key) != 32 || coh_crypto_address_from_seckey(a, *key) != 0 ||
            coh_hex_decode_exact(address, 20, PQgetvalue(r, 0, 0)) != 0 ||
            memcmp(a, address, 20) != 0) {
            coh_secbuf_free(*key);
            *key = NULL;
            memset(address, 0, 20);
            rc = coh_err_set(err, COH_ERR_CRYPTO,
                             "the ledger key does not open under this master key");
        }
    }
    PQclear(r);
    coh_db_release(c);
    return rc;
}

int coh_db_ledger_key_rotate(coh_secbuf **new_key, uint8_t new_address[20], coh_db_pool *p,
                             const coh_secbuf *master, const coh_secbuf *old_key, coh_err *err)
{
    *new_key = NULL;
    memset(new_address, 0, 20);
    char blob[2 + 2 * (32 + COH_CRYPTO_WRAP_OVERHEAD) + 1], addr[43], old_addr[43];
    uint8_t old[20], head_hash[32];
    uint64_t head_seq;
    coh_secbuf *fresh = NULL;
    if (coh_crypto_address_from_seckey(old, old_key))
        return coh_err_set(err, COH_ERR_CRYPTO, "the old ledger key is not valid");
    addr_lower(old_addr, old);
    int rc = new_wrapped(&fresh, blob, addr, master, err);
    if (rc)
        return rc;
    coh_db_conn *c = coh_db_acquire(p, 5000, err);
    if (!c) {
        coh_secbuf_free(fresh);
        return err->code;
    }
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    e.kind = COH_LEDGER_KEY_ROTATION;
    snprintf(e.debit, sizeof e.debit, "signer:%s", old_addr);
    snprintf(e.credit, sizeof e.credit, "signer:%s", addr);
    snprintf(e.idempotency_key, sizeof e.idempotency_key, "key-rotation:%s", addr);
    const char *params[] = {addr, blob, old_addr};
    int replayed = 0;
    if (!(rc = coh_ledger_entry_check(&e, err)) && !(rc = cmd(c, "BEGIN", err)) &&
        !(rc = lock_head(c, &head_seq, head_hash, old, err)) &&
        !(rc = append(&e, &replayed, c, old_key, &head_seq, head_hash, err))) {
        PGresult *r = exec(c,
                           "WITH old AS (UPDATE ledger_keys SET active = false, retired_at = "
                           "now() WHERE active AND address = $3 RETURNING 1) INSERT INTO "
                           "ledger_keys (address, wrapped_key, active) SELECT $1, $2::bytea, "
                           "true FROM old",
                           3, params, NULL, err);
        if (!r)
            rc = err->code;
        else if (atoi(PQcmdTuples(r)) != 1)
            rc = coh_err_set(err, COH_ERR_CONFLICT, "the old ledger key is not the active one");
        PQclear(r);
        if (!rc)
            rc = cmd(c, "COMMIT", err);
    }
    coh_db_release(c);
    if (rc) {
        coh_secbuf_free(fresh);
        return rc;
    }
    *new_key = fresh;
    return coh_hex_decode_exact(new_address, 20, addr) ? COH_ERR_CRYPTO : 0;
}
