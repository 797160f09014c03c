/*
 * ledger_post: postings over sql/002_ledger.sql (queries: ledger_query.c; the signing key:
 * ledger_key.c).
 *
 * Invariants: every posting runs in one transaction that first locks ledger_head FOR UPDATE,
 * so appends are strictly serialized and seq/prev_hash always extend the committed head; the
 * entry insert, both balance updates and the head update are one statement, so they commit or
 * fail together; the balance CHECK makes overdrafts impossible even for a buggy caller; the
 * idempotency key is UNIQUE, and a conflicting insert (ON CONFLICT DO NOTHING) posts nothing.
 * The key check in the lock statement refuses postings by a key that is no longer active.
 * Batches are set-based (see "the batch path"): the same guarantees, decided in C from one
 * look-up of the batch's keys and one locked read of its accounts, then one COPY of the new
 * entries and one statement for all balance changes and the head.
 * Load: three round trips and one commit per single posting; a batch of any size takes seven
 * round trips and one commit, its cost dominated by signing (~40-70 us an entry here).
 */
#include "db/ledger_internal.h"

#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int coh_db_ledger_row_to_entry(coh_ledger_entry *e, PGresult *r, int i, coh_err *err)
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
    if (coh_u256_from_dec(e->amount, PQgetvalue(r, i, 4)) ||
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
    coh_db_error_set(c, r, state, err);
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
int coh_db_ledger_lock_head(coh_db_conn *c, uint64_t *seq, uint8_t hash[32],
                            const uint8_t signer[20], coh_err *err)
{
    PGresult *r =
        coh_db_exec(c,
                    "SELECT h.seq, encode(h.hash, 'hex'), (SELECT address FROM ledger_keys "
                    "WHERE active), (SELECT count(*) FROM pg_prepared_statements WHERE name "
                    "= '" APPEND_NAME "') FROM ledger_head h WHERE h.id = 1 FOR UPDATE",
                    0, NULL, err);
    if (!r)
        return err->code;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return coh_err_set(err, COH_ERR_DB, "ledger_head row is missing");
    }
    *seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    int bad = coh_hex_decode_exact(hash, 32, PQgetvalue(r, 0, 1));
    char mine[COH_ADDR_HEX_SIZE];
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
    PGresult *r = coh_db_exec(
        c, "SELECT " ENTRY_COLS " FROM ledger_entries WHERE idempotency_key = $1", 1, params, err);
    if (!r)
        return err->code;
    int rc = PQntuples(r) == 1 ? coh_db_ledger_row_to_entry(out, r, 0, err)
                               : coh_err_set(err, COH_ERR_DB, "idempotent entry vanished");
    PQclear(r);
    return rc;
}

/*
 * Appends e after (*head_seq, head_hash) inside the caller's transaction, or finds it already
 * posted under its key (*replayed = 1). Advances the head on success.
 */
int coh_db_ledger_append(coh_ledger_entry *e, int *replayed, coh_db_conn *c, const coh_secbuf *key,
                         uint64_t *head_seq, uint8_t head_hash[32], coh_err *err)
{
    *replayed = 0;
    coh_ledger_entry want = *e;
    e->seq = *head_seq + 1;
    e->created_us = now_us();
    memcpy(e->prev_hash, head_hash, 32);
    if (coh_ledger_entry_seal(e, key))
        return coh_err_set(err, COH_ERR_CRYPTO, "cannot sign the ledger entry");
    char seq[24], amount[COH_U256_DEC_SIZE], when[48], prev[COH_HASH_HEX_SIZE],
        hash[COH_HASH_HEX_SIZE], sig[COH_SIG_HEX_SIZE], signer[COH_ADDR_HEX_SIZE],
        owner[COH_ADDR_HEX_SIZE] = "";
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)e->seq);
    coh_u256_to_dec(amount, e->amount);
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
    const char *funder = "";
    if (e->kind == COH_LEDGER_ESCROW && coh_ledger_account_parse(e->debit, NULL, &funder) == 0)
        snprintf(owner, sizeof owner, "%s", funder);
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
        if (coh_db_sqlstate(state)->id == COH_DB_CHECK_VIOLATION)
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

/* ---- the batch path ------------------------------------------------------------------------ */
/*
 * A batch of n > 1 entries, inside the caller's transaction after lock_head, in a fixed number
 * of round trips whatever n: (1) the batch's idempotency keys looked up at once; (2) the
 * balances of every account the batch touches, locked FOR UPDATE; replays, conflicts and
 * overdrafts are then decided in C, entry by entry in batch order, so the first failing entry
 * is the one named; (3) the new entries sealed and streamed into one COPY as they are signed
 * (libpq sends every ~8 KiB, so the server inserts while the client signs); (4) one statement
 * that applies each account's net change, summed from the very rows just inserted, and
 * advances the head. The balance CHECK stays the last line of defense (COH_ERR_LIMIT).
 */

/* A string with the batch position it came from, to sort and deduplicate. */
struct keyed {
    const char *s;
    size_t i;
};

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int d = strcmp(x->s, y->s);
    return d ? d : (x->i > y->i) - (x->i < y->i);
}

static int cmp_entry_key(const void *a, const void *b)
{
    return strcmp(((const coh_ledger_entry *)a)->idempotency_key,
                  ((const coh_ledger_entry *)b)->idempotency_key);
}

/* One account the batch touches and its running balance ("chain" alone is not tracked). */
struct acct {
    const char *name;
    uint8_t bal[32];
};

static int cmp_acct(const void *a, const void *b)
{
    return strcmp(((const struct acct *)a)->name, ((const struct acct *)b)->name);
}

enum { B_NEW, B_REPLAY_DB, B_REPLAY_BATCH };

struct batch {
    coh_ledger_entry *es;
    size_t n;
    int *what;               /* B_* per entry */
    size_t *orig;            /* B_REPLAY_DB: index into prior; B_REPLAY_BATCH: earlier entry */
    coh_ledger_entry *prior; /* entries already posted under the batch's keys, sorted by key */
    size_t n_prior;
    struct acct *accts; /* sorted by name */
    size_t n_accts;
};

/* (1) Which entries were posted before (by key), and which repeat a key of the batch. */
static int batch_keys(struct batch *b, coh_db_conn *c, coh_err *err)
{
    struct keyed *ks = malloc(b->n * sizeof *ks);
    const char **uniq = malloc(b->n * sizeof *uniq);
    int rc = ks && uniq ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    size_t nu = 0;
    if (!rc) {
        for (size_t i = 0; i < b->n; i++) {
            ks[i] = (struct keyed){b->es[i].idempotency_key, i};
            b->what[i] = B_NEW;
        }
        qsort(ks, b->n, sizeof *ks, cmp_keyed);
        for (size_t k = 0; k < b->n; k++) {
            if (k && strcmp(ks[k].s, ks[k - 1].s) == 0) {
                size_t first =
                    b->what[ks[k - 1].i] == B_REPLAY_BATCH ? b->orig[ks[k - 1].i] : ks[k - 1].i;
                b->what[ks[k].i] = B_REPLAY_BATCH;
                b->orig[ks[k].i] = first;
            } else {
                uniq[nu++] = ks[k].s;
            }
        }
    }
    char *arr = rc ? NULL : coh_db_text_array(uniq, nu);
    free(uniq);
    free(ks);
    if (!rc && !arr)
        rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    if (rc)
        return rc;
    const char *params[] = {arr};
    PGresult *r = coh_db_exec_unprepared(
        c, "SELECT " ENTRY_COLS " FROM ledger_entries WHERE idempotency_key = ANY($1::text[])", 1,
        params, err);
    free(arr);
    if (!r)
        return err->code;
    int rows = PQntuples(r);
    b->prior = calloc(rows ? (size_t)rows : 1, sizeof *b->prior);
    if (!b->prior)
        rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < rows; i++)
        rc = coh_db_ledger_row_to_entry(&b->prior[i], r, i, err);
    PQclear(r);
    if (rc)
        return rc;
    b->n_prior = (size_t)rows;
    qsort(b->prior, b->n_prior, sizeof *b->prior, cmp_entry_key);
    /* A key posted before: every occurrence in the batch refers to that entry. */
    for (size_t i = 0; i < b->n && b->n_prior; i++) {
        const coh_ledger_entry *p =
            bsearch(&b->es[i], b->prior, b->n_prior, sizeof *b->prior, cmp_entry_key);
        if (p) {
            b->what[i] = B_REPLAY_DB;
            b->orig[i] = (size_t)(p - b->prior);
        }
    }
    return 0;
}

/* (2) The current balances of the accounts the new entries touch, locked. */
static int batch_balances(struct batch *b, coh_db_conn *c, coh_err *err)
{
    struct keyed *ks = malloc(2 * b->n * sizeof *ks);
    if (!ks)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->what[i] == B_NEW) {
            ks[m++] = (struct keyed){b->es[i].debit, 0};
            ks[m++] = (struct keyed){b->es[i].credit, 0};
        }
    qsort(ks, m, sizeof *ks, cmp_keyed);
    b->accts = calloc(m ? m : 1, sizeof *b->accts);
    const char **names = malloc((m ? m : 1) * sizeof *names);
    int rc = b->accts && names ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (size_t k = 0; !rc && k < m; k++)
        if (!k || strcmp(ks[k].s, ks[k - 1].s) != 0) {
            names[b->n_accts] = ks[k].s;
            b->accts[b->n_accts++].name = ks[k].s;
        }
    free(ks);
    char *arr = rc || !b->n_accts ? NULL : coh_db_text_array(names, b->n_accts);
    free(names);
    if (rc || !b->n_accts)
        return rc;
    if (!arr)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    const char *params[] = {arr};
    PGresult *r =
        coh_db_exec_unprepared(c,
                               "SELECT account, balance::text FROM ledger_balances WHERE account = "
                               "ANY($1::text[]) ORDER BY account FOR UPDATE",
                               1, params, err);
    free(arr);
    if (!r)
        return err->code;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        struct acct k = {.name = PQgetvalue(r, i, 0)};
        struct acct *a = bsearch(&k, b->accts, b->n_accts, sizeof *b->accts, cmp_acct);
        if (!a || strcmp(a->name, COH_LEDGER_CHAIN_ACCOUNT) == 0)
            continue;
        if (coh_u256_from_dec(a->bal, PQgetvalue(r, i, 1)) != 0)
            rc = coh_err_set(err, COH_ERR_DB, "balance of account '%s' is not a uint256: %s",
                             a->name, PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return rc;
}

/*
 * Decides every entry in batch order: a replay must have the original's content; a new entry
 * must not take its debit account (other than "chain") below zero, given the entries before it.
 * Returns the first failure, naming the entry's index.
 */
static int batch_check(struct batch *b, coh_err *err)
{
    for (size_t i = 0; i < b->n; i++) {
        const coh_ledger_entry *e = &b->es[i];
        if (b->what[i] != B_NEW) {
            const coh_ledger_entry *o =
                b->what[i] == B_REPLAY_DB ? &b->prior[b->orig[i]] : &b->es[b->orig[i]];
            if (coh_ledger_entry_same_content(e, o))
                continue;
            if (b->what[i] == B_REPLAY_DB)
                return coh_err_set(err, COH_ERR_CONFLICT,
                                   "batch entry %zu: idempotency key '%s' was already used for "
                                   "entry %llu with other content",
                                   i, e->idempotency_key, (unsigned long long)o->seq);
            return coh_err_set(err, COH_ERR_CONFLICT,
                               "batch entry %zu: idempotency key '%s' was already used for batch "
                               "entry %zu with other content",
                               i, e->idempotency_key, b->orig[i]);
        }
        struct acct kd = {.name = e->debit}, kc = {.name = e->credit};
        struct acct *d = bsearch(&kd, b->accts, b->n_accts, sizeof *b->accts, cmp_acct);
        struct acct *cr = bsearch(&kc, b->accts, b->n_accts, sizeof *b->accts, cmp_acct);
        if (!d || !cr)
            return coh_err_set(err, COH_ERR_DB, "batch entry %zu: account lookup failed", i);
        if (strcmp(d->name, COH_LEDGER_CHAIN_ACCOUNT) != 0 &&
            coh_u256_sub(d->bal, d->bal, e->amount) != 0) {
            char amount[COH_U256_DEC_SIZE], bal[COH_U256_DEC_SIZE]; /* d->bal is unchanged */
            coh_u256_to_dec(amount, e->amount);
            coh_u256_to_dec(bal, d->bal);
            return coh_err_set(err, COH_ERR_LIMIT,
                               "batch entry %zu: insufficient funds: debiting %s from account "
                               "'%s' would make it negative (balance %s)",
                               i, amount, d->name, bal);
        }
        if (strcmp(cr->name, COH_LEDGER_CHAIN_ACCOUNT) != 0 &&
            coh_u256_add(cr->bal, cr->bal, e->amount) != 0)
            return coh_err_set(err, COH_ERR_INVALID,
                               "batch entry %zu: the balance of account '%s' would exceed uint256",
                               i, cr->name);
    }
    return 0;
}

/* Appends s to the COPY text line at *o, escaped (NULL marker when s is empty and nullable). */
static char *copy_text(char *o, const char *s, int nullable)
{
    if (nullable && !*s) {
        memcpy(o, "\\N", 2);
        return o + 2;
    }
    for (; *s; s++) {
        switch (*s) {
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        default:
            *o++ = *s;
        }
    }
    return o;
}

static char *copy_bytea(char *o, const uint8_t *b, size_t len)
{
    memcpy(o, "\\\\x", 3); /* \x, its backslash escaped for COPY */
    coh_hex_encode(o + 3, b, len, 0);
    return o + 3 + 2 * len;
}

/* One COPY text line (ends with '\n'); returns its length. buf: COPY_LINE_MAX bytes. */
#define COPY_LINE_MAX (8 * 2 * (COH_LEDGER_STR_MAX + 2) + 1024)
static size_t copy_line(char *buf, const coh_ledger_entry *e, const char *signer)
{
    char *o = buf;
    o += sprintf(o, "%llu\t%s\t", (unsigned long long)e->seq, coh_ledger_kind_name(e->kind));
    o = copy_text(o, e->debit, 0);
    *o++ = '\t';
    o = copy_text(o, e->credit, 0);
    *o++ = '\t';
    coh_u256_to_dec(o, e->amount);
    o += strlen(o);
    const char *refs[] = {e->ref_request, e->ref_contribution, e->ref_anchor, e->ref_tx};
    for (int k = 0; k < 4; k++) {
        *o++ = '\t';
        o = copy_text(o, refs[k], 1);
    }
    time_t secs = (time_t)(e->created_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    o += strftime(o, 32, "\t%Y-%m-%d %H:%M:%S", &tm);
    o += sprintf(o, ".%06ld+00\t", (long)(e->created_us % 1000000));
    o = copy_text(o, e->idempotency_key, 0);
    *o++ = '\t';
    o = copy_bytea(o, e->prev_hash, 32);
    *o++ = '\t';
    o = copy_bytea(o, e->hash, 32);
    *o++ = '\t';
    o = copy_bytea(o, e->signature, 65);
    *o++ = '\t';
    memcpy(o, signer, 42);
    o += 42;
    *o++ = '\n';
    return (size_t)(o - buf);
}

/* Maps a failed batch statement to the error the caller sees. */
static int batch_db_error(PGresult *r, coh_db_conn *c, const char *what, coh_err *err)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const struct coh_db_sqlstate *map = coh_db_sqlstate(s);
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *con = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (!m)
        m = PQerrorMessage(coh_db_pgconn(c));
    if (PQstatus(coh_db_pgconn(c)) != CONNECTION_OK)
        return coh_err_set(err, COH_ERR_UNAVAILABLE, "database connection lost");
    if (map->id == COH_DB_QUERY_CANCELED)
        return coh_err_set(err, map->code, "%s", map->phrase);
    /* A refused check here is a balance going below zero (ledger_balances). */
    if (map->id == COH_DB_CHECK_VIOLATION)
        return coh_err_set(err, COH_ERR_LIMIT, "insufficient funds: %s refused by %s: %s", what,
                           con ? con : "a check constraint", m);
    if (map->id == COH_DB_UNIQUE_VIOLATION)
        return coh_err_set(err, map->code, "%s conflicts on %s: %s", what,
                           con ? con : "a unique index", m);
    return coh_err_set(err, COH_ERR_DB, "%s: database error %s: %s", what, s ? s : "?", m);
}

/* (3) Seals the new entries in order, streaming them into COPY; replays get their original. */
static int batch_insert(struct batch *b, size_t fresh, coh_db_conn *c, const coh_secbuf *key,
                        const uint8_t signer[20], uint64_t *head_seq, uint8_t head_hash[32],
                        coh_err *err)
{
    PGconn *pg = coh_db_pgconn(c);
    if (!fresh) { /* all replays */
        for (size_t i = 0; i < b->n; i++)
            b->es[i] = b->prior[b->orig[i]];
        return 0;
    }
    PGresult *r = PQexec(pg, "COPY ledger_entries (seq, kind, debit, credit, amount, "
                             "ref_request, ref_contribution, ref_anchor, ref_tx, created_at, "
                             "idempotency_key, prev_hash, hash, signature, signer) FROM STDIN");
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = batch_db_error(r, c, "COPY of the batch", err);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    char line[COPY_LINE_MAX], signer_hex[COH_ADDR_HEX_SIZE];
    addr_lower(signer_hex, signer);
    int rc = 0;
    for (size_t i = 0; i < b->n && !rc; i++) {
        coh_ledger_entry *e = &b->es[i];
        if (b->what[i] == B_REPLAY_DB) {
            *e = b->prior[b->orig[i]];
            continue;
        }
        if (b->what[i] == B_REPLAY_BATCH) {
            assert(b->orig[i] < i);
            *e = b->es[b->orig[i]]; /* sealed already: it comes earlier */
            continue;
        }
        e->seq = *head_seq + 1;
        e->created_us = now_us();
        memcpy(e->prev_hash, head_hash, 32);
        if (coh_ledger_entry_hash(e->hash, e) || coh_crypto_sign(e->signature, key, e->hash)) {
            rc = coh_err_set(err, COH_ERR_CRYPTO, "batch entry %zu: cannot sign the entry", i);
            break;
        }
        memcpy(e->signer, signer, 20);
        size_t len = copy_line(line, e, signer_hex);
        assert(len < sizeof line);
        if (PQputCopyData(pg, line, (int)len) != 1)
            rc = coh_err_set(err, COH_ERR_UNAVAILABLE, "COPY of the batch failed: %s",
                             PQerrorMessage(pg));
        *head_seq = e->seq;
        memcpy(head_hash, e->hash, 32);
    }
    if (PQputCopyEnd(pg, rc ? "batch aborted" : NULL) != 1 && !rc)
        rc = coh_err_set(err, COH_ERR_UNAVAILABLE, "COPY of the batch failed: %s",
                         PQerrorMessage(pg));
    while ((r = PQgetResult(pg)) != NULL) {
        if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = batch_db_error(r, c, "COPY of the batch", err);
        PQclear(r);
    }
    return rc;
}

/*
 * (4) Each account's net change from the entries seq lo..hi (just inserted), as one UPDATE of
 * the accounts that exist and one INSERT of those that do not (a proposed INSERT row is checked
 * against the balance CHECK before conflict resolution, so no upsert), and the head.
 */
static int batch_apply(coh_db_conn *c, uint64_t lo, uint64_t hi, const uint8_t hash[32],
                       coh_err *err)
{
    char los[24], his[24], h[COH_HASH_HEX_SIZE];
    snprintf(los, sizeof los, "%llu", (unsigned long long)lo);
    snprintf(his, sizeof his, "%llu", (unsigned long long)hi);
    bytea(h, hash, 32);
    const char *params[] = {los, his, h};
    PGresult *r = PQexecParams(
        coh_db_pgconn(c),
        "WITH e AS (SELECT seq, kind, debit, credit, amount FROM ledger_entries WHERE seq "
        "BETWEEN $1::bigint AND $2::bigint), "
        "m AS (SELECT debit AS account, 0::numeric AS cr, amount AS dr, NULL::text AS owner, seq "
        "FROM e UNION ALL SELECT credit, amount, 0, CASE WHEN kind = 'escrow' THEN "
        "substr(debit, 11) END, seq FROM e), "
        "g AS (SELECT account, sum(cr) AS cr, sum(dr) AS dr, (array_agg(owner ORDER BY seq) "
        "FILTER (WHERE owner IS NOT NULL))[1] AS owner FROM m GROUP BY account), "
        "u AS (UPDATE ledger_balances b SET balance = b.balance + g.cr - g.dr, credited = "
        "b.credited + g.cr, debited = b.debited + g.dr, owner = coalesce(b.owner, g.owner) FROM "
        "g WHERE b.account = g.account RETURNING 1), "
        "i AS (INSERT INTO ledger_balances (account, balance, credited, debited, owner) SELECT "
        "account, cr - dr, cr, dr, owner FROM g WHERE NOT EXISTS (SELECT 1 FROM ledger_balances "
        "x WHERE x.account = g.account) RETURNING 1), "
        "h AS (UPDATE ledger_head SET seq = $2::bigint, hash = $3::bytea WHERE id = 1 RETURNING "
        "1) "
        "SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM g), (SELECT count(*) FROM u) + "
        "(SELECT count(*) FROM i), (SELECT count(*) FROM h)",
        3, NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = batch_db_error(r, c, "balances of the batch", err);
        PQclear(r);
        return rc;
    }
    long long entries = atoll(PQgetvalue(r, 0, 0)), accts = atoll(PQgetvalue(r, 0, 1)),
              applied = atoll(PQgetvalue(r, 0, 2)), head = atoll(PQgetvalue(r, 0, 3));
    PQclear(r);
    if (entries != (long long)(hi - lo + 1) || applied != accts || head != 1)
        return coh_err_set(err, COH_ERR_DB,
                           "batch balances: %lld of %llu entries, %lld of %lld accounts, head %lld",
                           entries, (unsigned long long)(hi - lo + 1), applied, accts, head);
    return 0;
}

/* The whole batch inside the caller's transaction, after lock_head. */
static int post_batch(coh_ledger_entry *es, size_t n, coh_db_conn *c, const coh_secbuf *key,
                      const uint8_t signer[20], uint64_t *head_seq, uint8_t head_hash[32],
                      coh_err *err)
{
    struct batch b = {.es = es, .n = n};
    b.what = calloc(n, sizeof *b.what);
    b.orig = calloc(n, sizeof *b.orig);
    int rc = b.what && b.orig ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = batch_keys(&b, c, err);
    if (!rc)
        rc = batch_balances(&b, c, err);
    if (!rc)
        rc = batch_check(&b, err);
    size_t fresh = 0;
    for (size_t i = 0; !rc && i < n; i++)
        fresh += b.what[i] == B_NEW;
    uint64_t lo = *head_seq + 1;
    if (!rc)
        rc = batch_insert(&b, fresh, c, key, signer, head_seq, head_hash, err);
    if (!rc && fresh)
        rc = batch_apply(c, lo, *head_seq, head_hash, err);
    free(b.what);
    free(b.orig);
    free(b.prior);
    free(b.accts);
    return rc;
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
    else if (!(rc = coh_db_cmd(c, "BEGIN", err)))
        rc = coh_db_ledger_lock_head(c, &head_seq, head_hash, signer, err);
    /* Batches take the set-based path; a key rotation (never batched in practice) and a
     * single posting take the one-statement append. */
    int set_based = n > 1;
    for (size_t i = 0; i < n; i++)
        set_based &= es[i].kind != COH_LEDGER_KEY_ROTATION;
    if (!rc && set_based)
        rc = post_batch(es, n, c, key, signer, &head_seq, head_hash, err);
    for (size_t i = 0; !rc && !set_based && i < n; i++) {
        int rep = 0;
        rc = coh_db_ledger_append(&es[i], &rep, c, key, &head_seq, head_hash, err);
        if (replayed)
            replayed[i] = rep;
        if (rc && n > 1) {
            coh_err e2 = *err;
            coh_err_set(err, e2.code, "batch entry %zu: %s", i, e2.msg);
        }
    }
    if (!rc)
        rc = coh_db_cmd(c, "COMMIT", err);
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

coh_db_conn *coh_db_ledger_borrow(coh_db_pool *p, coh_err *err)
{
    return coh_db_acquire(p, 2000, err);
}
