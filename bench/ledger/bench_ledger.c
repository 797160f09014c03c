/*
 * bench_ledger: signed ledger postings per second, end to end into PostgreSQL (durable: each
 * transaction commits with the server's default synchronous_commit), beside the baselines
 * measured in the same run: raw secp256k1 recoverable signing, encode + hash + sign of an
 * entry, raw single-row autocommit INSERTs, 1,000-row prepared transactions and 1,000-row text
 * COPYs of the same row shape into an unconstrained table; and Merkle proof generation for
 * 1,000,000 claim leaves. Batched rows are the median of 3 runs. Then a release's payout in
 * wave 1's form (one entry per contributor) beside the pooled form (private credits + one
 * entry), contributors paid per second, on the same database in the same run.
 * Usage: bench_ledger BASE_DATABASE_URL (it creates and drops a database of its own).
 * Prints two markdown tables.
 */
#include "crypto/crypto.h"
#include "db/db.h"
#include "svc/svc.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static coh_db_pool *g_db;
static coh_secbuf *g_key;
static char g_url[1024]; /* the bench's own database */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const char *what, double per_s, const char *note)
{
    printf("| %s | %.0f | %s |\n", what, per_s, note);
}

static coh_ledger_entry deposit(int who, long i)
{
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    e.kind = COH_LEDGER_DEPOSIT;
    snprintf(e.debit, sizeof e.debit, "chain");
    snprintf(e.credit, sizeof e.credit, "available:0x%040x", who + 1);
    e.amount[31] = 1;
    snprintf(e.idempotency_key, sizeof e.idempotency_key, "bench:%d:%ld", who, i);
    return e;
}

static int exec_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

/* A server setting's value (static buffer). */
static const char *setting(PGconn *pg, const char *name)
{
    static char out[4][64];
    static int k;
    const char *params[] = {name};
    PGresult *r = PQexecParams(pg, "SELECT current_setting($1)", 1, NULL, params, NULL, NULL, 0);
    char *o = out[k++ % 4];
    snprintf(o, 64, "%s", PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
    return o;
}

static const char *RAW_INSERT =
    "INSERT INTO bench_raw VALUES ($1::bigint, 'deposit', 'chain', $2, 1, NULL, NULL, NULL, "
    "NULL, now(), $3, $4::bytea, $5::bytea, $6::bytea, $7)";

/* Raw INSERTs of the entry row shape; per_txn rows per transaction (1 = autocommit). */
static double raw_inserts(PGconn *pg, long n, int per_txn, long base)
{
    char seq[24], key[48], credit[64], h[67], sig[133],
        signer[43] = "0x0000000000000000000000000000000000000001";
    uint8_t b[65];
    randombytes_buf(b, sizeof b);
    h[0] = sig[0] = '\\';
    h[1] = sig[1] = 'x';
    coh_hex_encode(h + 2, b, 32, 0);
    coh_hex_encode(sig + 2, b, 65, 0);
    PQclear(PQprepare(pg, per_txn > 1 ? "raw_n" : "raw_1", RAW_INSERT, 7, NULL));
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (per_txn > 1 && i % per_txn == 0)
            exec_ok(pg, "BEGIN");
        snprintf(seq, sizeof seq, "%ld", base + i);
        snprintf(key, sizeof key, "raw:%ld", base + i);
        snprintf(credit, sizeof credit, "available:0x%040lx", i % 8 + 1);
        const char *p[] = {seq, credit, key, h, h, sig, signer};
        PGresult *r = PQexecPrepared(pg, per_txn > 1 ? "raw_n" : "raw_1", 7, p, NULL, NULL, 0);
        PQclear(r);
        if (per_txn > 1 && (i % per_txn == per_txn - 1 || i == n - 1))
            exec_ok(pg, "COMMIT");
    }
    return (double)n / (now_s() - t0);
}

/* Raw COPY (text) of the entry row shape, per_txn rows per transaction. */
static double raw_copy(PGconn *pg, long n, int per_txn, long base)
{
    char line[512], h[65], sig[131];
    uint8_t b[65];
    randombytes_buf(b, sizeof b);
    coh_hex_encode(h, b, 32, 0);
    coh_hex_encode(sig, b, 65, 0);
    double t0 = now_s();
    for (long i = 0; i < n; i += per_txn) {
        exec_ok(pg, "BEGIN");
        PQclear(PQexec(pg, "COPY bench_raw FROM STDIN"));
        for (long k = i; k < n && k < i + per_txn; k++) {
            int len = snprintf(line, sizeof line,
                               "%ld\tdeposit\tchain\tavailable:0x%040lx\t1\t\\N\t\\N\t\\N\t\\N\t"
                               "2026-01-01 00:00:00+00\tcopy:%ld\t\\\\x%s\t\\\\x%s\t\\\\x%s\t"
                               "0x0000000000000000000000000000000000000001\n",
                               base + k, k % 8 + 1, base + k, h, h, sig);
            PQputCopyData(pg, line, len);
        }
        PQputCopyEnd(pg, NULL);
        PGresult *r;
        while ((r = PQgetResult(pg)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                fprintf(stderr, "raw COPY: %s", PQerrorMessage(pg));
            PQclear(r);
        }
        exec_ok(pg, "COMMIT");
    }
    return (double)n / (now_s() - t0);
}

struct job {
    int who;
    long n;
    int batch;
};

static void *poster(void *arg)
{
    struct job *j = arg;
    coh_ledger_entry *es = calloc((size_t)j->batch, sizeof *es);
    for (long i = 0; es && i < j->n; i += j->batch) {
        int m = (int)(j->n - i < j->batch ? j->n - i : j->batch);
        for (int k = 0; k < m; k++)
            es[k] = deposit(j->who, i + k);
        coh_err err = {0};
        if (coh_db_ledger_post_batch(es, (size_t)m, g_db, g_key, &err))
            fprintf(stderr, "posting failed: %s\n", err.msg);
    }
    free(es);
    return NULL;
}

static double postings(int threads, long per_thread, int batch, int id_base)
{
    pthread_t th[16];
    struct job jobs[16];
    double t0 = now_s();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){id_base + t, per_thread, batch};
        pthread_create(&th[t], NULL, poster, &jobs[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    return (double)threads * (double)per_thread / (now_s() - t0);
}

/*
 * Market release shape: batches of `batch` rewards from one escrow account to distinct payable
 * accounts (src/market/pay.c posts releases in chunks of 500).
 */
static double rewards(long n, int batch, int run)
{
    char avail[80], escrow[80], key[64];
    snprintf(avail, sizeof avail, "available:0x%040x", 0xbe00 + run);
    snprintf(escrow, sizeof escrow, "escrow:0x%064x", 0xbe00 + run);
    coh_ledger_entry setup[2], *es = calloc((size_t)batch, sizeof *es);
    memset(setup, 0, sizeof setup);
    setup[0] = deposit(0xbe00 + run - 1, 0);
    snprintf(setup[0].credit, sizeof setup[0].credit, "%s", avail);
    snprintf(setup[0].idempotency_key, sizeof setup[0].idempotency_key, "rw:%d:dep", run);
    setup[1] = setup[0];
    setup[1].kind = COH_LEDGER_ESCROW;
    snprintf(setup[1].debit, sizeof setup[1].debit, "%s", avail);
    snprintf(setup[1].credit, sizeof setup[1].credit, "%s", escrow);
    snprintf(setup[1].idempotency_key, sizeof setup[1].idempotency_key, "rw:%d:esc", run);
    for (int k = 0; k < 2; k++) {
        memset(setup[k].amount, 0, 32);
        setup[k].amount[29] = (uint8_t)(n >> 16);
        setup[k].amount[30] = (uint8_t)(n >> 8);
        setup[k].amount[31] = (uint8_t)n;
    }
    coh_err err = {0};
    if (!es || coh_db_ledger_post_batch(setup, 2, g_db, g_key, &err)) {
        fprintf(stderr, "rewards setup failed: %s\n", err.msg);
        free(es);
        return 0;
    }
    double t0 = now_s();
    for (long i = 0; i < n; i += batch) {
        int m = (int)(n - i < batch ? n - i : batch);
        for (int k = 0; k < m; k++) {
            memset(&es[k], 0, sizeof es[k]);
            es[k].kind = COH_LEDGER_REWARD;
            snprintf(es[k].debit, sizeof es[k].debit, "%s", escrow);
            snprintf(es[k].credit, sizeof es[k].credit, "payable:0x%040lx", 0x100000 + i + k);
            es[k].amount[31] = 1;
            snprintf(es[k].ref_request, sizeof es[k].ref_request, "0x%064x", 0xbe00 + run);
            snprintf(key, sizeof key, "reward:%d:%ld", run, i + k);
            snprintf(es[k].idempotency_key, sizeof es[k].idempotency_key, "%s", key);
        }
        if (coh_db_ledger_post_batch(es, (size_t)m, g_db, g_key, &err))
            fprintf(stderr, "reward batch failed: %s\n", err.msg);
    }
    double rate = (double)n / (now_s() - t0);
    free(es);
    return rate;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double a, double b, double c)
{
    double v[3] = {a, b, c};
    qsort(v, 3, sizeof v[0], cmp_double);
    return v[1];
}

static int cmp_addr(const void *a, const void *b)
{
    return strcmp(a, b);
}

/*
 * A release's payout, both forms on the same database: wave 1's one entry per contributor
 * (coh_svc_rewards_wave1, escrow:<request> -> payable:<contributor>, batches of 500) and
 * the pooled form (coh_svc_rewards: n private credits, one reward entry escrow:<request> ->
 * payable with "<count>:<root>"). Each release pays n fresh random addresses, sorted, from its own
 * funded escrow (set-up, not timed); `releases` of them back to back per run. Returns
 * contributors paid per second; checks the payout after the clock (1 when it holds).
 */
static double payout(int pooled, long n, int releases, int run, int *checked)
{
    char(*addrs)[43] = malloc((size_t)n * sizeof *addrs);
    const char **ptrs = malloc((size_t)n * sizeof *ptrs);
    uint32_t *ones = malloc((size_t)n * sizeof *ones);
    char(*reqs)[67] = malloc((size_t)releases * sizeof *reqs);
    coh_err err = {0};
    double spent = 0;
    int ok = addrs && ptrs && ones && reqs;
    for (int r = 0; ok && r < releases; r++) {
        snprintf(reqs[r], sizeof reqs[r], "0x%08x%08x%048x", 0xba1d0000u + (unsigned)pooled,
                 (unsigned)run, (unsigned)r);
        char owner[80], escrow[80];
        snprintf(owner, sizeof owner, "available:0x%032x%08x", 0xba1du, (unsigned)run);
        snprintf(escrow, sizeof escrow, "escrow:%s", reqs[r]);
        coh_ledger_entry setup[2];
        setup[0] = deposit(0, 0);
        snprintf(setup[0].credit, sizeof setup[0].credit, "%s", owner);
        snprintf(setup[0].idempotency_key, sizeof setup[0].idempotency_key, "pay:%s:dep", reqs[r]);
        setup[1] = setup[0];
        setup[1].kind = COH_LEDGER_ESCROW;
        snprintf(setup[1].debit, sizeof setup[1].debit, "%s", owner);
        snprintf(setup[1].credit, sizeof setup[1].credit, "%s", escrow);
        snprintf(setup[1].ref_request, sizeof setup[1].ref_request, "%s", reqs[r]);
        snprintf(setup[1].idempotency_key, sizeof setup[1].idempotency_key, "escrow:%s", reqs[r]);
        for (int k = 0; k < 2; k++) {
            memset(setup[k].amount, 0, 32);
            setup[k].amount[29] = (uint8_t)(n >> 16);
            setup[k].amount[30] = (uint8_t)(n >> 8);
            setup[k].amount[31] = (uint8_t)n;
        }
        for (long i = 0; i < n; i++) {
            uint8_t a[20];
            randombytes_buf(a, sizeof a);
            addrs[i][0] = '0';
            addrs[i][1] = 'x';
            coh_hex_encode(addrs[i] + 2, a, 20, 0);
            ones[i] = 1;
        }
        /* In address order, as the release worker passes its members and payees. */
        qsort(addrs, (size_t)n, sizeof *addrs, cmp_addr);
        for (long i = 0; i < n; i++)
            ptrs[i] = addrs[i];
        if (coh_db_ledger_post_batch(setup, 2, g_db, g_key, &err)) {
            ok = 0;
            break;
        }
        double t0 = now_s();
        int rc = pooled
                     ? coh_svc_rewards(g_db, g_key, reqs[r], "1", ptrs, ones, (size_t)n, &err)
                     : coh_svc_rewards_wave1(g_db, g_key, reqs[r], "1", ptrs, (size_t)n, &err);
        spent += now_s() - t0;
        ok = rc == 0;
    }
    if (!ok)
        fprintf(stderr, "payout (%s, %ld): %s\n", pooled ? "pooled" : "wave 1", n, err.msg);
    /* The clock is stopped: every release paid n in the form asked, its escrow emptied. */
    PGconn *pg = ok ? PQconnectdb(g_url) : NULL;
    for (int r = 0; pg && ok && r < releases; r++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM ledger_entries WHERE kind = 'reward' AND "
                 "ref_request = '%s' AND credit %s), (SELECT count(*) FROM ledger_credits WHERE "
                 "entry_key = 'reward:%s'), (SELECT balance FROM ledger_balances WHERE account = "
                 "'escrow:%s')",
                 reqs[r], pooled ? "= 'payable'" : "LIKE 'payable:0x%'", reqs[r], reqs[r]);
        PGresult *q = PQexec(pg, sql);
        ok = PQresultStatus(q) == PGRES_TUPLES_OK &&
             atol(PQgetvalue(q, 0, 0)) == (pooled ? 1 : n) &&
             atol(PQgetvalue(q, 0, 1)) == (pooled ? n : 0) && atol(PQgetvalue(q, 0, 2)) == 0;
        if (!ok)
            fprintf(stderr, "payout (%s, %ld) check: %s %s %s %s\n", pooled ? "pooled" : "wave 1",
                    n, PQresultStatus(q) == PGRES_TUPLES_OK ? PQgetvalue(q, 0, 0) : "?",
                    PQresultStatus(q) == PGRES_TUPLES_OK ? PQgetvalue(q, 0, 1) : "?",
                    PQresultStatus(q) == PGRES_TUPLES_OK ? PQgetvalue(q, 0, 2) : "?",
                    PQerrorMessage(pg));
        PQclear(q);
    }
    PQfinish(pg);
    *checked &= ok;
    free(addrs);
    free(ptrs);
    free(ones);
    free(reqs);
    return ok && spent > 0 ? (double)n * releases / spent : 0;
}

/* Both forms for n contributors per release, alternating which goes first, median of 3. */
static void payouts(long n, int releases, int run_base)
{
    double w[3], p[3];
    int checked = 1;
    for (int k = 0; k < 3; k++) {
        if (k % 2 == 0) {
            w[k] = payout(0, n, releases, run_base + k, &checked);
            p[k] = payout(1, n, releases, run_base + k, &checked);
        } else {
            p[k] = payout(1, n, releases, run_base + k, &checked);
            w[k] = payout(0, n, releases, run_base + k, &checked);
        }
    }
    double wm = median3(w[0], w[1], w[2]), pm = median3(p[0], p[1], p[2]);
    printf("| %ld | %d | %.0f | %.1f ms | **%.0f** | %.1f ms | **%.1f×** | %s |\n", n, releases, wm,
           wm > 0 ? 1000.0 * n / wm : 0, pm, pm > 0 ? 1000.0 * n / pm : 0, wm > 0 ? pm / wm : 0,
           checked ? "passed" : "**FAILED**");
}

static void merkle(void)
{
    enum { N = 1000000, PROOFS = 100000 };
    uint8_t(*leaves)[32] = malloc((size_t)N * 32);
    if (!leaves)
        return;
    for (long i = 0; i < N; i++) {
        uint8_t addr[20] = {0}, amt[32] = {0};
        memcpy(addr, &i, sizeof i);
        memcpy(amt + 24, &i, sizeof i);
        coh_ledger_claim_leaf(leaves[i], addr, amt);
    }
    coh_ledger_merkle *t = NULL;
    double t0 = now_s();
    if (coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, N, 1)) {
        free(leaves);
        return;
    }
    double build = now_s() - t0;
    uint8_t proof[64][32], root[32];
    size_t np = 0, ok = 0;
    coh_ledger_merkle_root(root, t);
    t0 = now_s();
    for (long i = 0; i < PROOFS; i++) {
        long pos = coh_ledger_merkle_find(t, leaves[(i * 7919) % N]);
        ok += pos >= 0 && coh_ledger_merkle_proof(proof, 64, &np, t, (size_t)pos) == 0;
    }
    double per = (now_s() - t0) / PROOFS;
    char note[160];
    snprintf(note, sizeof note,
             "1,000,000-leaf claims tree built in %.2f s; %zu-hash proofs, %.2f "
             "us each (find + proof)",
             build, np, per * 1e6);
    row("Merkle proof generation, 1,000,000 accounts", ok / (per * PROOFS), note);
    coh_ledger_merkle_free(t);
    free(leaves);
}

int main(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0)
        return fprintf(stderr, "usage: bench_ledger BASE_DATABASE_URL\n"), 2;
    char db[64], url[1024], sql[128];
    snprintf(db, sizeof db, "cohort_bench_ledger_%d", (int)getpid());
    PGconn *admin = PQconnectdb(argv[1]);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (PQstatus(admin) != CONNECTION_OK || !exec_ok(admin, sql))
        return 1;
    const char *p = strstr(argv[1], "dbname=");
    snprintf(url, sizeof url, "%.*sdbname=%s%s", (int)(p ? p - argv[1] : 0), argv[1], db,
             p ? p + strcspn(p, " ") : "");
    snprintf(g_url, sizeof g_url, "%s", url);
    coh_err err = {0};
    coh_secbuf *master = coh_secbuf_new(32);
    uint8_t signer[20], h[32] = {1}, sig[65];
    randombytes_buf(coh_secbuf_data(master), 32);
    int rc = coh_db_pool_new(&g_db, url, 8, 60000, &err) ||
             coh_db_migrate(NULL, g_db, COH_SOURCE_DIR "/sql", &err) ||
             coh_db_ledger_key_load(&g_key, signer, g_db, master, 1, &err);
    PGconn *pg = rc ? NULL : PQconnectdb(url);
    if (rc || PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "bench_ledger: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    printf("| operation | per second | note |\n|---|---:|---|\n");
    long n = 20000;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        h[0] = (uint8_t)i;
        if (coh_crypto_sign(sig, g_key, h))
            break;
    }
    row("raw secp256k1 recoverable signing (baseline)", n / (now_s() - t0), "1 core");
    coh_ledger_entry e = deposit(0, 0);
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        e.seq = (uint64_t)i + 1;
        if (coh_ledger_entry_seal(&e, g_key))
            break;
    }
    row("entry encode + keccak + sign, no database", n / (now_s() - t0),
        "1 core; coh_ledger_entry_seal also derives the signer address, the batch path once per "
        "batch");
    exec_ok(pg, "CREATE TABLE bench_raw (LIKE ledger_entries)");
    row("raw INSERT, 1 row per autocommit transaction (baseline)", raw_inserts(pg, 3000, 1, 0),
        "same row shape, no constraints, prepared, 1 connection");
    row("raw INSERT, 1,000 rows per transaction (baseline)", raw_inserts(pg, 20000, 1000, 10000),
        "same row shape, prepared, 1 connection");
    row("ledger postings, single, 1 thread", postings(1, 2000, 1, 0),
        "lock head + append + commit per entry");
    row("ledger postings, single, 8 threads", postings(8, 500, 1, 10),
        "serialized on the head row: commits cannot overlap");
    row("raw COPY, 1,000 rows per transaction (baseline)",
        median3(raw_copy(pg, 20000, 1000, 100000), raw_copy(pg, 20000, 1000, 200000),
                raw_copy(pg, 20000, 1000, 300000)),
        "same row shape, no constraints, text COPY, median of 3 runs");
    row("ledger postings, batches of 1,000, 1 thread",
        median3(postings(1, 20000, 1000, 20), postings(1, 20000, 1000, 21),
                postings(1, 20000, 1000, 22)),
        "deposits; 20,000 per run, median of 3 runs; one lock, one COPY, one commit per batch");
    row("ledger postings, batches of 500 rewards (market release), 1 thread",
        median3(rewards(20000, 500, 1), rewards(20000, 500, 2), rewards(20000, 500, 3)),
        "escrow -> 500 new payable accounts per batch, overdraft checked; median of 3 runs");
    merkle();
    printf("\n### Paying a release: wave 1's entry per contributor beside the pooled form\n\n"
           "Both forms of `src/market/pay.c` on this database, one after the other (which first "
           "alternates), median of 3 runs; each release pays n fresh random addresses (in "
           "address order, as the worker passes them) 1 unit each from its own funded escrow "
           "(set-up not timed), and each run is checked after "
           "its clock stops: n reward entries to payable:<address> (wave 1) or one entry to "
           "payable with n private credits (pooled), and the escrow empty.\n\n"
           "| contributors per release | releases per run | wave 1 (`coh_svc_rewards_wave1`, "
           "baseline): contributors/s | per release | pooled (`coh_svc_rewards`): "
           "contributors/s | per release | pooled / wave 1 | checks |\n"
           "|---:|---:|---:|---:|---:|---:|---:|---|\n");
    payouts(500, 20, 100);
    payouts(10000, 1, 200);
    payouts(100000, 1, 300);
    double load[3] = {0};
    printf("\nEvery posting is durable (committed with the server's synchronous_commit = %s, "
           "fsync = %s); the ledger's own re-walk of all entries runs in the integration test.\n",
           setting(pg, "synchronous_commit"), setting(pg, "fsync"));
    if (getloadavg(load, 3) == 3)
        printf("Machine: %ld cores, load average %.2f at the end of the run (other processes "
               "share the cores; re-run for steadier figures).\n",
               sysconf(_SC_NPROCESSORS_ONLN), load[0]);
out:
    PQfinish(pg);
    coh_secbuf_free(g_key);
    coh_secbuf_free(master);
    coh_db_pool_free(g_db);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db);
    exec_ok(admin, sql);
    PQfinish(admin);
    return rc;
}
