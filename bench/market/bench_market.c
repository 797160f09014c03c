/*
 * bench_market: the marketplace under load, against a live cohortd and its database.
 *
 *   bench_market open
 *       raw crypto_box_seal_open and coh_crypto_box_open (secure memory) per second, 1 thread.
 *   bench_market healthz BASE CONNS SECONDS
 *       GET /healthz per second through the same libcurl multi loop as the load (baseline).
 *   bench_market contrib DBURL BASE RESEARCHER CLIENTS REQUESTS SECONDS
 *       CLIENTS contributors, each with a session and a signed consent to each of REQUESTS
 *       requests (seeded through SQL: that path is not what is measured), then one connection
 *       per contributor POSTs pre-sealed records to /v1/requests/{id}/contributions for at
 *       most SECONDS. Each POST is a new (request, contributor) pair: a first insertion.
 *       BASE may be a comma-separated list of cohortd on the same database: the requests are
 *       created through the first, and contributor i posts to BASE number i mod their count.
 *   bench_market release DBURL BASE RESEARCHER N INVALID COHORTD_PID [wave1 MASTER_KEY_FILE]
 *       N contributors with profiles, signed consents and sealed contributions to one request
 *       (max_contributors N), through COPY, INVALID of them records the schema refuses (so the
 *       release refunds their share of the escrow, as a real one does); then POST /close and the
 *       time until the request is released with every reward and the refund posted, the stages
 *       from the database's timestamps, cohortd's VmHWM, and (clock stopped) the payout checked:
 *       one pooled reward entry whose "<count>:<root>" matches the private credits. With
 *       wave1 (the baseline), one contributor's wave-1 reward entry is posted first, with
 *       cohortd's ledger key (set-up): the worker then finishes the payout in wave 1's form, an
 *       entry per contributor (src/market/worker.c), and the checks expect that form.
 *
 * The researcher (RESEARCHER, a lowercase address funded beforehand with `cohort ledger
 * deposit`) gets a session through SQL and creates the requests over HTTP, so their keys are
 * made and escrowed by cohortd itself. Results go to stdout as name=value lines; run.sh
 * formats the tables. Seeding uses every core; the load runs in one thread.
 */
#include "../bench_sink.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "ledger/ledger.h"
#include "svc/svc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAIN_ID 31337 /* cohortd's default; rewards_contract unset = zero address */
#define REWARD "1000"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall clock, to compare with the database's timestamps (same machine). */
static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_market: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- database -------------------------------------------------------------------------- */
static PGconn *pg_open(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to %s: %s", url, PQerrorMessage(c));
    return c;
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die("%.80s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static long pg_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        die("%.80s: %s", sql, PQerrorMessage(c));
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* A growing COPY text buffer, flushed in 1 MiB pieces. */
struct copy {
    PGconn *c;
    char *buf;
    size_t len, cap;
};

static void copy_begin(struct copy *cp, PGconn *c, const char *sql)
{
    memset(cp, 0, sizeof *cp);
    cp->c = c;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    cp->cap = 1 << 21;
    cp->buf = malloc(cp->cap);
    if (!cp->buf)
        die("out of memory");
}

static void copy_flush(struct copy *cp)
{
    if (cp->len && PQputCopyData(cp->c, cp->buf, (int)cp->len) != 1)
        die("COPY: %s", PQerrorMessage(cp->c));
    cp->len = 0;
}

static void copy_printf(struct copy *cp, const char *fmt, ...)
{
    if (cp->len > (1 << 20))
        copy_flush(cp);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cp->buf + cp->len, cp->cap - cp->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cp->cap - cp->len)
        die("COPY row too long");
    cp->len += (size_t)n;
}

static void copy_end(struct copy *cp)
{
    copy_flush(cp);
    if (PQputCopyEnd(cp->c, NULL) != 1)
        die("COPY end: %s", PQerrorMessage(cp->c));
    PGresult *r = PQgetResult(cp->c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("COPY: %s", PQerrorMessage(cp->c));
    PQclear(r);
    free(cp->buf);
}

/* A bearer token and the hash cohortd stores for it (BLAKE2b-256, as http/auth.c). */
static void token_new(char token[69], char hash_hex[65])
{
    uint8_t raw[32], h[32];
    randombytes_buf(raw, sizeof raw);
    memcpy(token, "coh_", 4);
    coh_hex_encode(token + 4, raw, 32, 0);
    crypto_generichash(h, 32, (const uint8_t *)token, strlen(token), NULL, 0);
    coh_hex_encode(hash_hex, h, 32, 0);
}

/* ---- HTTP (one easy call, for setup) ------------------------------------------------------ */

static json_t *http_json(long *status, const char *url, const char *token, const char *body)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[128];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
    }
    struct sink s = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        die("%s: %s", url, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    json_t *j = s.buf ? json_loads(s.buf, 0, NULL) : NULL;
    if (!j && *status != 204)
        die("%s: HTTP %ld, not JSON: %.200s", url, *status, s.buf ? s.buf : "");
    free(s.buf);
    return j;
}

/* ---- the researcher and the requests ---------------------------------------------------- */
struct request {
    char id[67];
    uint8_t pk[32];
    coh_crypto_consent consent; /* everything but the contributor */
    char purpose[64];
};

static void researcher_seed(PGconn *c, const char *addr, char token[69])
{
    char hash[65], sql[512];
    token_new(token, hash);
    snprintf(sql, sizeof sql,
             "INSERT INTO accounts (address) VALUES ('%s') ON CONFLICT DO NOTHING; "
             "INSERT INTO profiles (address, is_researcher) VALUES ('%s', true) ON CONFLICT "
             "(address) DO UPDATE SET is_researcher = true; "
             "INSERT INTO sessions (address, token_hash, expires_at) VALUES ('%s', "
             "decode('%s', 'hex'), now() + interval '1 day')",
             addr, addr, addr, hash);
    pg_exec(c, sql);
}

static void request_create(struct request *rq, const char *base, const char *token, long max, int k)
{
    char closes[40], url[512];
    time_t t = time(NULL) + 3600;
    strftime(closes, sizeof closes, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    json_t *spec = json_pack(
        "{s:s,s:s,s:s,s:{s:[{s:s,s:s,s:i,s:i,s:s},{s:s,s:s,s:i,s:i,s:s},"
        "{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:[s,s],s:s}]},s:{},s:{s:s,s:i},s:s,s:i,s:I,s:s,"
        "s:i}",
        "title", "bench", "description", "bench_market", "purpose", "bench-research", "schema",
        "fields", "name", "age", "type", "integer", "min", 18, "max", 100, "role",
        "quasi-identifier", "name", "preg", "type", "integer", "min", 0, "max", 20, "role",
        "quasi-identifier", "name", "mass", "type", "decimal", "min", "0", "max", "80", "role",
        "quasi-identifier", "name", "class", "type", "category", "categories", "tested_positive",
        "tested_negative", "role", "sensitive", "eligibility", "privacy", "mode", "k-anonymity",
        "k", k, "reward", REWARD, "min_contributors", k, "max_contributors", (json_int_t)max,
        "closes_at", closes, "retention_days", 30);
    char *body = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    snprintf(url, sizeof url, "%s/v1/requests", base);
    long status = 0;
    json_t *v = http_json(&status, url, token, body);
    free(body);
    if (status != 201) {
        char *s = json_dumps(v, JSON_COMPACT);
        die("POST /v1/requests: HTTP %ld %s", status, s ? s : "");
    }
    snprintf(rq->id, sizeof rq->id, "%s", json_string_value(json_object_get(v, "id")));
    snprintf(rq->purpose, sizeof rq->purpose, "%s",
             json_string_value(json_object_get(v, "purpose")));
    coh_crypto_consent *cs = &rq->consent;
    memset(cs, 0, sizeof *cs);
    cs->purpose = rq->purpose;
    cs->expiry = (uint64_t)json_integer_value(json_object_get(v, "consent_expiry"));
    if (coh_hex_decode_exact(rq->pk, 32, json_string_value(json_object_get(v, "public_key"))) ||
        coh_hex_decode_exact(cs->request_id, 32, rq->id) ||
        coh_hex_decode_exact(cs->fields_hash, 32,
                             json_string_value(json_object_get(v, "fields_hash"))) ||
        coh_u256_from_dec(cs->reward, REWARD))
        die("POST /v1/requests answered a malformed request");
    json_decref(v);
}

/* ---- contributors ------------------------------------------------------------------------- */
struct contributor {
    char addr[43];  /* lowercase 0x + 40 hex */
    char token[69]; /* only when sessions are seeded */
    char token_hash[65];
    char **sig_hex;    /* [n_requests] consent signatures, 130 hex */
    char **sealed_b64; /* [n_requests] sealed records (contrib) */
    char *sealed_hex;  /* the sealed record of the single request (release) */
};

struct seed_job {
    struct contributor *cs;
    size_t from, to;
    const struct request *rqs;
    size_t n_rq;
    int sessions, b64, hex;
    size_t n_bad; /* contributors [0, n_bad) seal a record the schema refuses */
    secp256k1_context *ctx;
};

/* A record within the schema; bad: age 150, above its max of 100 (refused at release). */
static void record_make(char *out, size_t cap, int bad)
{
    uint32_t r = randombytes_random();
    snprintf(out, cap, "{\"age\":%u,\"preg\":%u,\"mass\":%u.%u,\"class\":\"%s\"}",
             bad ? 150 : 18 + randombytes_uniform(83), randombytes_uniform(21),
             15 + randombytes_uniform(50), r % 10,
             (r >> 8) & 1 ? "tested_positive" : "tested_negative");
}

static void *seed_run(void *arg)
{
    struct seed_job *j = arg;
    for (size_t i = j->from; i < j->to; i++) {
        struct contributor *c = &j->cs[i];
        /* Keys straight from libsecp256k1 in ordinary memory: these are throwaway bench
         * accounts, and one sodium_malloc per key would dominate the set-up time. */
        uint8_t key[32], pub65[65], addr[20];
        secp256k1_pubkey pub;
        size_t plen = sizeof pub65;
        do
            randombytes_buf(key, sizeof key);
        while (!secp256k1_ec_pubkey_create(j->ctx, &pub, key));
        secp256k1_ec_pubkey_serialize(j->ctx, pub65, &plen, &pub, SECP256K1_EC_UNCOMPRESSED);
        if (coh_crypto_address_from_pubkey(addr, pub65))
            die("address derivation failed");
        coh_hex_encode(c->addr, addr, 20, 1);
        if (j->sessions)
            token_new(c->token, c->token_hash);
        c->sig_hex = calloc(j->n_rq, sizeof *c->sig_hex);
        if (j->b64)
            c->sealed_b64 = calloc(j->n_rq, sizeof *c->sealed_b64);
        for (size_t q = 0; q < j->n_rq; q++) {
            coh_crypto_consent cs = j->rqs[q].consent;
            memcpy(cs.contributor, addr, 20);
            uint8_t digest[32], sig[65];
            coh_crypto_consent_hash(digest, NULL, NULL, CHAIN_ID, (const uint8_t[20]){0}, &cs);
            secp256k1_ecdsa_recoverable_signature rs;
            int recid = 0;
            if (!secp256k1_ecdsa_sign_recoverable(j->ctx, &rs, digest, key, NULL, NULL))
                die("signing failed");
            secp256k1_ecdsa_recoverable_signature_serialize_compact(j->ctx, sig, &recid, &rs);
            sig[64] = (uint8_t)(27 + recid);
            c->sig_hex[q] = malloc(131);
            coh_hex_encode(c->sig_hex[q], sig, 65, 0);
            char rec[128];
            record_make(rec, sizeof rec, i < j->n_bad);
            size_t len = strlen(rec) + COH_CRYPTO_BOX_SEALBYTES;
            uint8_t ct[256];
            if (coh_crypto_box_seal(ct, (const uint8_t *)rec, strlen(rec), j->rqs[q].pk))
                die("sealing failed");
            if (j->b64) {
                char *b = coh_base64_encode(ct, len);
                c->sealed_b64[q] = malloc(strlen(b) + 16);
                sprintf(c->sealed_b64[q], "{\"sealed\":\"%s\"}", b);
                free(b);
            }
            if (j->hex) {
                c->sealed_hex = malloc(2 * len + 1);
                coh_hex_encode(c->sealed_hex, ct, len, 0);
            }
        }
        sodium_memzero(key, sizeof key);
    }
    return NULL;
}

static void seed_parallel(struct contributor *cs, size_t n, const struct request *rqs, size_t n_rq,
                          int sessions, int b64, int hex, size_t n_bad)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cores < 1 ? 1 : cores > 8 ? 8 : (size_t)cores;
    pthread_t th[8];
    struct seed_job jobs[8];
    for (size_t t = 0; t < nt; t++) {
        jobs[t] = (struct seed_job){cs,
                                    n * t / nt,
                                    n * (t + 1) / nt,
                                    rqs,
                                    n_rq,
                                    sessions,
                                    b64,
                                    hex,
                                    n_bad,
                                    secp256k1_context_create(SECP256K1_CONTEXT_NONE)};
        pthread_create(&th[t], NULL, seed_run, &jobs[t]);
    }
    for (size_t t = 0; t < nt; t++) {
        pthread_join(th[t], NULL);
        secp256k1_context_destroy(jobs[t].ctx);
    }
}

/* accounts, profiles, (sessions), consents, (contributions) through COPY, one transaction. */
static void seed_copy(PGconn *c, const struct contributor *cs, size_t n, const struct request *rqs,
                      size_t n_rq, int sessions, int contributions)
{
    struct copy cp;
    pg_exec(c, "BEGIN");
    copy_begin(&cp, c, "COPY accounts (address) FROM STDIN");
    for (size_t i = 0; i < n; i++)
        copy_printf(&cp, "%s\n", cs[i].addr);
    copy_end(&cp);
    copy_begin(&cp, c,
               "COPY profiles (address, is_contributor, categories, purposes, lifetime_epsilon) "
               "FROM STDIN");
    for (size_t i = 0; i < n; i++)
        copy_printf(&cp, "%s\tt\t{health}\t{bench-research}\t10\n", cs[i].addr);
    copy_end(&cp);
    if (sessions) {
        copy_begin(&cp, c, "COPY sessions (address, token_hash, expires_at) FROM STDIN");
        for (size_t i = 0; i < n; i++)
            copy_printf(&cp, "%s\t\\\\x%s\t2100-01-01\n", cs[i].addr, cs[i].token_hash);
        copy_end(&cp);
    }
    copy_begin(&cp, c, "COPY consents (request_id, contributor, signature, expiry) FROM STDIN");
    for (size_t q = 0; q < n_rq; q++)
        for (size_t i = 0; i < n; i++)
            copy_printf(&cp, "\\\\x%s\t%s\t\\\\x%s\t%llu\n", rqs[q].id + 2, cs[i].addr,
                        cs[i].sig_hex[q], (unsigned long long)rqs[q].consent.expiry);
    copy_end(&cp);
    if (contributions) {
        copy_begin(&cp, c, "COPY contributions (request_id, contributor, ciphertext) FROM STDIN");
        for (size_t i = 0; i < n; i++)
            copy_printf(&cp, "\\\\x%s\t%s\t\\\\x%s\n", rqs[0].id + 2, cs[i].addr, cs[i].sealed_hex);
        copy_end(&cp);
    }
    pg_exec(c, "ANALYZE accounts, profiles, sessions, consents, contributions");
    pg_exec(c, "COMMIT");
}

/* ---- the load loop: one libcurl multi, one connection per client ------------------------ */
struct slot {
    CURL *h;
    struct curl_slist *hdrs;
    size_t client, next; /* next request index for this client */
    char err[256];
    size_t err_len;
};

static size_t slot_write(char *d, size_t sz, size_t n, void *u)
{
    struct slot *s = u;
    size_t k = sz * n, room = sizeof s->err - 1 - s->err_len;
    memcpy(s->err + s->err_len, d, k < room ? k : room);
    s->err_len += k < room ? k : room;
    s->err[s->err_len] = '\0';
    return sz * n;
}

struct load {
    const char *base;
    const struct request *rqs;
    size_t n_rq;
    struct contributor *cs; /* NULL: GET /healthz */
    char **bases;           /* contrib: client i posts to bases[i % n_base] */
    size_t n_base;
    long ok, bad;
    char first_err[300];
};

/* Points slot at its next call; 0 when the client has nothing left. */
static int slot_arm(struct load *L, struct slot *s)
{
    char url[256];
    s->err_len = 0;
    s->err[0] = '\0';
    if (!L->cs) {
        snprintf(url, sizeof url, "%s/healthz", L->base);
        curl_easy_setopt(s->h, CURLOPT_URL, url);
        return 1;
    }
    if (s->next >= L->n_rq)
        return 0;
    size_t q = (s->client + s->next) % L->n_rq;
    snprintf(url, sizeof url, "%s/v1/requests/%s/contributions", L->bases[s->client % L->n_base],
             L->rqs[q].id);
    curl_easy_setopt(s->h, CURLOPT_URL, url);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, L->cs[s->client].sealed_b64[q]);
    s->next++;
    return 1;
}

/* Runs the load for at most seconds; returns the elapsed time. */
static double load_run(struct load *L, size_t conns, double seconds)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
    struct slot *slots = calloc(conns, sizeof *slots);
    for (size_t i = 0; i < conns; i++) {
        struct slot *s = &slots[i];
        s->h = curl_easy_init();
        s->client = i;
        if (L->cs) {
            char auth[128];
            snprintf(auth, sizeof auth, "Authorization: Bearer %s", L->cs[i].token);
            s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
            s->hdrs = curl_slist_append(s->hdrs, auth);
            s->hdrs = curl_slist_append(s->hdrs, "Expect:");
            curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
        }
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, slot_write);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
    }
    double t0 = now_s(), end = t0 + seconds;
    int running = 0;
    for (size_t i = 0; i < conns; i++)
        if (slot_arm(L, &slots[i]))
            curl_multi_add_handle(m, slots[i].h);
    do {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            CURLcode res = msg->data.result;
            if (res == CURLE_OK && code == (L->cs ? 201 : 200)) {
                L->ok++;
            } else {
                if (!L->bad++)
                    snprintf(L->first_err, sizeof L->first_err, "HTTP %ld %s %.200s", code,
                             res == CURLE_OK ? "" : curl_easy_strerror(res), s->err);
            }
            curl_multi_remove_handle(m, s->h);
            if (now_s() < end && slot_arm(L, s))
                curl_multi_add_handle(m, s->h);
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
        else
            curl_multi_perform(m, &running);
    } while (running);
    double el = now_s() - t0;
    for (size_t i = 0; i < conns; i++) {
        curl_easy_cleanup(slots[i].h);
        curl_slist_free_all(slots[i].hdrs);
    }
    free(slots);
    curl_multi_cleanup(m);
    return el;
}

/* ---- commands ------------------------------------------------------------------------------ */
static int cmd_open(void)
{
    uint8_t pk[32], ct[256];
    coh_secbuf *sk = NULL;
    char rec[128];
    record_make(rec, sizeof rec, 0);
    size_t len = strlen(rec) + COH_CRYPTO_BOX_SEALBYTES;
    if (coh_crypto_box_keypair(pk, &sk) || coh_crypto_box_seal(ct, (uint8_t *)rec, strlen(rec), pk))
        die("box setup failed");
    uint8_t plain[256];
    long n = 0;
    double t0 = now_s();
    while (now_s() - t0 < 1.0)
        for (int i = 0; i < 100; i++, n++)
            if (crypto_box_seal_open(plain, ct, len, pk, coh_secbuf_data(sk)))
                die("open failed");
    printf("raw_open_per_s=%.0f\n", n / (now_s() - t0));
    n = 0;
    t0 = now_s();
    while (now_s() - t0 < 1.0)
        for (int i = 0; i < 100; i++, n++) {
            coh_secbuf *p = NULL;
            if (coh_crypto_box_open(&p, ct, len, pk, sk))
                die("open failed");
            coh_secbuf_free(p);
        }
    printf("secure_open_per_s=%.0f\n", n / (now_s() - t0));
    sodium_memzero(plain, sizeof plain);
    coh_secbuf_free(sk);
    return 0;
}

static int cmd_healthz(const char *base, size_t conns, double seconds)
{
    struct load L = {.base = base};
    double el = load_run(&L, conns, seconds);
    printf("healthz_per_s=%.0f\nhealthz_errors=%ld\n", L.ok / el, L.bad);
    return 0;
}

static int cmd_contrib(const char *dburl, const char *base, const char *researcher, size_t n,
                       size_t n_rq, double seconds)
{
    char *list = strdup(base), *save = NULL, **bases = NULL;
    size_t n_base = 0;
    for (char *b = strtok_r(list, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
        bases = realloc(bases, (n_base + 1) * sizeof *bases);
        bases[n_base++] = b;
    }
    if (!n_base)
        die("contrib: no BASE");
    base = bases[0];
    PGconn *c = pg_open(dburl);
    char rtoken[69];
    researcher_seed(c, researcher, rtoken);
    struct request *rqs = calloc(n_rq, sizeof *rqs);
    double t0 = now_s();
    for (size_t q = 0; q < n_rq; q++)
        request_create(&rqs[q], base, rtoken, (long)n, 5); /* k = the operator's floor */
    printf("requests_created=%zu\nrequests_create_s=%.2f\n", n_rq, now_s() - t0);
    struct contributor *cs = calloc(n, sizeof *cs);
    t0 = now_s();
    seed_parallel(cs, n, rqs, n_rq, 1, 1, 0, 0);
    seed_copy(c, cs, n, rqs, n_rq, 1, 0);
    printf("seed_s=%.2f\nconsents=%zu\n", now_s() - t0, n * n_rq);
    struct load L = {.base = base, .rqs = rqs, .n_rq = n_rq, .cs = cs, .bases = bases,
                     .n_base = n_base};
    double el = load_run(&L, n, seconds);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM contributions");
    long stored = pg_long(c, sql);
    printf("contrib_ok=%ld\ncontrib_errors=%ld\ncontrib_seconds=%.2f\ncontrib_per_s=%.0f\n"
           "contrib_stored=%ld\n",
           L.ok, L.bad, el, L.ok / el, stored);
    if (L.bad)
        printf("contrib_first_error=%s\n", L.first_err);
    PQfinish(c);
    free(bases);
    free(list);
    return L.ok > 0 && stored == L.ok ? 0 : 1;
}

static long vm_hwm_kb(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

/* The one value of sql as a double; NAN when NULL. */
static double pg_double(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        die("%.80s: %s", sql, PQerrorMessage(c));
    double v = PQgetisnull(r, 0, 0) ? 0.0 / 0.0 : atof(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* The refund of the refused records' share, and nothing left in escrow; 1 when both hold. */
static int refund_check(PGconn *c, const char *id, long refund_expected)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(amount), 0)::bigint FROM ledger_entries WHERE kind = 'refund' "
             "AND ref_request = '%s'",
             id);
    long refund = pg_long(c, sql);
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT balance FROM ledger_balances WHERE account = 'escrow:%s'), "
             "0)::bigint",
             id);
    long escrow_left = pg_long(c, sql);
    printf("release_refund=%ld\nrelease_escrow_left=%ld\n", refund, escrow_left);
    return refund == refund_expected * atol(REWARD) && escrow_left == 0;
}

/*
 * After the clock: the payout is what the design says (docs/LEDGER.md). One reward entry
 * escrow:<request> -> payable of reward x members, its refs.contribution "<count>:<root>" the
 * root of exactly the private credits, one credit of reward per member, the refund of the
 * invalid records' share, and an empty escrow. Prints the figures; 0 when all hold.
 */
static int release_check(PGconn *c, const char *id, long members_expected, long refund_expected,
                         int wave1)
{
    char sql[768];
    int ok = 1;
    if (wave1) {
        /* Wave 1: an entry per member to payable:<member>, no credits. */
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM ledger_entries e JOIN release_members m ON m.request_id = "
                 "decode('%s', 'hex') AND e.credit = 'payable:' || m.contributor AND "
                 "e.ref_contribution = m.contributor WHERE e.kind = 'reward' AND e.ref_request = "
                 "'%s' AND e.debit = 'escrow:%s' AND e.amount = %s",
                 id + 2, id, id, REWARD);
        long good = pg_long(c, sql);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM ledger_entries WHERE kind = 'reward' AND ref_request = '%s'",
                 id);
        long rewards = pg_long(c, sql);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM ledger_credits WHERE entry_key LIKE 'reward:%s%%'", id);
        long credits = pg_long(c, sql);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM release_members WHERE request_id = decode('%s', 'hex')",
                 id + 2);
        long members = pg_long(c, sql);
        printf("release_rewards=%ld\nrelease_members=%ld\nrelease_credits=%ld\n"
               "reward_entry=one per member, each escrow:<request> -> payable:<member> of the "
               "reward (%ld as expected)\nrelease_root_ok=n/a\n",
               rewards, members, credits, good);
        ok = rewards == members_expected && good == members_expected &&
             members == members_expected && credits == 0;
        ok &= refund_check(c, id, refund_expected); /* printed either way */
        return ok ? 0 : 1;
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ledger_entries WHERE kind = 'reward' AND ref_request = '%s'",
             id);
    long rewards = pg_long(c, sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM release_members WHERE request_id = decode('%s', 'hex')", id + 2);
    long members = pg_long(c, sql);
    printf("release_rewards=%ld\nrelease_members=%ld\n", rewards, members);
    ok &= rewards == 1 && members == members_expected;
    snprintf(sql, sizeof sql,
             "SELECT debit, credit, amount::text, ref_contribution FROM ledger_entries WHERE kind "
             "= 'reward' AND ref_request = '%s'",
             id);
    PGresult *e = PQexec(c, sql);
    if (PQresultStatus(e) != PGRES_TUPLES_OK)
        die("reward entry: %s", PQerrorMessage(c));
    char want_debit[80], want_amount[32];
    snprintf(want_debit, sizeof want_debit, "escrow:%s", id);
    snprintf(want_amount, sizeof want_amount, "%ld", members_expected * atol(REWARD));
    uint64_t count = 0;
    uint8_t root[32] = {0}, mine[32] = {0};
    if (PQntuples(e) == 1) {
        printf("reward_entry=%s -> %s, amount %s, refs.contribution %.16s...\n",
               strcmp(PQgetvalue(e, 0, 0), want_debit) == 0 ? "escrow:<request>"
                                                            : PQgetvalue(e, 0, 0),
               PQgetvalue(e, 0, 1), PQgetvalue(e, 0, 2), PQgetvalue(e, 0, 3));
        ok &= strcmp(PQgetvalue(e, 0, 0), want_debit) == 0 &&
              strcmp(PQgetvalue(e, 0, 1), "payable") == 0 &&
              strcmp(PQgetvalue(e, 0, 2), want_amount) == 0 &&
              coh_ledger_credits_ref_parse(PQgetvalue(e, 0, 3), &count, root) == 0 &&
              count == (uint64_t)members_expected;
    }
    PQclear(e);
    /* The root of the stored credits, as coh_svc_rewards folds them. */
    snprintf(sql, sizeof sql,
             "SELECT address, amount::text, encode(salt, 'hex') FROM ledger_credits WHERE "
             "entry_key = 'reward:%s' ORDER BY address",
             id);
    PGresult *cr = PQexec(c, sql);
    if (PQresultStatus(cr) != PGRES_TUPLES_OK)
        die("credits: %s", PQerrorMessage(c));
    int nc = PQntuples(cr);
    uint8_t(*leaves)[32] = malloc(((size_t)nc + 1) * 32);
    int bad = !leaves;
    for (int i = 0; !bad && i < nc; i++) {
        uint8_t addr[20], amount[32], salt[32];
        bad = coh_hex_decode_exact(addr, 20, PQgetvalue(cr, i, 0)) != 0 ||
              coh_u256_from_dec(amount, PQgetvalue(cr, i, 1)) != 0 ||
              coh_hex_decode_exact(salt, 32, PQgetvalue(cr, i, 2)) != 0 ||
              strcmp(PQgetvalue(cr, i, 1), REWARD) != 0;
        if (!bad)
            coh_ledger_credit_leaf(leaves[i], addr, amount, salt);
    }
    coh_ledger_merkle *t = NULL;
    if (!bad && coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, (size_t)nc, 1) == 0)
        coh_ledger_merkle_root(mine, t);
    else
        bad = 1;
    coh_ledger_merkle_free(t);
    free(leaves);
    PQclear(cr);
    int root_ok = !bad && memcmp(mine, root, 32) == 0;
    printf("release_credits=%d\nrelease_root_ok=%d\n", nc, root_ok);
    ok &= nc == members_expected && root_ok;
    ok &= refund_check(c, id, refund_expected); /* printed either way */
    return ok ? 0 : 1;
}

/* Posts member's wave-1 reward entry, as a payout begun before the upgrade left it. */
static void wave1_begin(const char *dburl, const char *master_file, const char *id,
                        const char *member)
{
    coh_secbuf *master = NULL, *key = NULL;
    coh_db_pool *db = NULL;
    uint8_t signer[20];
    coh_err err = {0};
    const char *one[1] = {member};
    if (coh_master_key_load(&master, master_file, 0, &err) ||
        coh_db_pool_new(&db, dburl, 1, 30000, &err) ||
        coh_db_ledger_key_load(&key, signer, db, master, 0, &err) ||
        coh_svc_rewards_wave1(db, key, id, REWARD, one, 1, &err))
        die("wave-1 set-up: %s", err.msg);
    coh_secbuf_free(key);
    coh_secbuf_free(master);
    coh_db_pool_free(db);
}

static int cmd_release(const char *dburl, const char *base, const char *researcher, size_t n,
                       size_t n_bad, long pid, const char *wave1_master)
{
    PGconn *c = pg_open(dburl);
    char rtoken[69], url[512], sql[1024];
    researcher_seed(c, researcher, rtoken);
    struct request rq;
    /* max = n (the API allows up to 100,000): the worker closes the request by count as soon
     * as the contributions are committed, so the clock starts at that COMMIT, and POST
     * /close either does the closing (202) or finds it done (409). */
    request_create(&rq, base, rtoken, (long)n, 5);
    struct contributor *cs = calloc(n, sizeof *cs);
    double t0 = now_s();
    seed_parallel(cs, n, &rq, 1, 0, 0, 1, n_bad);
    double t_crypto = now_s() - t0;
    if (wave1_master)
        wave1_begin(dburl, wave1_master, rq.id, cs[n_bad].addr); /* a valid record's author */
    long rss_before = vm_hwm_kb(pid);
    seed_copy(c, cs, n, &rq, 1, 0, 1);
    double t_commit = now_s(), wall_commit = wall_s();
    long status = 0;
    snprintf(url, sizeof url, "%s/v1/requests/%s/close", base, rq.id);
    json_decref(http_json(&status, url, rtoken, "{}"));
    if (status != 202 && status != 409)
        die("POST /close: HTTP %ld", status);
    printf("seed_crypto_s=%.2f\nseed_copy_s=%.2f\nclose_status=%ld\nrss_before_kb=%ld\n", t_crypto,
           t_commit - t0 - t_crypto, status, rss_before);
    t0 = t_commit;
    snprintf(url, sizeof url, "%s/v1/requests/%s", base, rq.id);
    const char *st = "";
    json_t *v = NULL;
    while (now_s() - t0 < 600) {
        json_decref(v);
        v = http_json(&status, url, rtoken, NULL);
        st = json_string_value(json_object_get(v, "status"));
        if (st && (strcmp(st, "released") == 0 || strcmp(st, "failed") == 0))
            break;
        usleep(20000);
    }
    double el = now_s() - t0, wall_seen = wall_commit + el;
    long rss_peak = vm_hwm_kb(pid);
    PQfinish(c); /* a fresh connection: the release may outlive this one */
    c = pg_open(dburl);
    printf("release_status=%s\nrelease_s=%.2f\nrss_peak_kb=%ld\n", st ? st : "?", el, rss_peak);
    /*
     * The stages, from the timestamps the worker leaves (seconds since the epoch): the request
     * closed; the release row (now() of the statement that stores it with its members); the
     * payout's start: the first credit (now() of the insertion of the credits, after the
     * members are read back) or, in wave 1's form, the first entry sealed after the release;
     * the last reward entry (sealed under the ledger's lock); the refund entry; the job
     * finished (now() of the statement that sets status=released and writes the notices).
     */
    snprintf(sql, sizeof sql,
             "SELECT extract(epoch FROM r.closed_at) FROM requests r WHERE r.id = "
             "decode('%s', 'hex')",
             rq.id + 2);
    double closed = pg_double(c, sql);
    snprintf(sql, sizeof sql,
             "SELECT extract(epoch FROM created_at) FROM releases WHERE request_id = "
             "decode('%s', 'hex')",
             rq.id + 2);
    double stored = pg_double(c, sql);
    if (wave1_master)
        snprintf(sql, sizeof sql,
                 "SELECT extract(epoch FROM min(e.created_at)) FROM ledger_entries e, releases x "
                 "WHERE e.ref_request = '%s' AND e.kind = 'reward' AND x.request_id = "
                 "decode('%s', 'hex') AND e.created_at > x.created_at",
                 rq.id, rq.id + 2);
    else
        snprintf(sql, sizeof sql,
                 "SELECT extract(epoch FROM min(created_at)) FROM ledger_credits WHERE entry_key "
                 "= 'reward:%s'",
                 rq.id);
    double credited = pg_double(c, sql);
    snprintf(sql, sizeof sql,
             "SELECT extract(epoch FROM max(created_at)) FROM ledger_entries WHERE ref_request = "
             "'%s' AND kind = 'reward'",
             rq.id);
    double rewarded = pg_double(c, sql);
    snprintf(sql, sizeof sql,
             "SELECT extract(epoch FROM min(created_at)) FROM ledger_entries WHERE ref_request = "
             "'%s' AND kind = 'refund'",
             rq.id);
    double refunded = pg_double(c, sql);
    snprintf(sql, sizeof sql,
             "SELECT extract(epoch FROM finished_at) FROM release_jobs WHERE request_id = "
             "decode('%s', 'hex')",
             rq.id + 2);
    double finished = pg_double(c, sql);
    printf("stage_close_s=%.2f\nstage_compute_s=%.2f\nstage_store_s=%.2f\nstage_credits_s=%.2f\n"
           "stage_refund_s=%.2f\nstage_finish_s=%.2f\nstage_status_s=%.2f\n",
           closed - wall_commit, stored - closed, credited - stored, rewarded - credited,
           refunded - rewarded, finished - refunded, wall_seen - finished);
    snprintf(sql, sizeof sql,
             "SELECT included FROM releases WHERE request_id = decode('%s', 'hex')", rq.id + 2);
    printf("release_included=%ld\n", pg_long(c, sql));
    int bad = st && strcmp(st, "released") == 0 ? 0 : 1;
    bad |= release_check(c, rq.id, (long)(n - n_bad), (long)n_bad, wave1_master != NULL);
    printf("release_checks=%s\n", bad ? "FAILED" : "passed");
    json_decref(v);
    PQfinish(c);
    return bad;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("cannot initialize libsodium or libcurl");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "open") == 0)
        return cmd_open();
    if (argc == 5 && strcmp(argv[1], "healthz") == 0)
        return cmd_healthz(argv[2], (size_t)atol(argv[3]), atof(argv[4]));
    if (argc == 8 && strcmp(argv[1], "contrib") == 0)
        return cmd_contrib(argv[2], argv[3], argv[4], (size_t)atol(argv[5]), (size_t)atol(argv[6]),
                           atof(argv[7]));
    if ((argc == 8 || (argc == 10 && strcmp(argv[8], "wave1") == 0)) &&
        strcmp(argv[1], "release") == 0)
        return cmd_release(argv[2], argv[3], argv[4], (size_t)atol(argv[5]), (size_t)atol(argv[6]),
                           atol(argv[7]), argc == 10 ? argv[9] : NULL);
    fprintf(stderr, "usage: bench_market open | healthz BASE CONNS SECONDS | contrib DBURL BASE[,BASE...] "
                    "RESEARCHER CLIENTS REQUESTS SECONDS | release DBURL BASE RESEARCHER N INVALID "
                    "PID [wave1 MASTER_KEY_FILE]\n");
    return 2;
}
