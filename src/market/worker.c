/*
 * worker: closes due requests, runs their release jobs and cancels abandoned drafts (see
 * sweep_drafts, refunding any escrow they hold). A job is a row claimed with FOR UPDATE SKIP
 * LOCKED under a lease, so several cohortd share the work and a job whose worker died is taken
 * over when its lease ends. Each step is idempotent:
 *   1. compute the release unless one is stored; store it with its members and the spent
 *      epsilon in ONE transaction (a crash before the commit leaves nothing; after it, a retry
 *      never recomputes the noise);
 *   2. pay the members and refund the rest: ledger postings keyed by what they pay for;
 *   3. set the request's final status (released or failed), notify, mark the job done, in one
 *      statement: a request shows "released" only once everyone is paid.
 * Plaintext exists only while step 1 runs, in secure memory, and is wiped before storing.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct coh_market_worker {
    struct coh_market_worker_config cfg;
    pthread_t thread;
    atomic_int stop;
};

/* Opens every contribution into the table; rows that do not open or validate are skipped. */
static int load_table(coh_table *t, size_t **kept, size_t *n_kept, const coh_market_schema *s,
                      PGresult *contribs, const uint8_t pk[32], const coh_secbuf *sk)
{
    int n = PQntuples(contribs);
    *kept = malloc(((size_t)n + 1) * sizeof **kept);
    if (!*kept)
        return -1;
    *n_kept = 0;
    for (int i = 0; i < n; i++) {
        const char *hex = PQgetvalue(contribs, i, 1);
        size_t len = strlen(hex) / 2;
        uint8_t *ct = malloc(len + 1);
        coh_secbuf *plain = NULL;
        coh_err err = {0};
        if (ct && coh_hex_decode(ct, len, hex) == (long)len &&
            coh_crypto_box_open(&plain, ct, len, pk, sk) == 0 &&
            coh_market_record_append(t, s, plain, &err) == 0)
            (*kept)[(*n_kept)++] = (size_t)i;
        else
            coh_log_warn("release: contribution %d skipped: %s", i,
                         err.msg[0] ? err.msg : "does not open under the request key");
        coh_secbuf_free(plain);
        free(ct);
    }
    return 0;
}

static const char *const SQL_REQUEST =
    "SELECT json_build_object('owner', owner, 'reward', reward::text, 'min', min_contributors, "
    "'max', max_contributors, 'schema', schema, 'privacy', privacy, 'epsilon', epsilon::text, "
    "'wrapped', encode(secret_key_wrapped, 'hex'), 'public_key', encode(public_key, 'hex'), "
    "'released', EXISTS (SELECT 1 FROM releases x WHERE x.request_id = r.id)) "
    "FROM requests r WHERE id = decode($1, 'hex')";

static const char *const SQL_CONTRIBUTIONS =
    "SELECT c.contributor, encode(c.ciphertext, 'hex'), (p.lifetime_epsilon - "
    "p.epsilon_spent)::text FROM contributions c JOIN consents k ON k.request_id = "
    "c.request_id AND k.contributor = c.contributor AND k.revoked_at IS NULL JOIN profiles p ON "
    "p.address = c.contributor JOIN requests r ON r.id = c.request_id WHERE c.request_id = "
    "decode($1, 'hex') AND (r.epsilon = 0 OR p.lifetime_epsilon - p.epsilon_spent >= "
    "r.epsilon) ORDER BY c.submitted_at, c.contributor LIMIT $2::int";

/*
 * Stores the release, its members (every contributor whose record was accepted: all are paid,
 * $9 says whose row is in the release) and charges their lifetime epsilon, in one statement.
 * The charge locks each profile row; profiles_epsilon_within_lifetime refuses a charge that a
 * concurrent release has made unaffordable, and the whole statement rolls back (a conflict:
 * the job is recomputed without that contributor).
 */
static const char *const SQL_STORE =
    "WITH x AS (INSERT INTO releases (request_id, mode, content_type, content, report, included) "
    "VALUES (decode($1, 'hex'), $2, $3, $4, $5::jsonb, cardinality(array_remove($8::boolean[], "
    "false))) ON CONFLICT DO "
    "NOTHING RETURNING request_id), "
    "m AS (INSERT INTO release_members (request_id, contributor, released, payee) SELECT "
    "x.request_id, u.a, u.r, coalesce(p.payout_address, u.a) FROM x CROSS JOIN "
    "unnest($6::text[], $8::boolean[]) AS u(a, r) LEFT JOIN profiles p ON p.address = u.a), "
    "e AS (UPDATE profiles SET epsilon_spent = epsilon_spent + $7::numeric WHERE $7::numeric > 0 "
    "AND address = ANY ($6::text[]) AND EXISTS (SELECT 1 FROM x)) "
    "SELECT count(*) FROM x";

/* After this many failures that will not change (not a lost connection or a conflict), a
 * release job gives up: the request fails, the escrow is refunded, everyone is told. */
#define RELEASE_MAX_FAILURES 3

/* Lost connections, timeouts, conflicts and database errors may pass; anything else will not. */
static int transient(int rc)
{
    return rc == COH_ERR_UNAVAILABLE || rc == COH_ERR_CONFLICT || rc == COH_ERR_DB;
}

/*
 * Builds "{a,b,c}" of every kept row's contributor (plain hex, no quoting needed) and
 * "{t,f,...}": whether that row is among the n released rows.
 */
static int member_arrays(char **addrs, char **flags, PGresult *contribs, const size_t *kept,
                         size_t n_kept, const size_t *rows, size_t n)
{
    char *s = malloc(n_kept * 43 + 3), *f = malloc(n_kept * 2 + 3);
    unsigned char *in = calloc(n_kept + 1, 1);
    if (!s || !f || !in) {
        free(s);
        free(f);
        free(in);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (rows[i] < n_kept)
            in[rows[i]] = 1;
    size_t k = 0, j = 0;
    s[k++] = '{';
    f[j++] = '{';
    for (size_t i = 0; i < n_kept; i++) {
        if (i) {
            s[k++] = ',';
            f[j++] = ',';
        }
        memcpy(s + k, PQgetvalue(contribs, (int)kept[i], 0), 42);
        k += 42;
        f[j++] = in[i] ? 't' : 'f';
    }
    s[k++] = '}';
    s[k] = '\0';
    f[j++] = '}';
    f[j] = '\0';
    free(in);
    *addrs = s;
    *flags = f;
    return 0;
}

/* A failure record: no release, no members; step 2 refunds everything and tells everyone. */
static json_t *failure_release(const char *reason)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s}}", "mode", "none", "content_type", "application/json",
                     "content", "null", "report", "reason", reason);
}

/* Step 1: compute and store the release (or a failure record) unless one exists. */
static int compute_and_store(const struct coh_market_worker_config *cfg, const char *id,
                             const json_t *rq, int give_up, coh_err *err)
{
    const json_t *privacy = json_object_get(rq, "privacy");
    long max = (long)json_integer_value(json_object_get(rq, "max"));
    long min = (long)json_integer_value(json_object_get(rq, "min"));
    const char *wrapped = json_string_value(json_object_get(rq, "wrapped"));
    uint8_t pk[32];
    if (coh_hex_decode_exact(pk, 32, json_string_value(json_object_get(rq, "public_key"))) != 0)
        return coh_err_set(err, COH_ERR_DB, "request %s has a malformed public key", id);
    char maxs[16];
    snprintf(maxs, sizeof maxs, "%ld", max);
    const char *p2[] = {id + 2, maxs};
    coh_db_conn *c = coh_db_acquire(cfg->db, 5000, err);
    if (!c)
        return err->code;
    PGresult *contribs = coh_db_exec(c, SQL_CONTRIBUTIONS, 2, p2, err);
    coh_db_release(c);
    if (!contribs)
        return err->code;

    coh_market_schema *s = NULL;
    coh_table *t = NULL;
    coh_secbuf *sk = NULL;
    size_t *kept = NULL, *rows = NULL, n_kept = 0, n_rows = 0;
    coh_rational *remaining = NULL;
    json_t *release = NULL;
    int rc = coh_market_schema_parse(&s, json_object_get(rq, "schema"), err);
    if (!rc)
        rc = coh_market_schema_table(&t, s, err);
    if (!rc && wrapped) {
        size_t wl = strlen(wrapped) / 2;
        uint8_t *w = malloc(wl + 1);
        if (!w || coh_hex_decode(w, wl, wrapped) != (long)wl ||
            coh_market_reqkey_unwrap(&sk, cfg->master_key, id, w, wl) != 0)
            rc = coh_err_set(err, COH_ERR_CRYPTO, "request %s: secret key does not unwrap", id);
        free(w);
    }
    if (!rc && sk && load_table(t, &kept, &n_kept, s, contribs, pk, sk) != 0)
        rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    coh_secbuf_free(sk);
    if (!rc)
        rc = coh_table_finish(t, err);
    if (!rc && (long)n_kept < min) {
        release = failure_release("fewer valid contributions than min_contributors");
        n_kept = 0;
    } else if (!rc) {
        remaining = calloc(n_kept + 1, sizeof *remaining);
        for (size_t i = 0; remaining && i < n_kept; i++) {
            coh_err e2;
            if (coh_rational_parse(&remaining[i], PQgetvalue(contribs, (int)kept[i], 2), &e2))
                remaining[i] = (coh_rational){0, 1};
        }
        coh_err rerr = {0};
        rc = remaining ? coh_market_release_compute(&release, &rows, &n_rows, t, s, privacy,
                                                    cfg->floors, remaining, &rerr)
                       : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        if (rc == COH_ERR_LIMIT || rc == COH_ERR_INVALID) {
            /*
             * k, l, a floor or the budget cannot be met: no release, everything refunded. The
             * researcher reads a reason that depends on no contributor's data (which column was
             * too homogeneous, whose budget ran out); the operator's log keeps the detail.
             */
            coh_log_warn("release %s: no release: %s", id, rerr.msg);
            release = failure_release("the privacy terms cannot be met with the contributions "
                                      "received");
            rc = 0;
            n_rows = n_kept = 0;
        } else if (rc) {
            coh_err_set(err, rc, "%s", rerr.msg);
        }
    }
    if (rc && !transient(rc) && give_up) {
        /* Failures end: the same inputs failed before and will fail again. */
        coh_log_error("release %s: giving up after %d failures: %s", id, RELEASE_MAX_FAILURES,
                      err->msg);
        release = failure_release("the release could not be computed");
        rc = 0;
        n_rows = n_kept = 0;
    }
    coh_table_free(t); /* wipes every plaintext cell */
    coh_market_schema_free(s);
    free(remaining);
    if (!rc && release) {
        char *members = NULL, *released = NULL;
        if (member_arrays(&members, &released, contribs, kept, n_kept, rows, n_rows) != 0)
            members = released = NULL;
        char *report = json_dumps(json_object_get(release, "report"), JSON_COMPACT);
        const char *mode = json_string_value(json_object_get(release, "mode"));
        const char *eps =
            strcmp(mode, "dp") == 0 ? json_string_value(json_object_get(rq, "epsilon")) : "0";
        const char *p[] = {id + 2,
                           mode,
                           json_string_value(json_object_get(release, "content_type")),
                           json_string_value(json_object_get(release, "content")),
                           report,
                           members,
                           eps,
                           released};
        if (!members || !report) {
            rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        } else if ((c = coh_db_acquire(cfg->db, 5000, err)) == NULL) {
            rc = err->code;
        } else {
            PGresult *r = coh_db_exec(c, SQL_STORE, 8, p, err);
            rc = r ? 0 : err->code;
            PQclear(r);
            coh_db_release(c);
        }
        free(members);
        free(released);
        free(report);
    }
    json_decref(release);
    free(rows);
    free(kept);
    PQclear(contribs);
    return rc;
}

/* Steps 2 and 3: pay members, refund the rest, notify, finish the job. */
static int pay_and_finish(const struct coh_market_worker_config *cfg, const char *id,
                          const json_t *rq, coh_err *err)
{
    const char *p1[] = {id + 2};
    /* {members: [contributor...], payees: [[payee, count]...], wave1: a payout begun in
     * wave 1's form before the upgrade} */
    json_t *members = coh_db_json(
        cfg->db,
        "SELECT json_build_object('members', (SELECT coalesce(json_agg(contributor ORDER BY "
        "contributor), '[]') FROM release_members WHERE request_id = decode($1, 'hex')), "
        "'payees', (SELECT coalesce(json_agg(json_build_array(p, n) ORDER BY p), '[]') FROM "
        "(SELECT coalesce(payee, contributor) AS p, count(*) AS n FROM release_members WHERE "
        "request_id = decode($1, 'hex') GROUP BY 1) g), 'wave1', EXISTS (SELECT 1 FROM "
        "ledger_entries WHERE idempotency_key LIKE 'reward:0x' || $1 || ':%'))",
        1, p1, err);
    if (!members)
        return err->code;
    json_t *contributors = json_object_get(members, "members"),
           *payees = json_object_get(members, "payees");
    size_t n = json_array_size(contributors), np = json_array_size(payees);
    const char **addrs = calloc(n + np + 1, sizeof *addrs);
    uint32_t *counts = calloc(np + 1, sizeof *counts);
    for (size_t i = 0; addrs && i < n; i++)
        addrs[i] = json_string_value(json_array_get(contributors, i));
    for (size_t i = 0; addrs && counts && i < np; i++) {
        addrs[n + i] = json_string_value(json_array_get(json_array_get(payees, i), 0));
        counts[i] = (uint32_t)json_integer_value(json_array_get(json_array_get(payees, i), 1));
    }
    const char *reward = json_string_value(json_object_get(rq, "reward"));
    const char *owner = json_string_value(json_object_get(rq, "owner"));
    long max = (long)json_integer_value(json_object_get(rq, "max"));
    int rc = addrs && counts ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    if (!rc && n && json_is_true(json_object_get(members, "wave1")))
        rc = coh_market_rewards_wave1(cfg->db, cfg->ledger_key, id, reward, addrs, n, err);
    else if (!rc && n)
        rc = coh_market_rewards(cfg->db, cfg->ledger_key, id, reward, addrs + n, counts, np,
                                err);
    if (!rc)
        coh_crash_point("rewarded");
    if (!rc)
        rc = coh_market_refund(cfg->db, cfg->ledger_key, id, owner, reward,
                               (uint32_t)(max - (long)n), err);
    if (!rc)
        coh_crash_point("refunded");
    free(addrs);
    free(counts);
    json_decref(members);
    if (rc)
        return rc;
    coh_db_conn *c = coh_db_acquire(cfg->db, 5000, err);
    if (!c)
        return err->code;
    PGresult *r = coh_db_exec(
        c,
        "WITH q AS (UPDATE requests r SET status = CASE WHEN x.mode = 'none' THEN 'failed' ELSE "
        "'released' END FROM releases x WHERE r.id = decode($1, 'hex') AND x.request_id = r.id "
        "RETURNING r.id, r.owner, r.status), "
        "a AS (INSERT INTO notices (address, kind, request_id, detail) SELECT owner, CASE WHEN "
        "status = 'released' THEN 'release_done' ELSE 'request_failed' END, id, CASE WHEN status "
        "= 'released' THEN 'your release is ready' ELSE 'no release: unused escrow refunded' END "
        "FROM q ON CONFLICT DO NOTHING), "
        "b AS (INSERT INTO notices (address, kind, request_id, detail) SELECT m.contributor, "
        "'reward_paid', m.request_id, CASE WHEN m.released THEN 'your reward was paid; your "
        "record is in the release' ELSE 'your reward was paid; your record was withheld from "
        "the release (suppressed) to protect the others' END FROM release_members m WHERE "
        "m.request_id = decode($1, 'hex') ON CONFLICT DO NOTHING), "
        "f AS (INSERT INTO notices (address, kind, request_id, detail) SELECT k.contributor, "
        "'request_failed', k.request_id, 'the request closed without a release' FROM consents k, "
        "q WHERE k.request_id = q.id AND q.status = 'failed' AND k.revoked_at IS NULL ON "
        "CONFLICT DO NOTHING) "
        "UPDATE release_jobs SET state = 'done', finished_at = now(), last_error = NULL WHERE "
        "request_id = decode($1, 'hex')",
        1, p1, err);
    rc = r ? 0 : err->code;
    PQclear(r);
    coh_db_release(c);
    return rc;
}

static int run_job(const struct coh_market_worker_config *cfg, const char *id, int failures,
                   coh_err *err)
{
    const char *p1[] = {id + 2};
    json_t *rq = coh_db_json(cfg->db, SQL_REQUEST, 1, p1, err);
    if (!rq)
        return err->code;
    int rc = 0;
    if (!json_is_true(json_object_get(rq, "released"))) {
        rc = compute_and_store(cfg, id, rq, failures + 1 >= RELEASE_MAX_FAILURES, err);
        if (!rc)
            coh_crash_point("stored");
    }
    if (!rc)
        rc = pay_and_finish(cfg, id, rq, err);
    json_decref(rq);
    return rc;
}

/*
 * Abandoned drafts. Creating a request inserts a draft, posts its escrow, then opens it, each
 * step committed on its own; a creation answered 503 (database restarted, disk full) can
 * leave a draft behind, and if only the last step failed, its escrow stays locked for a
 * request nobody can see. A creation takes seconds at most (pool wait and statement timeouts
 * bound each step), so a draft older than DRAFT_ABANDONED_S is abandoned: it is cancelled
 * (compare-and-set from 'draft', so a creation still finishing wins) and whatever escrow a
 * cancelled request holds goes back to its owner under the idempotency key refund:<id>, also
 * after a crash between the two steps. Runs at most every SWEEP_EVERY_S per process.
 */
#define DRAFT_ABANDONED_S "60"
#define SWEEP_EVERY_S 10

static int sweep_drafts(const struct coh_market_worker_config *cfg, coh_err *err)
{
    static _Atomic long long last;
    long long now = (long long)time(NULL);
    long long prev = atomic_load(&last);
    if (now - prev < SWEEP_EVERY_S || !atomic_compare_exchange_strong(&last, &prev, now))
        return 0;
    coh_db_conn *c = coh_db_acquire(cfg->db, 2000, err);
    if (!c)
        return err->code;
    PGresult *r = coh_db_exec(
        c,
        "UPDATE requests SET status = 'cancelled', closed_at = now() WHERE "
        "status = 'draft' AND created_at < now() - interval '" DRAFT_ABANDONED_S " seconds'",
        0, NULL, err);
    PQclear(r);
    r = r ? coh_db_exec(c,
                        "SELECT '0x' || encode(r.id, 'hex'), r.owner, r.reward::text, "
                        "r.max_contributors FROM requests r WHERE r.status = 'cancelled' AND "
                        "EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = "
                        "'escrow:0x' || encode(r.id, 'hex')) AND NOT EXISTS (SELECT 1 FROM "
                        "ledger_entries e WHERE e.idempotency_key = 'refund:0x' || encode(r.id, "
                        "'hex')) LIMIT 100",
                        0, NULL, err)
          : NULL;
    coh_db_release(c);
    if (!r)
        return err->code;
    /* Wave-1 payable balances join the pool (an upgraded ledger; nothing to do after). */
    int rc = coh_market_pool_wave1(cfg->db, cfg->ledger_key, err);
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        const char *id = PQgetvalue(r, i, 0);
        rc = coh_market_refund(cfg->db, cfg->ledger_key, id, PQgetvalue(r, i, 1),
                               PQgetvalue(r, i, 2), (uint32_t)atol(PQgetvalue(r, i, 3)), err);
        if (!rc)
            coh_log_warn("request %s: abandoned draft cancelled, its escrow refunded", id);
    }
    PQclear(r);
    return rc;
}

/*
 * Requests whose keys this process caches and another process shredded: forgotten here too,
 * so no unwrapped key outlives its request anywhere for longer than a worker step.
 */
static void forget_shredded(const struct coh_market_worker_config *cfg)
{
    char ids[64][COH_HASH_HEX_SIZE];
    size_t n = coh_market_intake_cached(ids, 64);
    if (n == 0)
        return;
    char list[64 * 67 + 3], *o = list; /* a text[] literal: ids are 0x + hex, no quoting */
    *o++ = '{';
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s%s", i ? "," : "", ids[i]);
    *o++ = '}';
    *o = '\0';
    const char *pp[1] = {list};
    coh_err e;
    PGresult *r = coh_db_query(cfg->db,
                               "SELECT '0x' || encode(id, 'hex') FROM requests WHERE id = ANY "
                               "(SELECT decode(substr(x, 3), 'hex') FROM unnest($1::text[]) x) "
                               "AND secret_key_wrapped IS NULL",
                               1, pp, &e);
    for (int i = 0; r && i < PQntuples(r); i++)
        coh_market_intake_forget(PQgetvalue(r, i, 0));
    PQclear(r); /* on failure: the next step asks again */
}

/* Sweeps abandoned drafts, schedules due requests, shreds keys past retention, claims one job. */
int coh_market_worker_step(const struct coh_market_worker_config *cfg, coh_err *err)
{
    coh_err e0 = {0};
    if (sweep_drafts(cfg, &e0) && e0.code != COH_ERR_UNAVAILABLE)
        coh_log_warn("abandoned drafts: %s", e0.msg); /* retried at the next sweep */
    coh_db_conn *c = coh_db_acquire(cfg->db, 2000, err);
    if (!c)
        return err->code;
    PGresult *r = coh_db_exec(
        c,
        "WITH due AS (UPDATE requests r SET status = 'closing', closed_at = now() WHERE status "
        "= 'open' AND (closes_at <= now() OR n_contributions >= max_contributors) RETURNING id) "
        "INSERT INTO release_jobs (request_id) SELECT id FROM due ON CONFLICT DO NOTHING",
        0, NULL, err);
    PQclear(r);
    /* Crypto-shredding: past retention the key goes, and with it every ciphertext; this
     * process's cache of unwrapped keys forgets it too. */
    r = r ? coh_db_exec(c,
                        "WITH s AS (UPDATE requests SET secret_key_wrapped = NULL, shredded_at = "
                        "now() WHERE secret_key_wrapped IS NOT NULL AND status IN ('released', "
                        "'failed', 'cancelled') AND closed_at + make_interval(days => "
                        "retention_days) <= now() RETURNING id), d AS (DELETE FROM contributions "
                        "WHERE request_id IN (SELECT id FROM s)) SELECT '0x' || encode(id, 'hex') "
                        "FROM s",
                        0, NULL, err)
          : NULL;
    for (int i = 0; r && i < PQntuples(r); i++)
        coh_market_intake_forget(PQgetvalue(r, i, 0));
    PQclear(r);
    char lease[16];
    snprintf(lease, sizeof lease, "%d", cfg->lease_s);
    const char *p1[] = {lease};
    r = r ? coh_db_exec(c,
                        "UPDATE release_jobs SET state = 'running', attempts = attempts + 1, "
                        "lease_until = now() + make_interval(secs => $1::int) WHERE request_id = "
                        "(SELECT request_id FROM release_jobs WHERE state = 'pending' OR (state = "
                        "'running' AND lease_until < now()) ORDER BY created_at LIMIT 1 FOR "
                        "UPDATE SKIP LOCKED) RETURNING '0x' || encode(request_id, 'hex'), failures",
                        1, p1, err)
          : NULL;
    coh_db_release(c);
    forget_shredded(cfg);
    if (!r)
        return err->code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    char id[COH_HASH_HEX_SIZE];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    int failures = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    int rc = run_job(cfg, id, failures, err);
    if (rc) {
        coh_log_error("release job %s failed: %s", id, err->msg);
        const char *p2[] = {id + 2, err->msg, transient(rc) ? "0" : "1"};
        coh_err e2;
        /* Retried at the next poll (a conflict recomputes; a failure counts toward giving up),
         * not after the lease, which is for workers that died. */
        json_decref(coh_db_json(cfg->db,
                                "UPDATE release_jobs SET last_error = $2, failures = failures + "
                                "$3::int, state = 'pending' WHERE request_id = decode($1, 'hex') "
                                "RETURNING 'null'",
                                3, p2, &e2));
        return rc;
    }
    coh_log_info("release job %s done", id);
    return 1;
}

static void *loop(void *arg)
{
    coh_market_worker *w = arg;
    while (!atomic_load(&w->stop)) {
        coh_err err = {0};
        int rc = coh_market_worker_step(&w->cfg, &err);
        if (rc == 1)
            continue; /* there may be more work */
        if (rc < 0 && rc != COH_ERR_UNAVAILABLE)
            coh_log_warn("release worker: %s", err.msg);
        for (int slept = 0; slept < w->cfg.interval_ms && !atomic_load(&w->stop); slept += 50) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int coh_market_worker_start(coh_market_worker **out, const struct coh_market_worker_config *cfg,
                            coh_err *err)
{
    *out = NULL;
    coh_market_worker *w = calloc(1, sizeof *w);
    if (!w)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    w->cfg = *cfg;
    if (pthread_create(&w->thread, NULL, loop, w) != 0) {
        free(w);
        return coh_err_set(err, COH_ERR_IO, "cannot start the release worker");
    }
    *out = w;
    return 0;
}

void coh_market_worker_stop(coh_market_worker *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    free(w);
}
