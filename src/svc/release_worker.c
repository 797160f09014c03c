/*
 * release_worker: closes due requests, runs their release jobs and cancels abandoned drafts
 * (coh_svc_drafts_sweep in requests.c, refunding any escrow they hold). A job is a row claimed with
 * FOR UPDATE SKIP LOCKED under a lease, so several cohortd share the work and a job whose worker
 * died is taken over when its lease ends. Each step is idempotent:
 *   1. compute the release unless one is stored; store it with its members and the spent
 *      epsilon in ONE transaction (a crash before the commit leaves nothing; after it, a retry
 *      never recomputes the noise);
 *   2. pay the members and refund the rest: ledger postings keyed by what they pay for;
 *   3. set the request's final status (released or failed), notify, mark the job done, in one
 *      statement: a request shows "released" only once everyone is paid.
 * Plaintext exists only while step 1 runs, in secure memory, and is wiped before storing.
 */
#include "svc/svc.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct coh_svc_release_worker {
    struct coh_svc_release_worker_config cfg;
    coh_worker *thread;
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

/* After this many failures that will not change (not a lost connection or a conflict), a
 * release job gives up: the request fails, the escrow is refunded, everyone is told. */
#define RELEASE_MAX_FAILURES 3
#define HOUSEKEEPING_S 10

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
        if (!COH_NEVER(rows[i] >= n_kept)) /* released rows are kept rows */
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
static int compute_and_store(const struct coh_svc_release_worker_config *cfg, const char *id,
                             const json_t *rq, int give_up, coh_err *err)
{
    const json_t *privacy = json_object_get(rq, "privacy");
    long max = (long)json_integer_value(json_object_get(rq, "max"));
    long min = (long)json_integer_value(json_object_get(rq, "min"));
    const char *wrapped = json_string_value(json_object_get(rq, "wrapped"));
    uint8_t pk[32];
    if (coh_hex_decode_exact(pk, 32, json_string_value(json_object_get(rq, "public_key"))) != 0)
        return coh_err_set(err, COH_ERR_DB, "request %s has a malformed public key", id);
    PGresult *contribs = coh_db_release_contributions(cfg->db, id, max, err);
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
        const struct coh_db_release_row row = {
            .mode = mode,
            .content_type = json_string_value(json_object_get(release, "content_type")),
            .content = json_string_value(json_object_get(release, "content")),
            .report = report,
            .members = members,
            .released = released,
            .epsilon = eps,
        };
        if (!members || !report)
            rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        else
            rc = coh_db_release_store(cfg->db, id, &row, err);
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
static int pay_and_finish(const struct coh_svc_release_worker_config *cfg, const char *id,
                          const json_t *rq, coh_err *err)
{
    json_t *members = coh_db_release_payees(cfg->db, id, err);
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
        rc = coh_svc_rewards_wave1(cfg->db, cfg->ledger_key, id, reward, addrs, n, err);
    else if (!rc && n)
        rc = coh_svc_rewards(cfg->db, cfg->ledger_key, id, reward, addrs + n, counts, np, err);
    if (!rc)
        coh_crash_point("rewarded");
    if (!rc)
        rc = coh_svc_refund(cfg->db, cfg->ledger_key, id, owner, reward, (uint32_t)(max - (long)n),
                            err);
    if (!rc)
        coh_crash_point("refunded");
    free(addrs);
    free(counts);
    json_decref(members);
    if (rc)
        return rc;
    return coh_db_release_finish(cfg->db, id, err);
}

static int run_job(const struct coh_svc_release_worker_config *cfg, const char *id, int failures,
                   coh_err *err)
{
    json_t *rq = coh_db_release_request(cfg->db, id, err);
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
 * Requests whose keys this process caches and another process shredded: forgotten here too,
 * so no unwrapped key outlives its request anywhere for longer than a worker step.
 */
static void forget_shredded(const struct coh_svc_release_worker_config *cfg)
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
    coh_err e;
    PGresult *r = coh_db_requests_shredded_among(cfg->db, list, &e);
    for (int i = 0; r && i < PQntuples(r); i++)
        coh_market_intake_forget(PQgetvalue(r, i, 0));
    PQclear(r); /* on failure: the next step asks again */
}

/* Sweeps abandoned drafts, schedules due requests, shreds keys past retention, claims one job. */
int coh_svc_release_worker_step(const struct coh_svc_release_worker_config *cfg, coh_err *err)
{
    /* Housekeeping, at most every HOUSEKEEPING_S per process: abandoned drafts, and wave-1
     * payable balances into the pool (an upgraded ledger; nothing to do after). */
    static _Atomic long long last;
    long long now = (long long)time(NULL), prev = atomic_load(&last);
    if (now - prev >= HOUSEKEEPING_S && atomic_compare_exchange_strong(&last, &prev, now)) {
        coh_err e0 = {0};
        if ((coh_svc_drafts_sweep(cfg->db, cfg->ledger_key, &e0) ||
             coh_svc_pool_wave1(cfg->db, cfg->ledger_key, &e0)) &&
            e0.code != COH_ERR_UNAVAILABLE)
            coh_log_warn("housekeeping: %s", e0.msg); /* retried next time */
    }
    int rc = coh_db_requests_schedule_due(cfg->db, err);
    /* Crypto-shredding: past retention the key goes, and with it every ciphertext; this
     * process's cache of unwrapped keys forgets it too. */
    PGresult *r = rc ? NULL : coh_db_requests_shred_due(cfg->db, err);
    for (int i = 0; r && i < PQntuples(r); i++)
        coh_market_intake_forget(PQgetvalue(r, i, 0));
    if (!r)
        return err->code;
    PQclear(r);
    char id[COH_HASH_HEX_SIZE];
    int failures = 0;
    rc = coh_db_release_job_claim(id, &failures, cfg->db, cfg->lease_s, err);
    forget_shredded(cfg);
    if (rc <= 0)
        return rc;
    rc = run_job(cfg, id, failures, err);
    if (rc) {
        coh_log_error("release job %s failed: %s", id, err->msg);
        coh_err e2;
        /* Retried at the next poll (a conflict recomputes; a failure counts toward giving up),
         * not after the lease, which is for workers that died. */
        if (coh_db_release_job_failed(cfg->db, id, err->msg, !transient(rc), &e2) != 0)
            coh_log_warn("release job %s: cannot record the failure: %s", id, e2.msg);
        return rc;
    }
    coh_log_info("release job %s done", id);
    return 1;
}

static int release_step(void *arg)
{
    const coh_svc_release_worker *w = arg;
    coh_err err = {0};
    int rc = coh_svc_release_worker_step(&w->cfg, &err);
    if (rc < 0 && rc != COH_ERR_UNAVAILABLE)
        coh_log_warn("release worker: %s", err.msg);
    return rc == 1; /* a job ran: there may be more */
}

int coh_svc_release_worker_start(coh_svc_release_worker **out,
                                 const struct coh_svc_release_worker_config *cfg, coh_err *err)
{
    *out = NULL;
    coh_svc_release_worker *w = calloc(1, sizeof *w);
    if (!w)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    w->cfg = *cfg;
    int rc = coh_worker_start(&w->thread, cfg->interval_ms, release_step, w, err);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void coh_svc_release_worker_stop(coh_svc_release_worker *w)
{
    if (!w)
        return;
    coh_worker_stop(w->thread);
    free(w);
}
