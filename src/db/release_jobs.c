/*
 * release_jobs (db): the release worker's statements (sql/004_market.sql, 013_*, 020_*): due
 * requests scheduled, keys shredded past retention, a job claimed under a lease with FOR UPDATE
 * SKIP LOCKED (so any number of cohortd share the jobs), what a release reads and stores, its
 * final status and notices, abandoned drafts. The flow that runs them is src/svc/release_worker.c.
 */
#include "db/db.h"
#include "ledger/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *coh_db_release_request(coh_db_pool *p, const char *id, coh_err *err)
{
    const char *pp[] = {id + 2};
    return coh_db_json(
        p,
        "SELECT json_build_object('owner', owner, 'reward', reward::text, 'min', "
        "min_contributors, 'max', max_contributors, 'schema', schema, 'privacy', privacy, "
        "'epsilon', epsilon::text, 'wrapped', encode(secret_key_wrapped, 'hex'), 'public_key', "
        "encode(public_key, 'hex'), 'released', EXISTS (SELECT 1 FROM releases x WHERE "
        "x.request_id = r.id)) FROM requests r WHERE id = decode($1, 'hex')",
        1, pp, err);
}

PGresult *coh_db_release_contributions(coh_db_pool *p, const char *id, long max, coh_err *err)
{
    char maxs[24];
    snprintf(maxs, sizeof maxs, "%ld", max);
    const char *pp[] = {id + 2, maxs};
    return coh_db_query(
        p,
        "SELECT c.contributor, encode(c.ciphertext, 'hex'), (p.lifetime_epsilon - "
        "p.epsilon_spent)::text FROM contributions c JOIN consents k ON k.request_id = "
        "c.request_id AND k.contributor = c.contributor AND k.revoked_at IS NULL JOIN profiles p "
        "ON p.address = c.contributor JOIN requests r ON r.id = c.request_id WHERE "
        "c.request_id = decode($1, 'hex') AND (r.epsilon = 0 OR p.lifetime_epsilon - "
        "p.epsilon_spent >= r.epsilon) ORDER BY c.submitted_at, c.contributor LIMIT $2::int",
        2, pp, err);
}

/*
 * One statement: the release, its members (every contributor whose record was accepted: all
 * are paid, released[] says whose row is in the release) and the charge of their lifetime
 * epsilon. The charge locks each profile row; profiles_epsilon_within_lifetime refuses a
 * charge that a concurrent release has made unaffordable, and the whole statement rolls back
 * (a conflict: the job is recomputed without that contributor).
 */
int coh_db_release_store(coh_db_pool *p, const char *id, const struct coh_db_release_row *row,
                         coh_err *err)
{
    const char *pp[] = {id + 2,      row->mode,    row->content_type, row->content,
                        row->report, row->members, row->epsilon,      row->released};
    return coh_db_run(
        p,
        "WITH x AS (INSERT INTO releases (request_id, mode, content_type, content, report, "
        "included) VALUES (decode($1, 'hex'), $2, $3, $4, $5::jsonb, "
        "cardinality(array_remove($8::boolean[], false))) ON CONFLICT DO NOTHING RETURNING "
        "request_id), "
        "m AS (INSERT INTO release_members (request_id, contributor, released, payee) SELECT "
        "x.request_id, u.a, u.r, coalesce(p.payout_address, u.a) FROM x CROSS JOIN "
        "unnest($6::text[], $8::boolean[]) AS u(a, r) LEFT JOIN profiles p ON p.address = u.a), "
        "e AS (UPDATE profiles SET epsilon_spent = epsilon_spent + $7::numeric WHERE $7::numeric "
        "> 0 AND address = ANY ($6::text[]) AND EXISTS (SELECT 1 FROM x)) "
        "SELECT count(*) FROM x",
        8, pp, err);
}

json_t *coh_db_release_payees(coh_db_pool *p, const char *id, coh_err *err)
{
    /* Wave 1's keys are "reward:<request>:<contributor>": match them by that prefix. */
    char wave1[COH_LEDGER_STR_MAX + 1];
    if (coh_ledger_idem_reward_wave1(wave1, sizeof wave1, id, "", err))
        return NULL;
    const char *pp[] = {id + 2, wave1};
    return coh_db_json(
        p,
        "SELECT json_build_object('members', (SELECT coalesce(json_agg(contributor ORDER BY "
        "contributor), '[]') FROM release_members WHERE request_id = decode($1, 'hex')), "
        "'payees', (SELECT coalesce(json_agg(json_build_array(p, n) ORDER BY p), '[]') FROM "
        "(SELECT coalesce(payee, contributor) AS p, count(*) AS n FROM release_members WHERE "
        "request_id = decode($1, 'hex') GROUP BY 1) g), 'wave1', EXISTS (SELECT 1 FROM "
        "ledger_entries WHERE idempotency_key LIKE $2::text || '%'))",
        2, pp, err);
}

int coh_db_release_finish(coh_db_pool *p, const char *id, coh_err *err)
{
    const char *pp[] = {id + 2};
    return coh_db_run(
        p,
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
        1, pp, err);
}

PGresult *coh_db_drafts_abandon(coh_db_pool *p, long older_than_s, coh_err *err)
{
    char secs[24];
    snprintf(secs, sizeof secs, "%ld", older_than_s);
    const char *pp[] = {secs};
    /* The escrow and refund keys of a request, "<kind>:" then its id (built here, in SQL). */
    char escrow_key[32], refund_key[32];
    if (coh_ledger_idem_request(escrow_key, sizeof escrow_key, COH_LEDGER_ESCROW, "", err) ||
        coh_ledger_idem_request(refund_key, sizeof refund_key, COH_LEDGER_REFUND, "", err))
        return NULL;
    const char *pk[] = {escrow_key, refund_key};
    if (coh_db_run(p,
                   "UPDATE requests SET status = 'cancelled', closed_at = now() WHERE status = "
                   "'draft' AND created_at < now() - make_interval(secs => $1::int)",
                   1, pp, err) != 0)
        return NULL;
    return coh_db_query(p,
                        "SELECT '0x' || encode(r.id, 'hex'), r.owner, r.reward::text, "
                        "r.max_contributors FROM requests r WHERE r.status = 'cancelled' AND "
                        "EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = "
                        "$1::text || '0x' || encode(r.id, 'hex')) AND NOT EXISTS (SELECT 1 FROM "
                        "ledger_entries e WHERE e.idempotency_key = $2::text || '0x' || "
                        "encode(r.id, 'hex')) LIMIT 100",
                        2, pk, err);
}

PGresult *coh_db_requests_shredded_among(coh_db_pool *p, const char *ids_array, coh_err *err)
{
    const char *pp[1] = {ids_array};
    return coh_db_query(p,
                        "SELECT '0x' || encode(id, 'hex') FROM requests WHERE id = ANY (SELECT "
                        "decode(substr(x, 3), 'hex') FROM unnest($1::text[]) x) AND "
                        "secret_key_wrapped IS NULL",
                        1, pp, err);
}

int coh_db_requests_schedule_due(coh_db_pool *p, coh_err *err)
{
    return coh_db_run(
        p,
        "WITH due AS (UPDATE requests r SET status = 'closing', closed_at = now() WHERE status "
        "= 'open' AND (closes_at <= now() OR n_contributions >= max_contributors) RETURNING id) "
        "INSERT INTO release_jobs (request_id) SELECT id FROM due ON CONFLICT DO NOTHING",
        0, NULL, err);
}

PGresult *coh_db_requests_shred_due(coh_db_pool *p, coh_err *err)
{
    return coh_db_query(p,
                        "WITH s AS (UPDATE requests SET secret_key_wrapped = NULL, shredded_at = "
                        "now() WHERE secret_key_wrapped IS NOT NULL AND status IN ('released', "
                        "'failed', 'cancelled') AND closed_at + make_interval(days => "
                        "retention_days) <= now() RETURNING id), d AS (DELETE FROM contributions "
                        "WHERE request_id IN (SELECT id FROM s)) SELECT '0x' || encode(id, 'hex') "
                        "FROM s",
                        0, NULL, err);
}

int coh_db_release_job_claim(char id[COH_HASH_HEX_SIZE], int *failures, coh_db_pool *p, int lease_s,
                             coh_err *err)
{
    char lease[16];
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *pp[] = {lease};
    PGresult *r = coh_db_query(
        p,
        "UPDATE release_jobs SET state = 'running', attempts = attempts + 1, lease_until = now() "
        "+ make_interval(secs => $1::int) WHERE request_id = (SELECT request_id FROM "
        "release_jobs WHERE state = 'pending' OR (state = 'running' AND lease_until < now()) "
        "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING '0x' || "
        "encode(request_id, 'hex'), failures",
        1, pp, err);
    if (!r)
        return err->code;
    int found = PQntuples(r) == 1;
    if (found) {
        snprintf(id, COH_HASH_HEX_SIZE, "%s", PQgetvalue(r, 0, 0));
        *failures = atoi(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return found;
}

int coh_db_release_job_failed(coh_db_pool *p, const char *id, const char *reason, int counts,
                              coh_err *err)
{
    const char *pp[] = {id + 2, reason, counts ? "1" : "0"};
    return coh_db_run(p,
                      "UPDATE release_jobs SET last_error = $2, failures = failures + $3::int, "
                      "state = 'pending' WHERE request_id = decode($1, 'hex')",
                      3, pp, err);
}
