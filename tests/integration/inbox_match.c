/*
 * inbox_match: the inbox's SQL matching (src/db/market.c coh_db_inbox) against the C rules
 * (src/market/match.c coh_market_match, coh_market_within_operator_floors), the one definition,
 * over random requests and random profiles in a database of its own (COH_TEST_DATABASE_URL).
 * For every profile and three sets of operator floors: the SQL never refuses a request the C
 * rules admit (else a match would be hidden), admits exactly the same set on valid data (else
 * pages shrink), and coh_svc_inbox's pages, at random limits, walk every match exactly once,
 * newest first, also across requests created in the same microsecond. Prints TAP-like lines;
 * exits non-zero on any failure.
 */
#include "db/db.h"
#include "market/market.h"
#include "svc/svc.h"
#include "own_database.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_RESEARCHERS 4
#define N_CONTRIBUTORS 60
#define N_REQUESTS 400

static coh_db_pool *g_db;

static int run(const char *sql, int n, const char *const *params)
{
    coh_err err = {0};
    PGresult *r = coh_db_query(g_db, sql, n, params, &err);
    if (!r) {
        fprintf(stderr, "%s: %s\n", sql, err.msg);
        return -1;
    }
    PQclear(r);
    return 0;
}

static unsigned pick(unsigned n)
{
    return randombytes_uniform(n);
}

static const char *const purposes[] = {"academic-research", "public-health", "commercial"};
static const char *const categories[] = {"health", "fitness", "sleep"};
static const char *const age_bands[] = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"};
static const char *const countries[] = {"US", "FR", "DE", "IT", "ES", "PT",
                                        "NL", "BE", "PL", "SE", "NO", "DK"};
static const char *const sexes[] = {"female", "male", "intersex", "undisclosed"};

/* A random non-empty subset of vals[0..n) as a JSON array (at least min elements). */
static json_t *subset(const char *const *vals, unsigned n, unsigned min)
{
    json_t *a = json_array();
    while (json_array_size(a) < min || json_array_size(a) == 0) {
        json_array_clear(a);
        for (unsigned i = 0; i < n; i++)
            if (pick(2))
                json_array_append_new(a, json_string(vals[i]));
        if (min == 0)
            break;
    }
    return a;
}

static void addr_of(char out[43], int role, int who)
{
    snprintf(out, 43, "0x%02x%04x0000000000000000000000000000000000", role, who);
}

struct req {
    char id[COH_HASH_HEX_SIZE];
    char owner[43];
    int open;
};
static struct req g_req[N_REQUESTS];
static char g_who[N_CONTRIBUTORS][43];
/* consent state of contributor c for request r: 0 none, 1 given, 2 revoked; contributed */
static unsigned char g_consent[N_CONTRIBUTORS][N_REQUESTS], g_contrib[N_CONTRIBUTORS][N_REQUESTS];
/* each request as the API reads it (request_json), loaded once after seeding */
static json_t *g_json[N_REQUESTS];

static json_t *random_spec(void)
{
    static const char *const eps[] = {"0.1", "0.25", "0.5", "1", "1.5", "2", "3"};
    static const double deltas[] = {0, 0.000001, 0.000004, 0.00001, 0.001};
    json_t *elig = json_object();
    if (pick(2))
        json_object_set_new(elig, "age_band", subset(age_bands, 6, 1));
    if (pick(2))
        json_object_set_new(elig, "country", subset(countries, 12, 1));
    if (pick(3) == 0)
        json_object_set_new(elig, "sex", subset(sexes, 4, 1));
    if (pick(2))
        json_object_set_new(elig, "categories", subset(categories, 3, 1));
    int dp = pick(2);
    const char *e = dp ? eps[pick(7)] : "0";
    json_t *privacy =
        dp ? json_pack("{s:s,s:s,s:f}", "mode", "dp", "epsilon", e, "delta", deltas[pick(5)])
           : json_pack("{s:s,s:i}", "mode", "k-anonymity", "k", 2 + (int)pick(7));
    /* around the buckets of match_tokens (digits in threes) and the profiles' minimums */
    static const char *const rewards[] = {"1",    "2",    "3",      "9",      "10",      "11",
                                          "12",   "999",  "1000",   "1001",   "999999",  "1000000",
                                          "1000001", "123456789012345678901"};
    const char *reward = rewards[pick(14)];
    int max = pick(2) ? 1 + (int)pick(10) : 20 + (int)pick(100);
    return json_pack("{s:s,s:s,s:s,s:{},s:o,s:o,s:s,s:s,s:i,s:i,s:s,s:i}", "title", "t",
                     "description", "", "purpose", purposes[pick(3)], "schema", "eligibility", elig,
                     "privacy", privacy, "epsilon", e, "reward", reward, "min_contributors", 1,
                     "max_contributors", max, "closes_at", "2099-01-01T00:00:00Z", "retention_days",
                     30);
}

static int seed(void)
{
    coh_err err = {0};
    uint8_t hash[32];
    randombytes_buf(hash, sizeof hash);
    char researchers[N_RESEARCHERS][43];
    for (int i = 0; i < N_RESEARCHERS; i++)
        addr_of(researchers[i], 1, i);
    for (int c = 0; c < N_CONTRIBUTORS; c++)
        addr_of(g_who[c], 2, c);
    for (int i = 0; i < N_RESEARCHERS + N_CONTRIBUTORS; i++) {
        struct coh_db_session s;
        randombytes_buf(hash, sizeof hash);
        const char *a = i < N_RESEARCHERS ? researchers[i] : g_who[i - N_RESEARCHERS];
        if (coh_db_session_create(&s, g_db, a, hash, 3600, NULL, &err))
            return fprintf(stderr, "session: %s\n", err.msg), -1;
    }
    char pk[COH_HASH_HEX_SIZE];
    uint8_t raw[32];
    for (int i = 0; i < N_REQUESTS; i++) {
        struct req *r = &g_req[i];
        /* a few requests belong to contributors: never in their own inbox */
        const char *owner =
            pick(10) == 0 ? g_who[pick(N_CONTRIBUTORS)] : researchers[pick(N_RESEARCHERS)];
        snprintf(r->owner, sizeof r->owner, "%s", owner);
        randombytes_buf(raw, 32);
        coh_hex_encode(r->id, raw, 32, 1);
        randombytes_buf(raw, 32);
        coh_hex_encode(pk, raw, 32, 1);
        json_t *spec = random_spec();
        char *text = json_dumps(spec, JSON_COMPACT);
        json_decref(spec);
        int rc = coh_db_request_insert(g_db, r->id, owner, text, pk, 0, pk, "00", &err);
        free(text);
        const char *to = pick(8) == 0 ? "cancelled" : "open";
        if (rc || coh_db_request_transition(g_db, r->id, "draft", to, &err))
            return fprintf(stderr, "request: %s\n", err.msg), -1;
        r->open = strcmp(to, "open") == 0;
    }
    /* Requests created in one microsecond: the cursor's tie-break on id. */
    if (run("UPDATE requests SET created_at = '2026-01-01T00:00:00.123456Z' WHERE "
            "get_byte(id, 0) < 24",
            0, NULL))
        return -1;
    /* Consents (some revoked) and contributions: a request consented to stays in the inbox
     * below the operator's floors. */
    for (int c = 0; c < N_CONTRIBUTORS; c++)
        for (int i = 0; i < N_REQUESTS; i++) {
            if (pick(12) != 0 || strcmp(g_req[i].owner, g_who[c]) == 0)
                continue;
            g_consent[c][i] = 1 + (pick(4) == 0);
            g_contrib[c][i] = g_consent[c][i] == 1 && pick(2);
            const char *params[] = {g_req[i].id + 2, g_who[c], g_consent[c][i] == 2 ? "t" : "f",
                                    g_contrib[c][i] ? "t" : "f"};
            if (run("WITH k AS (INSERT INTO consents (request_id, contributor, signature, expiry, "
                    "revoked_at) VALUES (decode($1, 'hex'), $2, decode(repeat('ab', 65), 'hex'), "
                    "0, CASE WHEN $3::boolean THEN now() END) RETURNING request_id) "
                    "INSERT INTO contributions (request_id, contributor, ciphertext) SELECT "
                    "request_id, $2, decode(repeat('cd', 64), 'hex') FROM k WHERE $4::boolean",
                    4, params))
                return -1;
        }
    return 0;
}

static void random_profile(int c)
{
    static const char *const mins[] = {"0", "1", "3", "10", "1000", "1001", "999999", "1000000"},
                             *const lives[] = {"1", "2", "5", "10"};
    static const char *const maxes[] = {"", "0.25", "0.5", "1", "2"}, *const ks[] = {"", "3", "5",
                                                                                     "7"};
    static const char *const spent[] = {"0", "0.25", "0.5", "0.9"};
    json_t *attrs = json_object();
    if (pick(4))
        json_object_set_new(attrs, "age_band", json_string(age_bands[pick(6)]));
    if (pick(4))
        json_object_set_new(attrs, "country", json_string(countries[pick(12)]));
    if (pick(2))
        json_object_set_new(attrs, "sex", json_string(sexes[pick(4)]));
    json_t *cats = subset(categories, 3, 0), *purp = subset(purposes, 3, 0);
    char *a = json_dumps(attrs, JSON_COMPACT), *cs = json_dumps(cats, JSON_COMPACT),
         *ps = json_dumps(purp, JSON_COMPACT);
    struct coh_db_profile_update u = {
        .researcher = -1,
        .contributor = pick(12) != 0,
        .categories_json = cs,
        .attributes_json = a,
        .purposes_json = ps,
        .min_reward = mins[pick(8)],
        .lifetime_epsilon = lives[pick(4)],
        .min_k = ks[pick(4)],
        .max_epsilon = maxes[pick(5)],
        .statistics_only = pick(5) == 0,
    };
    coh_err err = {0};
    if (coh_db_profile_put(g_db, g_who[c], &u, &err))
        fprintf(stderr, "profile: %s\n", err.msg);
    const char *params[] = {g_who[c], spent[pick(4)]};
    (void)run("UPDATE profiles SET epsilon_spent = least($2::numeric, lifetime_epsilon) WHERE "
              "address = $1",
              2, params);
    free(a);
    free(cs);
    free(ps);
    json_decref(attrs);
    json_decref(cats);
    json_decref(purp);
}

/* What the C rules admit for contributor c: the one definition. */
static int c_admits(int c, int i, const json_t *request, const json_t *profile,
                    const coh_market_floors *f)
{
    if (!g_req[i].open || strcmp(g_req[i].owner, g_who[c]) == 0 ||
        !json_is_true(json_object_get(profile, "is_contributor")))
        return 0;
    int mine = g_consent[c][i] == 1 || g_contrib[c][i];
    return (mine || coh_market_within_operator_floors(request, f)) &&
           coh_market_match(request, profile);
}

static int index_of(const char *id)
{
    for (int i = 0; i < N_REQUESTS; i++)
        if (strcmp(g_req[i].id, id) == 0)
            return i;
    return -1;
}

static void floors_set(coh_market_floors *f, int which)
{
    coh_market_floors_default(f);
    if (which == 1) { /* the lowest an operator may set */
        f->min_k = 2;
        f->max_epsilon = (coh_rational){10, 1};
        f->max_delta = (coh_rational){1, 1000};
        f->min_dp_contributors = 1;
    } else if (which == 2) {
        f->min_k = 4;
        f->max_epsilon = (coh_rational){3, 2};
        f->max_delta = (coh_rational){1, 250000};
        f->min_dp_contributors = 20;
    }
}

static void check_profile(int c, int which, int *missing, int *extra, int *paging_bad,
                          long *admitted)
{
    coh_err err = {0};
    coh_market_floors f;
    floors_set(&f, which);
    json_t *profile = coh_db_profile_get(g_db, g_who[c], &err);
    if (!profile) {
        (*paging_bad)++;
        return;
    }
    unsigned char want[N_REQUESTS] = {0}, sql[N_REQUESTS] = {0};
    for (int i = 0; i < N_REQUESTS; i++) {
        want[i] = g_json[i] && c_admits(c, i, g_json[i], profile, &f);
        *admitted += want[i];
    }
    /* The SQL alone, all in one page. */
    struct coh_db_inbox_query q = {
        .min_k = f.min_k,
        .eps_num = f.max_epsilon.num,
        .eps_den = f.max_epsilon.den,
        .delta_num = f.max_delta.num,
        .delta_den = f.max_delta.den,
        .min_dp_contributors = f.min_dp_contributors,
        .limit = N_REQUESTS + 1,
        /* the newest few in order, then the indexes (sparse); or all in order */
        .window = pick(2) ? 1 + (int)pick(40) : 0,
    };
    int contributor = json_is_true(json_object_get(profile, "is_contributor"));
    json_t *rows = contributor ? coh_db_inbox(g_db, g_who[c], profile, &q, &err) : json_array();
    size_t k;
    json_t *item;
    json_array_foreach(rows, k, item)
    {
        int i =
            index_of(json_string_value(json_object_get(json_object_get(item, "request"), "id")));
        if (i >= 0)
            sql[i] = 1;
    }
    for (int i = 0; i < N_REQUESTS; i++) {
        if (want[i] && !sql[i]) {
            if ((*missing)++ < 3) {
                char *a = json_dumps(g_json[i], JSON_COMPACT), *b = json_dumps(profile, JSON_COMPACT);
                printf("# SQL hid a match (floors %d):\n#  request %s\n#  profile %s\n", which, a,
                       b);
                free(a);
                free(b);
            }
        }
        if (sql[i] && !want[i] && (*extra)++ < 3) {
            char *a = json_dumps(g_json[i], JSON_COMPACT), *b = json_dumps(profile, JSON_COMPACT);
            printf("# SQL admitted what C refuses (floors %d):\n#  request %s\n#  profile %s\n",
                   which, a, b);
            free(a);
            free(b);
        }
    }
    /* The pages, at a random limit: every match once, in the SQL's order. */
    unsigned char seen[N_REQUESTS] = {0};
    size_t expect_pos = 0;
    struct coh_svc_inbox_page page = {.limit = 1 + (int)pick(9),
                                      .window = pick(2) ? 1 + (int)pick(40) : 0};
    char cursor_id[COH_HASH_HEX_SIZE] = "";
    for (int guard = 0; guard < N_REQUESTS + 2; guard++) {
        json_t *inbox = coh_svc_inbox(g_db, &f, g_who[c], &page, &err);
        if (!inbox) {
            (*paging_bad)++;
            break;
        }
        json_t *list = json_object_get(inbox, "requests");
        if (json_array_size(list) > (size_t)page.limit)
            (*paging_bad)++;
        json_array_foreach(list, k, item)
        {
            const char *id =
                json_string_value(json_object_get(json_object_get(item, "request"), "id"));
            int i = index_of(id);
            if (i < 0 || seen[i] || !want[i])
                (*paging_bad)++;
            else
                seen[i] = 1;
            /* the same order as the one-page SQL answer */
            while (expect_pos < json_array_size(rows) &&
                   strcmp(json_string_value(json_object_get(
                              json_object_get(json_array_get(rows, expect_pos), "request"), "id")),
                          id) != 0)
                expect_pos++;
            if (expect_pos == json_array_size(rows))
                (*paging_bad)++;
        }
        json_t *next = json_object_get(inbox, "next");
        if (!json_is_object(next)) {
            json_decref(inbox);
            break;
        }
        page.before_us = json_integer_value(json_object_get(next, "before_us"));
        snprintf(cursor_id, sizeof cursor_id, "%s",
                 json_string_value(json_object_get(next, "before_id")));
        page.before_id = cursor_id;
        json_decref(inbox);
    }
    for (int i = 0; i < N_REQUESTS; i++)
        if (want[i] && !seen[i])
            (*paging_bad)++;
    json_decref(rows);
    json_decref(profile);
}

static int run_all(const char *url)
{
    coh_err err = {0};
    if (coh_db_pool_new(&g_db, url, 2, 30000, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
    if (coh_db_migrate(NULL, g_db, COH_SOURCE_DIR "/sql", &err))
        return fprintf(stderr, "%s\n", err.msg), coh_db_pool_free(g_db), 1;
    int rc = seed();
    CHECK("random requests, profiles, consents and contributions are seeded", rc == 0);
    if (rc) {
        coh_db_pool_free(g_db);
        return 1;
    }
    for (int i = 0; i < N_REQUESTS; i++)
        g_json[i] = coh_db_request_get(g_db, g_req[i].id, "", &err); /* NULL: not visible */
    int missing = 0, extra = 0, paging_bad = 0;
    long admitted = 0;
    for (int round = 0; round < 3; round++)
        for (int c = 0; c < N_CONTRIBUTORS; c++) {
            random_profile(c);
            check_profile(c, (c + round) % 3, &missing, &extra, &paging_bad, &admitted);
        }
    printf("# %d profiles x %d requests: %ld matches by the C rules; SQL hid %d, SQL admitted "
           "%d more\n",
           3 * N_CONTRIBUTORS, N_REQUESTS, admitted, missing, extra);
    CHECK("the profiles match some requests and not others (the test has teeth)",
          admitted > 0 && admitted < 3L * N_CONTRIBUTORS * N_REQUESTS / 2);
    CHECK("the SQL never hides a request the C rules admit", missing == 0);
    CHECK("the SQL admits exactly what the C rules admit on valid data", extra == 0);
    CHECK("the pages walk every match once, newest first, within their limit", paging_bad == 0);
    for (int i = 0; i < N_REQUESTS; i++)
        json_decref(g_json[i]);
    coh_db_pool_free(g_db);
    return 0;
}

int main(void)
{
    int rc = it_with_own_database("coh_inbox_it", run_all);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return rc || g_fail ? 1 : 0;
}
