/*
 * ledger_stress: the ledger against the real PostgreSQL (COH_TEST_DATABASE_URL), in a database
 * of its own. Proves: the hash chain has no fork and every balance matches the entries after
 * 10,000 postings from 8 threads; a posting retried with the same idempotency key (also
 * concurrently) pays once, and the key with other content is a conflict; overdrafts are
 * refused (single and mid-batch, leaving nothing behind); batches replay, refuse conflicting
 * keys (also within the batch) and spend what their earlier entries credit, also while other
 * threads post; the database itself refuses UPDATE,
 * DELETE and TRUNCATE on entries; key rotation is recorded and an old key can no longer post.
 * Prints TAP-like "ok"/"not ok" lines and throughput figures; exits non-zero on any failure.
 */
#include "crypto/crypto.h"
#include "db/db.h"
#include "own_database.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define PER_THREAD 1250 /* 8 x 1250 = 10,000 postings */

static coh_db_pool *g_db;
static coh_secbuf *g_key;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void addr_of(char out[43], int who, int role)
{
    snprintf(out, 43, "0x%02x%02x000000000000000000000000000000000000", role, who);
}

static coh_ledger_entry entry(int kind, const char *debit, const char *credit, unsigned amount,
                              const char *key)
{
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    snprintf(e.debit, sizeof e.debit, "%s", debit);
    snprintf(e.credit, sizeof e.credit, "%s", credit);
    char dec[16];
    snprintf(dec, sizeof dec, "%u", amount);
    if (coh_u256_from_dec(e.amount, dec))
        abort();
    snprintf(e.idempotency_key, sizeof e.idempotency_key, "%s", key);
    return e;
}

/* One researcher per thread: deposit 3, escrow 2, reward 1 to a contributor, refund 1. */
static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg, fails = 0;
    char r[43], c[43], avail[80], escrow[80], pay[80], key[64];
    addr_of(r, t, 1);
    addr_of(c, t, 2);
    snprintf(avail, sizeof avail, "available:%s", r);
    snprintf(escrow, sizeof escrow, "escrow:0x%064x", t + 1);
    snprintf(pay, sizeof pay, "payable:%s", c);
    for (int i = 0; i < PER_THREAD; i++) {
        coh_ledger_entry e;
        snprintf(key, sizeof key, "stress:%d:%d", t, i);
        switch (i % 4) {
        case 0:
            e = entry(COH_LEDGER_DEPOSIT, "chain", avail, 3, key);
            break;
        case 1:
            e = entry(COH_LEDGER_ESCROW, avail, escrow, 2, key);
            break;
        case 2:
            e = entry(COH_LEDGER_REWARD, escrow, pay, 1, key);
            break;
        default:
            e = entry(COH_LEDGER_REFUND, escrow, avail, 1, key);
            break;
        }
        coh_err err = {0};
        if (coh_db_ledger_post(&e, NULL, g_db, g_key, &err)) {
            if (fails++ < 3)
                fprintf(stderr, "posting failed: %s\n", err.msg);
        }
    }
    return (void *)(intptr_t)fails;
}

/* Walks the whole ledger from the database and compares every balance row. */
static int walk_all(const uint8_t signer[20], uint64_t *count, char *msg, size_t cap)
{
    coh_ledger_walk *w = NULL;
    if (coh_ledger_walk_new(&w, signer))
        return -1;
    struct coh_db_ledger_filter f = {.after = 0, .limit = 1000};
    int rc = 0;
    coh_err err = {0};
    for (;;) {
        coh_ledger_entry *es = NULL;
        size_t n = 0;
        if ((rc = coh_db_ledger_entries(&es, &n, g_db, &f, &err)) != 0)
            break;
        for (size_t i = 0; !rc && i < n; i++)
            rc = coh_ledger_walk_add(w, &es[i], &err);
        if (n)
            f.after = es[n - 1].seq;
        free(es);
        if (rc || n < 1000)
            break;
    }
    if (!rc)
        rc = coh_ledger_walk_finish(w, &err);
    snprintf(msg, cap, "%s", err.msg);
    *count = coh_ledger_walk_count(w);
    /* Every balance row equals credits - debits recomputed from the entries. */
    coh_db_conn *c = rc ? NULL : coh_db_acquire(g_db, 2000, &err);
    PGresult *r = c ? coh_db_exec(c,
                                  "SELECT account, balance::text, credited::text, "
                                  "debited::text FROM ledger_balances",
                                  0, NULL, &err)
                    : NULL;
    for (int i = 0; r && !rc && i < PQntuples(r); i++) {
        uint8_t bal[32], cr[32], db[32];
        int neg;
        char b[80], cs[79], ds[79];
        if (coh_ledger_walk_account(w, PQgetvalue(r, i, 0), bal, &neg, cr, db)) {
            rc = -1;
            break;
        }
        coh_u256_to_dec(b + 1, bal);
        b[0] = '-';
        coh_u256_to_dec(cs, cr);
        coh_u256_to_dec(ds, db);
        const char *bs = neg ? b : b + 1;
        if (strcmp(bs, PQgetvalue(r, i, 1)) || strcmp(cs, PQgetvalue(r, i, 2)) ||
            strcmp(ds, PQgetvalue(r, i, 3))) {
            snprintf(msg, cap, "balance of %s is %s, entries give %s", PQgetvalue(r, i, 0),
                     PQgetvalue(r, i, 1), bs);
            rc = -1;
        }
    }
    PQclear(r);
    coh_db_release(c);
    coh_ledger_walk_free(w);
    return rc;
}

static int sql_refused(const char *sql)
{
    coh_err err = {0};
    coh_db_conn *c = coh_db_acquire(g_db, 2000, &err);
    PGresult *r = coh_db_exec(c, sql, 0, NULL, &err);
    int refused = !r && strstr(err.msg, "append-only") != NULL;
    PQclear(r);
    coh_db_release(c);
    return refused;
}

static long long scalar(const char *sql)
{
    coh_err err = {0};
    coh_db_conn *c = coh_db_acquire(g_db, 2000, &err);
    PGresult *r = coh_db_exec(c, sql, 0, NULL, &err);
    long long v = r && PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    coh_db_release(c);
    return v;
}

struct same_key {
    coh_ledger_entry e;
    int rc, replayed;
};

static void *post_same(void *arg)
{
    struct same_key *s = arg;
    coh_err err = {0};
    s->rc = coh_db_ledger_post(&s->e, &s->replayed, g_db, g_key, &err);
    return NULL;
}

static void test_concurrent_chain(const uint8_t signer[20])
{
    pthread_t th[THREADS];
    double t0 = now_s();
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    long fails = 0;
    for (int t = 0; t < THREADS; t++) {
        void *v;
        pthread_join(th[t], &v);
        fails += (long)(intptr_t)v;
    }
    double dt = now_s() - t0;
    printf("# %d postings from %d threads in %.2f s: %.0f signed entries/s (single postings, "
           "one commit each)\n",
           THREADS * PER_THREAD, THREADS, dt, THREADS * PER_THREAD / dt);
    CHECK("10,000 concurrent postings from 8 threads all succeed", fails == 0);
    CHECK("10,000 entries recorded",
          scalar("SELECT count(*) FROM ledger_entries") == THREADS * PER_THREAD);
    CHECK("sequence numbers are 1..10000 without gaps",
          scalar("SELECT max(seq) - min(seq) + 1 - count(*) FROM ledger_entries") == 0);
    CHECK("no fork: every prev_hash is the hash of the entry before",
          scalar("SELECT count(*) FROM ledger_entries a JOIN ledger_entries b ON b.seq = a.seq "
                 "- 1 WHERE a.prev_hash <> b.hash") == 0);
    CHECK("the head is the last entry",
          scalar("SELECT count(*) FROM ledger_head h JOIN ledger_entries e ON e.seq = h.seq AND "
                 "e.hash = h.hash") == 1);
    uint64_t n = 0;
    char msg[256] = "";
    int rc = walk_all(signer, &n, msg, sizeof msg);
    if (rc)
        printf("# walk: %s\n", msg);
    CHECK("re-walk: every hash, link and signature verifies; balances equal the entries",
          rc == 0 && n == THREADS * PER_THREAD);
    CHECK("money is conserved: balances sum to zero",
          scalar("SELECT sum(balance) FROM ledger_balances") == 0);
    struct coh_db_ledger_balance b;
    coh_err err = {0};
    char r0[43];
    addr_of(r0, 0, 1);
    rc = coh_db_ledger_balance(&b, g_db, r0, &err);
    /* 312.5 rounds: 313 deposits of 3, 313 escrows of 2, 312 rewards, 312 refunds of 1. */
    CHECK("a researcher's available and escrowed balances",
          rc == 0 && strcmp(b.available, "625") == 0 && strcmp(b.escrowed, "2") == 0);
    addr_of(r0, 0, 2);
    rc = coh_db_ledger_balance(&b, g_db, r0, &err);
    CHECK("a contributor's earned (= pending until anchoring) balance",
          rc == 0 && strcmp(b.earned, "312") == 0 && strcmp(b.pending, "312") == 0 &&
              strcmp(b.claimable, "0") == 0);
}

static void test_idempotency(void)
{
    char avail[80], r[43];
    addr_of(r, 9, 1);
    snprintf(avail, sizeof avail, "available:%s", r);
    struct same_key s[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        s[t].e = entry(COH_LEDGER_DEPOSIT, "chain", avail, 500, "retry:deposit-1");
        pthread_create(&th[t], NULL, post_same, &s[t]);
    }
    int ok = 1, replays = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        ok &= s[t].rc == 0 && s[t].e.seq == s[0].e.seq && memcmp(s[t].e.hash, s[0].e.hash, 32) == 0;
        replays += s[t].replayed;
    }
    CHECK("8 concurrent retries of one posting all return the same entry", ok);
    CHECK("exactly one of them posted it, 7 were replays", replays == THREADS - 1);
    struct coh_db_ledger_balance b;
    coh_err err = {0};
    int rc = coh_db_ledger_balance(&b, g_db, r, &err);
    CHECK("and the deposit was paid once", rc == 0 && strcmp(b.available, "500") == 0);
    coh_ledger_entry again = entry(COH_LEDGER_DEPOSIT, "chain", avail, 500, "retry:deposit-1");
    int replayed = 0;
    rc = coh_db_ledger_post(&again, &replayed, g_db, g_key, &err);
    CHECK("a later retry is a replay of the original entry",
          rc == 0 && replayed && again.seq == s[0].e.seq);
    coh_ledger_entry other = entry(COH_LEDGER_DEPOSIT, "chain", avail, 501, "retry:deposit-1");
    rc = coh_db_ledger_post(&other, &replayed, g_db, g_key, &err);
    CHECK("the same key with another amount is a conflict",
          rc == COH_ERR_CONFLICT && strstr(err.msg, "other content") != NULL);
    rc = coh_db_ledger_balance(&b, g_db, r, &err);
    CHECK("which paid nothing", rc == 0 && strcmp(b.available, "500") == 0);
}

static void test_overdraft(void)
{
    char avail[80], escrow[80], r[43];
    addr_of(r, 9, 1);
    snprintf(avail, sizeof avail, "available:%s", r);
    snprintf(escrow, sizeof escrow, "escrow:0x%064x", 99);
    long long head = scalar("SELECT seq FROM ledger_head");
    coh_ledger_entry e = entry(COH_LEDGER_ESCROW, avail, escrow, 501, "over:1");
    coh_err err = {0};
    int rc = coh_db_ledger_post(&e, NULL, g_db, g_key, &err);
    CHECK("escrowing more than is available is refused (COH_ERR_LIMIT)",
          rc == COH_ERR_LIMIT && strstr(err.msg, "insufficient funds") != NULL &&
              strstr(err.msg, avail) != NULL);
    CHECK("and leaves no entry", scalar("SELECT seq FROM ledger_head") == head);
    coh_ledger_entry batch[3] = {entry(COH_LEDGER_ESCROW, avail, escrow, 300, "over:b1"),
                                 entry(COH_LEDGER_ESCROW, avail, escrow, 300, "over:b2"),
                                 entry(COH_LEDGER_ESCROW, avail, escrow, 1, "over:b3")};
    rc = coh_db_ledger_post_batch(batch, 3, g_db, g_key, &err);
    CHECK("a batch overdrawing at its second entry is refused, naming it",
          rc == COH_ERR_LIMIT && strstr(err.msg, "batch entry 1") != NULL);
    CHECK("and none of the batch is posted",
          scalar("SELECT seq FROM ledger_head") == head &&
              scalar("SELECT count(*) FROM ledger_entries "
                     "WHERE idempotency_key LIKE 'over:%'") == 0);
    coh_ledger_entry claim = entry(COH_LEDGER_CLAIM,
                                   "payable:0x"
                                   "33"
                                   "00000000000000000000000000000000000000",
                                   "chain", 1, "over:claim");
    rc = coh_db_ledger_post(&claim, NULL, g_db, g_key, &err);
    CHECK("claiming from an empty payable account is refused", rc == COH_ERR_LIMIT);
    coh_ledger_entry bad = entry(COH_LEDGER_REWARD, avail, escrow, 1, "over:bad");
    rc = coh_db_ledger_post(&bad, NULL, g_db, g_key, &err);
    CHECK("accounts not allowed for the kind are refused (COH_ERR_INVALID)", rc == COH_ERR_INVALID);
}

static void test_batch_throughput(void)
{
    enum { N = 1000, ROUNDS = 5 };
    coh_ledger_entry *es = calloc(N, sizeof *es);
    char avail[80], r[43], key[64];
    addr_of(r, 10, 1);
    snprintf(avail, sizeof avail, "available:%s", r);
    double t0 = now_s();
    int ok = es != NULL;
    for (int k = 0; ok && k < ROUNDS; k++) {
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof key, "batch:%d:%d", k, i);
            es[i] = entry(COH_LEDGER_DEPOSIT, "chain", avail, 1, key);
        }
        coh_err err = {0};
        ok = coh_db_ledger_post_batch(es, N, g_db, g_key, &err) == 0;
    }
    double dt = now_s() - t0;
    printf("# %d postings in batches of %d: %.2f s, %.0f signed entries/s\n", N * ROUNDS, N, dt,
           N * ROUNDS / dt);
    CHECK("batched postings succeed and chain on", ok && es[N - 1].seq > es[0].seq);
    free(es);
}

static long long balance_of(const char *account)
{
    coh_err err = {0};
    coh_db_conn *c = coh_db_acquire(g_db, 2000, &err);
    const char *params[] = {account};
    PGresult *r = c ? coh_db_exec(c, "SELECT balance FROM ledger_balances WHERE account = $1", 1,
                                  params, &err)
                    : NULL;
    long long v = r && PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    coh_db_release(c);
    return v;
}

/* The set-based batch path: replays, duplicates, conflicts, running balances, owners. */
static void test_batch_semantics(void)
{
    char r[43], avail[80], escrow[80], pay[3][80], key[64];
    addr_of(r, 12, 1);
    snprintf(avail, sizeof avail, "available:%s", r);
    snprintf(escrow, sizeof escrow, "escrow:0x%064x", 1200);
    for (int k = 0; k < 3; k++) {
        char c[43];
        addr_of(c, 12 + k, 3);
        snprintf(pay[k], sizeof pay[k], "payable:%s", k == 2 ? r : c); /* [2]: withdrawals */
    }
    coh_err err = {0};
    /* Funds arrive and are escrowed and paid out within one batch: running balances. */
    coh_ledger_entry b1[7] = {
        entry(COH_LEDGER_DEPOSIT, "chain", avail, 100, "bs:dep"),
        entry(COH_LEDGER_ESCROW, avail, escrow, 80, "bs:esc"),
        entry(COH_LEDGER_REWARD, escrow, pay[0], 30, "bs:rew0"),
        entry(COH_LEDGER_REWARD, escrow, pay[1], 30, "bs:rew1"),
        entry(COH_LEDGER_REWARD, escrow, pay[0], 30, "bs:rew0"), /* same key, same content */
        entry(COH_LEDGER_REFUND, escrow, avail, 20, "bs:ref"),
        entry(COH_LEDGER_WITHDRAWAL, avail, pay[2], 20, "bs:wd"),
    };
    long long head = scalar("SELECT seq FROM ledger_head");
    int rc = coh_db_ledger_post_batch(b1, 7, g_db, g_key, &err);
    if (rc)
        printf("# %s\n", err.msg);
    CHECK("a batch may spend what its earlier entries credit", rc == 0);
    CHECK("a key repeated with the same content in a batch posts once",
          rc == 0 && b1[4].seq == b1[2].seq && !memcmp(b1[4].hash, b1[2].hash, 32) &&
              scalar("SELECT seq FROM ledger_head") == head + 6);
    CHECK("batch entries chain in order",
          rc == 0 && b1[1].seq == b1[0].seq + 1 && !memcmp(b1[1].prev_hash, b1[0].hash, 32) &&
              b1[6].seq == b1[5].seq + 1 && !memcmp(b1[6].prev_hash, b1[5].hash, 32));
    CHECK("balances after the batch", balance_of(avail) == 20 && balance_of(escrow) == 0 &&
                                          balance_of(pay[0]) == 30 && balance_of(pay[1]) == 30 &&
                                          balance_of(pay[2]) == 20);
    struct coh_db_ledger_balance bal;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ledger_balances WHERE account = '%s' AND owner = '%s'", escrow,
             r);
    CHECK("an escrow account opened in a batch records its owner",
          scalar(sql) == 1 && coh_db_ledger_balance(&bal, g_db, r, &err) == 0 &&
              strcmp(bal.available, "20") == 0);
    /* The same batch again: every entry is a replay of the original, nothing is paid. */
    coh_ledger_entry b2[7];
    memcpy(b2, b1, sizeof b2);
    for (int i = 0; i < 7; i++) {
        coh_ledger_entry fresh = b1[i];
        b2[i] = entry(fresh.kind, fresh.debit, fresh.credit, 0, fresh.idempotency_key);
        memcpy(b2[i].amount, fresh.amount, 32);
    }
    head = scalar("SELECT seq FROM ledger_head");
    rc = coh_db_ledger_post_batch(b2, 7, g_db, g_key, &err);
    int same = rc == 0;
    for (int i = 0; same && i < 7; i++)
        same = b2[i].seq == b1[i].seq && !memcmp(b2[i].hash, b1[i].hash, 32) &&
               !memcmp(b2[i].signature, b1[i].signature, 65) &&
               b2[i].created_us == b1[i].created_us;
    CHECK("a retried batch returns the original entries and posts nothing",
          same && scalar("SELECT seq FROM ledger_head") == head && balance_of(avail) == 20);
    /* Mixed: old keys are replays, new ones post. */
    coh_ledger_entry b3[3] = {entry(COH_LEDGER_DEPOSIT, "chain", avail, 100, "bs:dep"),
                              entry(COH_LEDGER_DEPOSIT, "chain", avail, 5, "bs:dep2"),
                              entry(COH_LEDGER_WITHDRAWAL, avail, pay[2], 25, "bs:wd2")};
    rc = coh_db_ledger_post_batch(b3, 3, g_db, g_key, &err);
    CHECK("a batch mixing replays and new entries posts only the new ones",
          rc == 0 && b3[0].seq == b1[0].seq && b3[1].seq == (uint64_t)head + 1 &&
              b3[2].seq == (uint64_t)head + 2 && balance_of(avail) == 0 &&
              balance_of(pay[2]) == 45);
    /* Conflicts: with a posted entry, and within the batch; nothing of the batch is posted. */
    head = scalar("SELECT seq FROM ledger_head");
    coh_ledger_entry b4[3] = {entry(COH_LEDGER_DEPOSIT, "chain", avail, 1, "bs:new1"),
                              entry(COH_LEDGER_DEPOSIT, "chain", avail, 1, "bs:new2"),
                              entry(COH_LEDGER_DEPOSIT, "chain", avail, 7, "bs:dep2")};
    rc = coh_db_ledger_post_batch(b4, 3, g_db, g_key, &err);
    CHECK("a batch reusing a posted key with other content is a conflict naming the entry",
          rc == COH_ERR_CONFLICT && strstr(err.msg, "batch entry 2") &&
              strstr(err.msg, "bs:dep2") && scalar("SELECT seq FROM ledger_head") == head);
    CHECK("and the caller's entries are left as they were",
          b4[0].seq == 0 && b4[2].seq == 0 && b4[2].amount[31] == 7);
    coh_ledger_entry b5[3] = {entry(COH_LEDGER_DEPOSIT, "chain", avail, 1, "bs:dup"),
                              entry(COH_LEDGER_DEPOSIT, "chain", avail, 1, "bs:new3"),
                              entry(COH_LEDGER_DEPOSIT, "chain", avail, 2, "bs:dup")};
    rc = coh_db_ledger_post_batch(b5, 3, g_db, g_key, &err);
    CHECK("a key repeated in a batch with other content is a conflict naming the entry",
          rc == COH_ERR_CONFLICT && strstr(err.msg, "batch entry 2") &&
              scalar("SELECT seq FROM ledger_head") == head &&
              scalar("SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE "
                     "'bs:new%'") == 0);
    /* Keys and references with the characters array literals and COPY text must escape. */
    coh_ledger_entry b6[2] = {entry(COH_LEDGER_DEPOSIT, "chain", avail, 3, "bs:\"q\",\\x{1} N"),
                              entry(COH_LEDGER_DEPOSIT, "chain", avail, 4, "bs:\\N\\\\t")};
    snprintf(b6[0].ref_tx, sizeof b6[0].ref_tx, "%s", "tx\\with\"odd\" {chars},\\N");
    coh_ledger_entry b7[2] = {b6[0], b6[1]};
    rc = coh_db_ledger_post_batch(b6, 2, g_db, g_key, &err);
    coh_ledger_entry got;
    int ok = rc == 0 && coh_db_ledger_entry_get(&got, g_db, b6[0].seq, &err) == 0 &&
             strcmp(got.idempotency_key, b6[0].idempotency_key) == 0 &&
             strcmp(got.ref_tx, b6[0].ref_tx) == 0 && memcmp(got.hash, b6[0].hash, 32) == 0;
    rc = ok ? coh_db_ledger_post_batch(b7, 2, g_db, g_key, &err) : -1;
    CHECK("keys and references with quotes, backslashes and braces round-trip and replay",
          ok && rc == 0 && b7[0].seq == b6[0].seq && b7[1].seq == b6[1].seq);
    head = scalar("SELECT seq FROM ledger_head");
    /* Overdraft at the last entry of a large batch of rewards from one escrow. */
    enum { N = 500 };
    coh_ledger_entry *big = calloc(N + 2, sizeof *big);
    if (!big)
        abort();
    char escrow2[80];
    snprintf(escrow2, sizeof escrow2, "escrow:0x%064x", 1201);
    big[0] = entry(COH_LEDGER_DEPOSIT, "chain", avail, N, "bs:big:dep");
    big[1] = entry(COH_LEDGER_ESCROW, avail, escrow2, N, "bs:big:esc");
    for (int i = 0; i < N; i++) {
        char c[80];
        snprintf(c, sizeof c, "payable:0x%040x", 0x5000 + i);
        snprintf(key, sizeof key, "bs:big:rew:%d", i);
        big[2 + i] = entry(COH_LEDGER_REWARD, escrow2, c, i == N - 1 ? 2 : 1, key);
    }
    rc = coh_db_ledger_post_batch(big, N + 2, g_db, g_key, &err);
    char want[64];
    snprintf(want, sizeof want, "batch entry %d:", N + 1);
    CHECK("a 502-entry batch overdrawing at its last entry is refused, naming it and the account",
          rc == COH_ERR_LIMIT && strstr(err.msg, want) && strstr(err.msg, escrow2) &&
              scalar("SELECT seq FROM ledger_head") == head &&
              scalar("SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE "
                     "'bs:big:%'") == 0);
    big[N + 1].amount[31] = 1;
    rc = coh_db_ledger_post_batch(big, N + 2, g_db, g_key, &err);
    CHECK("with the last amount fixed it posts, escrow to zero",
          rc == 0 && big[N + 1].seq == (uint64_t)head + N + 2 && balance_of(escrow2) == 0 &&
              balance_of("payable:0x0000000000000000000000000000000000005000") == 1);
    free(big);
}

struct batcher {
    int who;
    int fails;
};

/* Batches and single postings interleaved from several threads. */
static void *batch_worker(void *arg)
{
    struct batcher *w = arg;
    char r[43], avail[80], escrow[80], key[64];
    addr_of(r, 20 + w->who, 1);
    snprintf(avail, sizeof avail, "available:%s", r);
    snprintf(escrow, sizeof escrow, "escrow:0x%064x", 2000 + w->who);
    coh_ledger_entry es[100];
    for (int round = 0; round < 5; round++) {
        coh_err err = {0};
        snprintf(key, sizeof key, "cb:%d:%d:dep", w->who, round);
        coh_ledger_entry d = entry(COH_LEDGER_DEPOSIT, "chain", avail, 100, key);
        if (coh_db_ledger_post(&d, NULL, g_db, g_key, &err))
            w->fails++;
        snprintf(key, sizeof key, "cb:%d:%d:esc", w->who, round);
        es[0] = entry(COH_LEDGER_ESCROW, avail, escrow, 99, key);
        for (int i = 1; i < 100; i++) {
            char c[80];
            snprintf(c, sizeof c, "payable:0x%040x", 0x9000 + i);
            snprintf(key, sizeof key, "cb:%d:%d:%d", w->who, round, i);
            es[i] = entry(COH_LEDGER_REWARD, escrow, c, 1, key);
        }
        if (coh_db_ledger_post_batch(es, 100, g_db, g_key, &err)) {
            if (w->fails++ < 2)
                fprintf(stderr, "batch failed: %s\n", err.msg);
        }
    }
    return NULL;
}

static void test_concurrent_batches(void)
{
    enum { T = 4 };
    pthread_t th[T];
    struct batcher w[T];
    long long before = scalar("SELECT count(*) FROM ledger_entries");
    for (int t = 0; t < T; t++) {
        w[t] = (struct batcher){t, 0};
        pthread_create(&th[t], NULL, batch_worker, &w[t]);
    }
    int fails = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        fails += w[t].fails;
    }
    CHECK("batches and single postings from 4 threads at once all succeed",
          fails == 0 && scalar("SELECT count(*) FROM ledger_entries") == before + T * 5 * 101);
    CHECK("and the chain has no fork",
          scalar("SELECT count(*) FROM ledger_entries a JOIN ledger_entries b ON b.seq = a.seq "
                 "- 1 WHERE a.prev_hash <> b.hash") == 0 &&
              scalar("SELECT max(seq) - count(*) FROM ledger_entries") == 0);
    CHECK("a contributor paid by every batch has earned 4 x 5",
          balance_of("payable:0x0000000000000000000000000000000000009001") == 20);
}

static void test_append_only(void)
{
    CHECK("UPDATE of an entry is refused by the database",
          sql_refused("UPDATE ledger_entries SET amount = amount + 1 WHERE seq = 1"));
    CHECK("DELETE of an entry is refused by the database",
          sql_refused("DELETE FROM ledger_entries WHERE seq = 2"));
    CHECK("TRUNCATE is refused by the database", sql_refused("TRUNCATE ledger_entries CASCADE"));
}

static void test_rotation(void)
{
    coh_secbuf *fresh = NULL, *master = coh_secbuf_new(32);
    uint8_t new_addr[20], addr2[20];
    coh_err err = {0};
    randombytes_buf(coh_secbuf_data(master), 32);
    /* The test's ledger key was stored under another master; re-store it under this one. */
    coh_db_conn *c = coh_db_acquire(g_db, 2000, &err);
    PQclear(coh_db_exec(c, "DELETE FROM ledger_keys", 0, NULL, &err));
    uint8_t blob[32 + COH_CRYPTO_WRAP_OVERHEAD], a[20];
    char hex[2 + 2 * sizeof blob + 1], ad[43];
    if (coh_crypto_wrap(blob, master, "ledger", coh_secbuf_data(g_key), 32) ||
        coh_crypto_address_from_seckey(a, g_key))
        abort();
    hex[0] = '\\';
    hex[1] = 'x';
    coh_hex_encode(hex + 2, blob, sizeof blob, 0);
    coh_hex_encode(ad, a, 20, 1);
    const char *params[] = {ad, hex};
    PQclear(coh_db_exec(c,
                        "INSERT INTO ledger_keys (address, wrapped_key, active) VALUES ($1, "
                        "$2::bytea, true)",
                        2, params, &err));
    coh_db_release(c);
    int rc = coh_db_ledger_key_rotate(&fresh, new_addr, g_db, master, g_key, &err);
    CHECK("key rotation succeeds", rc == 0);
    CHECK("and is recorded as a key_rotation entry",
          scalar("SELECT count(*) FROM ledger_entries WHERE kind = 'key_rotation'") == 1);
    char avail[80], r[43];
    addr_of(r, 11, 1);
    snprintf(avail, sizeof avail, "available:%s", r);
    coh_ledger_entry e = entry(COH_LEDGER_DEPOSIT, "chain", avail, 5, "rot:1");
    rc = coh_db_ledger_post(&e, NULL, g_db, g_key, &err);
    CHECK("the old key can no longer post", rc == COH_ERR_CONFLICT);
    rc = fresh ? coh_db_ledger_post(&e, NULL, g_db, fresh, &err) : -1;
    CHECK("the new key posts", rc == 0);
    coh_secbuf *loaded = NULL;
    rc = coh_db_ledger_key_load(&loaded, addr2, g_db, master, 0, &err);
    CHECK("the stored active key is the new one", rc == 0 && memcmp(addr2, new_addr, 20) == 0);
    uint64_t n = 0;
    char msg[256] = "";
    rc = walk_all(new_addr, &n, msg, sizeof msg);
    if (rc)
        printf("# walk: %s\n", msg);
    CHECK("the whole chain across the rotation verifies against the new key", rc == 0);
    coh_secbuf_free(loaded);
    coh_secbuf_free(fresh);
    coh_secbuf_free(master);
}

static int run_all(const char *url)
{
    coh_err err = {0};
    if (coh_db_pool_new(&g_db, url, THREADS, 30000, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
    int applied = 0;
    if (coh_db_migrate(&applied, g_db, COH_SOURCE_DIR "/sql", &err))
        return fprintf(stderr, "%s\n", err.msg), coh_db_pool_free(g_db), 1;
    coh_secbuf *master = coh_secbuf_new(32);
    randombytes_buf(coh_secbuf_data(master), 32);
    uint8_t signer[20];
    int rc = coh_db_ledger_key_load(&g_key, signer, g_db, master, 1, &err);
    CHECK("a ledger key is generated on first load", rc == 0);
    coh_secbuf *again = NULL;
    uint8_t signer2[20];
    rc = coh_db_ledger_key_load(&again, signer2, g_db, master, 1, &err);
    CHECK("and the same key is loaded the next time", rc == 0 && !memcmp(signer, signer2, 20));
    coh_secbuf_free(again);
    coh_secbuf *wrong = coh_secbuf_new(32);
    randombytes_buf(coh_secbuf_data(wrong), 32);
    rc = coh_db_ledger_key_load(&again, signer2, g_db, wrong, 1, &err);
    CHECK("it does not open under another master key", rc == COH_ERR_CRYPTO && !again);
    coh_secbuf_free(wrong);
    coh_secbuf_free(master);
    if (g_key) {
        test_concurrent_chain(signer);
        test_idempotency();
        test_overdraft();
        test_batch_throughput();
        test_batch_semantics();
        test_concurrent_batches();
        test_append_only();
        test_rotation();
    }
    coh_secbuf_free(g_key);
    coh_db_pool_free(g_db);
    return 0;
}

int main(void)
{
    int rc = it_with_own_database("coh_ledger_it", run_all);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return rc || g_fail ? 1 : 0;
}
