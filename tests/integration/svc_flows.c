/*
 * svc_flows: flows reached through the service layer, without HTTP, against a real PostgreSQL
 * (a database of its own): a request is created with its escrow or not at all (short of funds:
 * the draft is cancelled and nothing is locked), an abandoned draft holding escrow is swept
 * and refunded (both halves of "no escrow for an invisible request", src/svc/requests.c), the
 * CLI's local deposit refuses a public chain, and a profile is checked before it is stored.
 */
#include "own_database.h"
#include "svc/svc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char RESEARCHER[] = "0x1111111111111111111111111111111111111111";
static const char CONTRIBUTOR[] = "0x2222222222222222222222222222222222222222";

/* One statement of test set-up on the test's own database (as its superuser). */
static int admin(const char *url, const char *sql)
{
    PGconn *pg = PQconnectdb(url);
    PGresult *r = PQstatus(pg) == CONNECTION_OK ? PQexec(pg, sql) : NULL;
    int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    return ok ? 0 : -1;
}

/* A valid k-anonymity request of reward x max, closing in a month. */
static json_t *request_body(const char *reward, int max)
{
    char when[32], text[1024];
    time_t t = time(NULL) + 30 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(text, sizeof text,
             "{\"title\":\"t\",\"purpose\":\"academic-research\",\"schema\":{\"fields\":["
             "{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,"
             "\"role\":\"quasi-identifier\"},{\"name\":\"sex\",\"type\":\"category\","
             "\"categories\":[\"f\",\"m\"],\"role\":\"sensitive\"}]},"
             "\"privacy\":{\"mode\":\"k-anonymity\",\"k\":5},\"reward\":\"%s\","
             "\"min_contributors\":5,\"max_contributors\":%d,\"closes_at\":\"%s\"}",
             reward, max, when);
    return json_loads(text, 0, NULL);
}

static const char *available(coh_db_pool *db, char out[80])
{
    struct coh_db_ledger_balance b;
    coh_err err = {0};
    snprintf(out, 80, "%s", coh_db_ledger_balance(&b, db, RESEARCHER, &err) ? "?" : b.available);
    return out;
}

static const char *status_of(coh_db_pool *db, const char *id, char out[16])
{
    coh_err err = {0};
    json_t *v = coh_db_request_get(db, id, RESEARCHER, &err);
    snprintf(out, 16, "%s", v ? json_string_value(json_object_get(v, "status")) : "?");
    json_decref(v);
    return out;
}

static void run(coh_db_pool *db, const char *url)
{
    coh_err err = {0};
    coh_secbuf *master = coh_secbuf_new(32), *key = NULL;
    randombytes_buf(coh_secbuf_data(master), 32);
    uint8_t signer[20], amount[32];
    CHECK("a ledger key", coh_db_ledger_key_load(&key, signer, db, master, 1, &err) == 0);
    coh_market_floors floors;
    coh_market_floors_default(&floors);
    /* Both sign in (a session makes the account, as POST /v1/auth/verify does). */
    struct coh_db_session sess;
    uint8_t token_hash[32] = {1};
    CHECK("the researcher signs in",
          coh_db_session_create(&sess, db, RESEARCHER, token_hash, 3600, "test", &err) == 0);
    token_hash[0] = 2;
    CHECK("the contributor signs in",
          coh_db_session_create(&sess, db, CONTRIBUTOR, token_hash, 3600, "test", &err) == 0);

    coh_ledger_entry e;
    int replayed = 0;
    CHECK("1000 is a uint256", coh_u256_from_dec(amount, "1000") == 0);
    CHECK("the local deposit refuses a public chain id",
          coh_svc_deposit_local(&e, &replayed, db, key, 1, RESEARCHER, amount, NULL, NULL, &err) ==
                  COH_ERR_FORBIDDEN &&
              strstr(err.msg, "chain_id 1 is not a local test network"));
    CHECK("and posts on a dev chain",
          coh_svc_deposit_local(&e, &replayed, db, key, 31337, RESEARCHER, amount, NULL, "dep-1",
                                &err) == 0 &&
              e.seq >= 1);
    char avail[80], status[16];

    /* Short of funds: 100 x 20 = 2000 > 1000. Nothing locked, nothing visible. */
    json_t *b = request_body("100", 20);
    char id[COH_HASH_HEX_SIZE] = "";
    json_t *codes = NULL; /* an open request makes none */
    int rc = coh_svc_request_create(id, &codes, db, master, key, &floors, RESEARCHER, b, time(NULL),
                                    &err);
    json_decref(b);
    CHECK("a request beyond the balance is refused as short of funds", rc == COH_ERR_LIMIT);
    CHECK("its draft is cancelled", strcmp(status_of(db, id, status), "cancelled") == 0);
    CHECK("and the balance is whole", strcmp(available(db, avail), "1000") == 0);

    /* Within the balance: open, 10 x 20 = 200 locked. */
    b = request_body("10", 20);
    rc = coh_svc_request_create(id, &codes, db, master, key, &floors, RESEARCHER, b, time(NULL),
                                &err);
    json_decref(b);
    CHECK("a funded request is created", rc == 0 && !codes);
    CHECK("open", strcmp(status_of(db, id, status), "open") == 0);
    CHECK("with reward x max in escrow", strcmp(available(db, avail), "800") == 0);

    /* A request the floors refuse: k below the operator's floor. */
    b = request_body("10", 20);
    json_object_set_new(json_object_get(b, "privacy"), "k", json_integer(2));
    rc = coh_svc_request_create(id, &codes, db, master, key, &floors, RESEARCHER, b, time(NULL),
                                &err);
    json_decref(b);
    CHECK("k below the floor is refused, naming the member",
          rc == COH_ERR_INVALID && strstr(err.msg, "k"));

    /* A creation that died after its escrow: a draft holding 10 x 20, a minute old. */
    char draft[COH_HASH_HEX_SIZE];
    uint8_t raw[32];
    randombytes_buf(raw, 32);
    coh_hex_encode(draft, raw, 32, 1);
    char pk[COH_HASH_HEX_SIZE];
    coh_hex_encode(pk, raw, 32, 1);
    b = request_body("10", 20);
    json_t *spec = NULL;
    rc = coh_market_spec_validate(&spec, b, time(NULL), &floors, &err);
    char *spec_text = rc ? NULL : json_dumps(spec, JSON_COMPACT);
    rc = spec_text ? coh_db_request_insert(db, draft, RESEARCHER, spec_text, pk, 0, pk, "00", &err)
                   : -1;
    free(spec_text);
    json_decref(spec);
    json_decref(b);
    CHECK("a draft is stored", rc == 0);
    CHECK("its escrow is posted", coh_svc_escrow(db, key, draft, RESEARCHER, "10", 20, &err) == 0 &&
                                      strcmp(available(db, avail), "600") == 0);
    /* (a draft is invisible: coh_db_request_get does not find it, and the sweep must not
     * take a creation still in progress for an abandoned one) */
    CHECK("the sweep leaves a fresh draft and its escrow alone",
          coh_svc_drafts_sweep(db, key, &err) == 0 &&
              strcmp(status_of(db, draft, status), "?") == 0 &&
              strcmp(available(db, avail), "600") == 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE requests SET created_at = now() - interval '2 minutes' WHERE id = "
             "decode('%s', 'hex')",
             draft + 2);
    CHECK("(the draft is made two minutes old)", admin(url, sql) == 0);
    CHECK("the sweep cancels the abandoned draft",
          coh_svc_drafts_sweep(db, key, &err) == 0 &&
              strcmp(status_of(db, draft, status), "cancelled") == 0);
    CHECK("and refunds its escrow", strcmp(available(db, avail), "800") == 0);
    CHECK("once: a second sweep refunds nothing more",
          coh_svc_drafts_sweep(db, key, &err) == 0 && strcmp(available(db, avail), "800") == 0);

    /* Profiles: the rules before the row. */
    json_t *p =
        json_loads("{\"roles\":[\"contributor\"],\"consent_profile\":{\"colour\":1}}", 0, NULL);
    CHECK("an unknown profile member is refused, named",
          coh_svc_profile_put(db, CONTRIBUTOR, p, &err) == COH_ERR_INVALID &&
              strstr(err.msg, "consent_profile.colour"));
    json_decref(p);
    p = json_loads("{\"roles\":[\"contributor\"],\"consent_profile\":{\"min_k\":10}}", 0, NULL);
    CHECK("a valid profile is stored", coh_svc_profile_put(db, CONTRIBUTOR, p, &err) == 0);
    json_decref(p);
    json_t *stored = coh_db_profile_get(db, CONTRIBUTOR, &err);
    CHECK("with what it said",
          stored && json_integer_value(json_object_get(stored, "min_k")) == 10);
    json_decref(stored);
    coh_secbuf_free(key);
    coh_secbuf_free(master);
}

static int run_on(const char *url)
{
    coh_db_pool *db = NULL;
    coh_err err = {0};
    int applied = 0;
    if (coh_db_pool_new(&db, url, 4, 30000, &err) == 0 &&
        coh_db_migrate(&applied, db, COH_SOURCE_DIR "/sql", &err) == 0)
        run(db, url);
    else
        fprintf(stderr, "%s\n", err.msg), g_fail++;
    coh_db_pool_free(db);
    return 0;
}

int main(void)
{
    int rc = it_with_own_database("coh_svc_it", run_on);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return rc || g_fail ? 1 : 0;
}
