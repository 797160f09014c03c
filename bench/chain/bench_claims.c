/*
 * bench_claims: the proof path of GET /v1/claims/{address} (coh_svc_claim_json) with a
 * claims tree of n accounts (default 1,000,000), uncached (cache NULL: the anchor's tree is
 * built from all its chain_claim_leaves rows on every call, the old behaviour) beside cached
 * (a coh_svc_claims_cache: built once per anchor, proofs served from memory), in the same run.
 *
 * Fixture, in the database named by COH_BENCH_DATABASE_URL (migrated with sql/ first; the
 * caller creates and drops the database): one confirmed, effective chain_anchors row whose
 * claims_root is computed here with the ledger module (coh_ledger_claim_leaf + a sorted
 * coh_ledger_merkle, as the anchorer does), and its n chain_claim_leaves rows sent by COPY.
 * Accounts and amounts are bench_chain_tree's: address i = keccak256("cohort-bench" ||
 * i)[12..32), amount = 1e18 + i.
 *
 * Measured: (a) uncached, `uncached` calls for random accounts: mean and max; (b) cached, the
 * first call (it builds the tree), then `cached` calls for random accounts: mean, p99 and
 * calls/s; the process's peak RSS (getrusage ru_maxrss) and current VmRSS once the cached
 * tree exists. Every returned proof is checked: its leaf against the one computed here from
 * the account and amount, its root against the root computed here, and the proof with
 * coh_ledger_merkle_verify. Prints a markdown table; non-zero exit on any failed check.
 * Usage: COH_BENCH_DATABASE_URL=... bench_claims [n] [uncached calls] [cached calls]
 */
#include "bench_accounts.h"
#include "crypto/crypto.h"
#include "svc/svc.h"
#include "ledger/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* bench_chain_tree's account i at epoch 0. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static size_t pick(size_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (size_t)(rng % n);
}

static int exec_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "bench_claims: %.60s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

static uint8_t g_root[32];
static long g_checked, g_failed;
static size_t g_np_min = 64, g_np_max;

/*
 * Checks a GET /v1/claims answer for account i: cumulative amount, leaf, root and proof (the
 * proof by coh_ledger_merkle_verify, and a tampered copy of it must fail).
 */
static void check(json_t *out, size_t i)
{
    uint8_t addr[20], amt[32], want_leaf[32], leaf[32], root[32], proof[64][32];
    char dec[79];
    bench_account(addr, amt, i, 0);
    coh_ledger_claim_leaf(want_leaf, addr, amt);
    coh_u256_to_dec(dec, amt);
    json_t *pr = json_object_get(out, "proof");
    const char *l = json_string_value(json_object_get(out, "leaf"));
    const char *r = json_string_value(json_object_get(out, "claims_root"));
    const char *c = json_string_value(json_object_get(out, "cumulative_amount"));
    size_t np = json_array_size(pr);
    int ok = l && r && c && !strcmp(c, dec) && np >= 1 && np <= 64 &&
             !coh_hex_decode_exact(leaf, 32, l + 2) && !coh_hex_decode_exact(root, 32, r + 2) &&
             !memcmp(leaf, want_leaf, 32) && !memcmp(root, g_root, 32);
    for (size_t k = 0; ok && k < np; k++) {
        const char *h = json_string_value(json_array_get(pr, k));
        ok = h && !coh_hex_decode_exact(proof[k], 32, h + 2);
    }
    ok = ok && coh_ledger_merkle_verify(g_root, want_leaf, (const uint8_t(*)[32])proof, np);
    if (ok) {
        proof[np / 2][7] ^= 1;
        ok = !coh_ledger_merkle_verify(g_root, want_leaf, (const uint8_t(*)[32])proof, np);
    }
    g_checked++;
    g_np_min = np < g_np_min ? np : g_np_min;
    g_np_max = np > g_np_max ? np : g_np_max;
    if (!ok && g_failed++ < 3)
        fprintf(stderr, "bench_claims: account %zu: the answer does not prove its claim\n", i);
}

/* One timed call for account i (checked after the clock stops); ms, or -1 on error. */
static double call(coh_db_pool *db, coh_svc_claims_cache *cache, size_t i)
{
    uint8_t addr[20], amt[32];
    char a[43];
    bench_account(addr, amt, i, 0);
    coh_hex_encode(a, addr, 20, 1);
    coh_err err = {0};
    double t0 = now_ms();
    json_t *out = coh_svc_claim_json(db, cache, a, &err);
    double ms = now_ms() - t0;
    if (!out) {
        fprintf(stderr, "bench_claims: %s: %s\n", a, err.msg);
        return -1;
    }
    check(out, i);
    json_decref(out);
    return ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Thousands separators: "1,234,567" (static buffers, sixteen at a time). */
static const char *num(double v, int decimals)
{
    static char bufs[16][48];
    static int k;
    char *o = bufs[k++ % 16], raw[48];
    snprintf(raw, sizeof raw, "%.*f", decimals, v);
    const char *dot = strchr(raw, '.');
    size_t ip = dot ? (size_t)(dot - raw) : strlen(raw), j = 0;
    for (size_t x = 0; x < ip; x++) {
        if (x && (ip - x) % 3 == 0)
            o[j++] = ',';
        o[j++] = raw[x];
    }
    snprintf(o + j, 48 - j, "%s", dot ? dot : "");
    return o;
}

static long vm_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* The fixture: the anchor with its computed root and n leaves by COPY, one transaction. */
static int fixture(const char *url, size_t n, double *tree_ms, double *load_ms)
{
    uint8_t(*leaves)[32] = malloc(32 * n);
    char *buf = malloc(1 << 20);
    PGconn *pg = PQconnectdb(url);
    int ok = leaves && buf && PQstatus(pg) == CONNECTION_OK;
    if (!ok)
        fprintf(stderr, "bench_claims: %s", pg ? PQerrorMessage(pg) : "out of memory\n");
    double t0 = now_ms();
    for (size_t i = 0; ok && i < n; i++) {
        uint8_t addr[20], amt[32];
        bench_account(addr, amt, i, 0);
        coh_ledger_claim_leaf(leaves[i], addr, amt);
    }
    coh_ledger_merkle *t = NULL;
    ok = ok && coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, n, 1) == 0;
    if (ok)
        coh_ledger_merkle_root(g_root, t);
    coh_ledger_merkle_free(t);
    free(leaves);
    *tree_ms = now_ms() - t0;

    t0 = now_ms();
    char root[65], sql[512];
    coh_hex_encode(root, g_root, 32, 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO chain_anchors (first_seq, last_seq, ledger_root, claims_root, n_claims, "
             "status, tx_hash, block_number, confirmed_at, effective_at) VALUES (1, 1, "
             "'\\x%064d', '\\x%s', %zu, 'confirmed', '\\x%064d', 1, now(), now())",
             1, root, n, 2);
    ok = ok && exec_ok(pg, "BEGIN") && exec_ok(pg, sql);
    PGresult *r = ok ? PQexec(pg, "COPY chain_claim_leaves (anchor_id, address, cumulative) FROM "
                                  "STDIN")
                     : NULL;
    ok = ok && PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    size_t len = 0;
    for (size_t i = 0; ok && i < n; i++) {
        uint8_t addr[20], amt[32];
        char a[43], dec[79];
        bench_account(addr, amt, i, 0);
        coh_hex_encode(a, addr, 20, 1);
        coh_u256_to_dec(dec, amt);
        len += (size_t)snprintf(buf + len, 160, "1\t%s\t%s\n", a, dec);
        if (len > (1 << 20) - 160 || i == n - 1) {
            ok = PQputCopyData(pg, buf, (int)len) == 1;
            len = 0;
        }
    }
    ok = ok && PQputCopyEnd(pg, NULL) == 1;
    while ((r = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench_claims: COPY: %s", PQerrorMessage(pg));
            ok = 0;
        }
        PQclear(r);
    }
    ok = ok && exec_ok(pg, "COMMIT") && exec_ok(pg, "VACUUM ANALYZE chain_claim_leaves") &&
         exec_ok(pg, "ANALYZE chain_anchors");
    *load_ms = now_ms() - t0;
    PQfinish(pg);
    free(buf);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *url = getenv("COH_BENCH_DATABASE_URL");
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int n_unc = argc > 2 ? atoi(argv[2]) : 5;
    int n_hit = argc > 3 ? atoi(argv[3]) : 10000;
    if (!url || !*url || n < 2 || n_unc < 1 || n_hit < 1) {
        fprintf(stderr, "usage: COH_BENCH_DATABASE_URL=... bench_claims [n >= 2] [uncached "
                        "calls] [cached calls]\n");
        return 2;
    }
    coh_err err = {0};
    coh_db_pool *db = NULL;
    if (coh_db_pool_new(&db, url, 2, 300000, &err) ||
        coh_db_migrate(NULL, db, COH_SOURCE_DIR "/sql", &err)) {
        fprintf(stderr, "bench_claims: %s\n", err.msg);
        coh_db_pool_free(db);
        return 1;
    }
    double tree_ms, load_ms;
    if (fixture(url, n, &tree_ms, &load_ms) != 0) {
        coh_db_pool_free(db);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long rss_fixture = ru.ru_maxrss;

    /* (b) cached first, so the peak RSS read once its tree exists is that of this path. */
    coh_svc_claims_cache *cache = NULL;
    double *hit = malloc(sizeof *hit * (size_t)n_hit);
    if (!hit || coh_svc_claims_cache_new(&cache) != 0)
        return 1;
    double first = call(db, cache, pick(n)), hit_sum = 0;
    double t0 = now_ms(), t_check = 0;
    for (int k = 0; first >= 0 && k < n_hit; k++) {
        double c0 = now_ms();
        if ((hit[k] = call(db, cache, pick(n))) < 0) {
            first = -1;
            break;
        }
        t_check += now_ms() - c0 - hit[k];
        hit_sum += hit[k];
    }
    double hit_wall = now_ms() - t0 - t_check; /* the loop less the checks between calls */
    getrusage(RUSAGE_SELF, &ru);
    long rss_now = vm_rss_kib();
    coh_svc_claims_cache_free(cache);

    /* (a) uncached: every call builds the tree. */
    double unc_sum = 0, *unc = malloc(sizeof *unc * (size_t)n_unc);
    for (int k = 0; first >= 0 && k < n_unc; k++) {
        if (!unc || (unc[k] = call(db, NULL, pick(n))) < 0) {
            first = -1;
            break;
        }
        unc_sum += unc[k];
    }
    coh_db_pool_free(db);
    if (first < 0 || g_failed) {
        fprintf(stderr, "bench_claims: failed (%ld of %ld answers did not check)\n", g_failed,
                g_checked);
        free(hit);
        free(unc);
        return 1;
    }
    qsort(hit, (size_t)n_hit, sizeof *hit, cmp_double);
    qsort(unc, (size_t)n_unc, sizeof *unc, cmp_double);
    double unc_mean = unc_sum / n_unc, hit_mean = hit_sum / n_hit;
    double p99 = hit[(size_t)((n_hit - 1) * 0.99 + 0.5)];

    printf("### GET /v1/claims/{address}: proof path, cached vs uncached\n\n");
    printf(
        "`coh_svc_claim_json` (src/db/claims.c) in one process against PostgreSQL on the "
        "unix socket (pool of 2), one confirmed anchor with a claims tree of %s accounts "
        "(proofs of %zu to %zu hashes). Each call: the anchor and the account's leaf (one indexed "
        "row), then the proof; uncached it first reads all %s leaves of the anchor, hashes "
        "them, sorts them and builds the tree. Calls back to back on one thread, accounts drawn at "
        "random (xorshift, "
        "fixed seed); calls/s: calls over the loop's time less the checks. Every answer checked "
        "after its clock stops: cumulative amount, leaf and root "
        "against those computed here, the proof with `coh_ledger_merkle_verify` (%s "
        "answers, all valid; a tampered copy of each fails). Fixture, not measured: leaves "
        "and root computed by the ledger module in %s ms; anchor row and %s leaf rows by "
        "COPY, then VACUUM ANALYZE, in %s ms.\n\n",
        num((double)n, 0), g_np_min, g_np_max, num((double)n, 0), num((double)g_checked, 0),
        num(tree_ms, 0), num((double)n, 0), num(load_ms, 0));
    printf("| proof path, %s accounts, 1 thread | calls | mean | median | p99 / max | calls/s | "
           "vs uncached (mean) |\n",
           num((double)n, 0));
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    printf("| uncached: `cache` NULL, tree built on every call (baseline) | %d | %s ms | %s ms | "
           "max %s ms | %.2f | 1× |\n",
           n_unc, num(unc_mean, 0), num(unc[n_unc / 2], 0), num(unc[n_unc - 1], 0), 1e3 / unc_mean);
    printf("| cached: first call for the anchor (builds the tree) | 1 | %s ms | | | | %.2f× |\n",
           num(first, 0), unc_mean / first);
    printf("| **cached: later calls, proof from memory** | %s | **%s µs** | %s µs | p99 %s µs | "
           "**%s** | **%s× faster** |\n",
           num(n_hit, 0), num(hit_mean * 1e3, 0), num(hit[n_hit / 2] * 1e3, 0), num(p99 * 1e3, 0),
           num(n_hit / (hit_wall / 1e3), 0), num(unc_mean / hit_mean, 0));
    char why[160];
    if (ru.ru_maxrss > rss_fixture)
        snprintf(why, sizeof why,
                 "the high-water mark of its build: the %s-row result, the leaf hashes and the "
                 "tree",
                 num((double)n, 0));
    else
        snprintf(why, sizeof why, "set by the fixture, the build stayed below it");
    printf("\nProcess peak RSS (getrusage ru_maxrss) once the cached tree exists: %s MiB (%s); "
           "resident then (VmRSS), holding the tree: %s MiB; peak after the fixture alone: %s MiB. "
           "The uncached calls ran after the cache was freed.\n",
           num(ru.ru_maxrss / 1024.0, 0), why, num(rss_now / 1024.0, 0),
           num(rss_fixture / 1024.0, 0));
    free(hit);
    free(unc);
    return 0;
}
