/*
 * bench_inbox: a contributor's inbox with N open requests of an attacker's in front of the
 * requests that match (issue 17). run.sh drives it:
 *   bench_inbox seed DBURL N MATCHING MIX   set-up, not measured: one INSERT ... SELECT of N
 *       open requests that the contributor does not match (MIX cheap: all reward 1, below their
 *       min_reward; mixed: half so, half for another country at the full reward), all newer
 *       than MATCHING requests they match, the contributor's account, profile and session;
 *       then ANALYZE. Prints ADDRESS= and TOKEN=.
 *   bench_inbox measure DBURL BASE ADDRESS TOKEN ITERATIONS   prints NAME=value lines:
 *       old_*: the inbox before issue 17 (the 1,000 newest open requests, then the C rules),
 *              its statement copied here, over the same pool; the baseline;
 *       svc_*: coh_svc_inbox's first page (limit 50): the SQL matching, then the C rules;
 *       http_*: GET /v1/me/inbox through cohortd, one keep-alive connection.
 * Each: p50 and p99 in milliseconds over ITERATIONS calls after 10 warm-up calls, and how many
 * matching requests the first page shows.
 */
#include "../bench_sink.h"
#include "db/db.h"
#include "market/market.h"
#include "svc/svc.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void exec_or_die(coh_db_pool *db, const char *sql, int n, const char *const *params)
{
    coh_err err = {0};
    PGresult *r = coh_db_query(db, sql, n, params, &err);
    if (!r)
        die("%.80s: %s", sql, err.msg);
    PQclear(r);
}

static int cmd_seed(const char *url, const char *n, const char *matching, const char *mix)
{
    coh_db_pool *db = NULL;
    coh_err err = {0};
    if (coh_db_pool_new(&db, url, 1, 600000, &err))
        die("%s", err.msg);
    uint8_t raw[32], h[32];
    char token[69], hash[65], contributor[43],
        attacker[43] = "0xa77ac4e700000000000000000000000000000000",
        honest[43] = "0x0000000000000000000000000000000000000001";
    randombytes_buf(raw, 20);
    coh_hex_encode(contributor, raw, 20, 1);
    randombytes_buf(raw, 32);
    memcpy(token, "coh_", 4);
    coh_hex_encode(token + 4, raw, 32, 0);
    crypto_generichash(h, 32, (const uint8_t *)token, strlen(token), NULL, 0);
    coh_hex_encode(hash, h, 32, 0);
    const char *who[] = {contributor, attacker, honest}, *sess[] = {contributor, hash};
    exec_or_die(db,
                "WITH a AS (INSERT INTO accounts (address) VALUES ($1), ($2), ($3)) "
                "INSERT INTO profiles (address, is_researcher, is_contributor, categories, "
                "attributes, purposes, min_reward) VALUES ($1, false, true, '{health}', "
                "'{\"country\": \"US\", \"age_band\": \"35-44\"}', '{academic-research}', 1000), "
                "($2, true, false, '{}', '{}', '{}', 0), ($3, true, false, '{}', '{}', '{}', 0)",
                3, who);
    exec_or_die(db,
                "INSERT INTO sessions (address, token_hash, expires_at) VALUES ($1, "
                "decode($2, 'hex'), now() + interval '1 day')",
                2, sess);
    const char *p[] = {attacker, honest, n, matching, strcmp(mix, "mixed") == 0 ? "2" : "1"};
    /* The attacker's N, newest; the honest MATCHING, older than all of them. */
    exec_or_die(
        db,
        "INSERT INTO requests (id, owner, title, purpose, schema, fields_hash, eligibility, "
        "privacy, epsilon, reward, min_contributors, max_contributors, closes_at, "
        "retention_days, consent_expiry, public_key, secret_key_wrapped, status, created_at) "
        "SELECT sha256(('r' || g)::bytea), CASE WHEN g > $4::int THEN $1 ELSE $2 END, "
        "'Bench request ' || g, 'academic-research', '{\"fields\": [{\"name\": \"age\", "
        "\"type\": \"integer\", \"min\": 18, \"max\": 100, \"role\": \"quasi-identifier\"}, "
        "{\"name\": \"d\", \"type\": \"category\", \"categories\": [\"a\", \"b\"], \"role\": "
        "\"sensitive\"}]}', sha256(('f' || g)::bytea), CASE WHEN g > $4::int AND g % $5::int = 1 "
        "THEN '{\"country\": [\"FR\"]}'::jsonb ELSE '{\"country\": [\"US\", \"FR\"]}'::jsonb END, "
        "'{\"mode\": \"k-anonymity\", \"k\": 5}', 0, CASE WHEN g > $4::int AND g % $5::int = 0 THEN 1 "
        "ELSE 1000 END, 2, 20, now() + interval '30 days', 30, 0, sha256(('p' || g)::bytea), "
        "'\\x00', 'open', now() - interval '1 hour' + g * interval '1 ms' "
        "FROM generate_series(1, $3::int + $4::int) g",
        5, p);
    exec_or_die(db, "ANALYZE", 0, NULL);
    coh_db_pool_free(db);
    printf("ADDRESS=%s\nTOKEN=%s\n", contributor, token);
    return 0;
}

/* ---- the inbox before issue 17, for the baseline ---------------------------------------- */
static json_t *old_inbox(coh_db_pool *db, const coh_market_floors *floors, const char *account,
                         coh_err *err)
{
    json_t *profile = coh_db_profile_get(db, account, err);
    const char *params[] = {account};
    /* coh_db_requests_open_for as it was (src/db/market.c at ca0dde0). */
    json_t *open =
        profile ? coh_db_json(
                      db,
                      "SELECT coalesce(json_agg(json_build_object('request', request_json(r, $1), "
                      "'consent', CASE WHEN c.contributor IS NULL THEN 'none' WHEN c.revoked_at IS "
                      "NOT NULL THEN 'revoked' ELSE 'given' END, 'contributed', EXISTS (SELECT 1 "
                      "FROM contributions x WHERE x.request_id = r.id AND x.contributor = $1)) "
                      "ORDER BY r.created_at DESC), '[]') FROM (SELECT * FROM requests WHERE "
                      "status = 'open' AND owner <> $1 ORDER BY created_at DESC LIMIT 1000) r LEFT "
                      "JOIN consents c ON c.request_id = r.id AND c.contributor = $1",
                      1, params, err)
                : NULL;
    json_t *matched = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(open, i, item)
    {
        json_t *r = json_object_get(item, "request");
        if (coh_market_within_operator_floors(r, floors) && coh_market_match(r, profile))
            json_array_append(matched, item);
    }
    json_decref(open);
    json_decref(profile);
    return matched;
}

/* ---- HTTP, one keep-alive handle ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n, size_t matches)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    int i99 = (int)(0.99 * n + 0.5) - 1;
    printf("%s_p50_ms=%.2f\n%s_p99_ms=%.2f\n%s_max_ms=%.2f\n%s_matches=%zu\n", name, t[n / 2], name,
           t[i99 < 0 ? 0 : i99], name, t[n - 1], name, matches);
}

static int cmd_measure(const char *url, const char *base, const char *address, const char *token,
                       int iterations)
{
    coh_db_pool *db = NULL;
    coh_err err = {0};
    if (coh_db_pool_new(&db, url, 2, 60000, &err))
        die("%s", err.msg);
    coh_market_floors floors;
    coh_market_floors_default(&floors);
    double *t = calloc((size_t)iterations, sizeof *t);
    /* the baseline: the inbox before issue 17 */
    size_t matches = 0;
    for (int i = -10; i < iterations; i++) {
        double t0 = now_ms();
        json_t *m = old_inbox(db, &floors, address, &err);
        if (!m)
            die("old inbox: %s", err.msg);
        if (i >= 0)
            t[i] = now_ms() - t0;
        matches = json_array_size(m);
        json_decref(m);
    }
    report("old", t, iterations, matches);
    struct coh_svc_inbox_page page = {.limit = 50};
    for (int i = -10; i < iterations; i++) {
        double t0 = now_ms();
        json_t *m = coh_svc_inbox(db, &floors, address, &page, &err);
        if (!m)
            die("inbox: %s", err.msg);
        if (i >= 0)
            t[i] = now_ms() - t0;
        matches = json_array_size(json_object_get(m, "requests"));
        json_decref(m);
    }
    report("svc", t, iterations, matches);
    CURL *h = curl_easy_init();
    char u[512], auth[128];
    snprintf(u, sizeof u, "%s/v1/me/inbox", base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    for (int i = -10; i < iterations; i++) {
        struct sink s = {0};
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
        double t0 = now_ms();
        CURLcode rc = curl_easy_perform(h);
        double dt = now_ms() - t0;
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200)
            die("GET %s: %s, HTTP %ld: %.200s", u, curl_easy_strerror(rc), status,
                s.buf ? s.buf : "");
        if (i >= 0)
            t[i] = dt;
        json_t *j = json_loads(s.buf, 0, NULL);
        matches = json_array_size(json_object_get(j, "requests"));
        json_decref(j);
        free(s.buf);
    }
    report("http", t, iterations, matches);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    free(t);
    coh_db_pool_free(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("cannot initialize libsodium or libcurl");
    if (argc == 6 && strcmp(argv[1], "seed") == 0)
        return cmd_seed(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 7 && strcmp(argv[1], "measure") == 0)
        return cmd_measure(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
    fprintf(stderr, "usage: bench_inbox seed DBURL N MATCHING cheap|mixed | measure DBURL BASE ADDRESS TOKEN "
                    "ITERATIONS\n");
    return 2;
}
