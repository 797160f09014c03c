/*
 * market: SQL of the marketplace's API. Every state change checks the request's status in
 * the same statement (compare-and-set), so concurrent closes, consents and contributions
 * cannot slip past a closing request.
 */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "0x…" to the bare hex decode() wants. */
static const char *bare(const char *hex)
{
    return hex && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X') ? hex + 2 : hex;
}

static int exec_count(coh_db_pool *p, const char *sql, int n, const char *const *params,
                      long *count, coh_err *err)
{
    PGresult *r = coh_db_query(p, sql, n, params, err);
    if (!r)
        return err->code;
    *count = PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : atol(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

int coh_db_request_insert(coh_db_pool *p, const char *id, const char *owner, const char *spec_json,
                          const char *fields_hash_hex, long long consent_expiry,
                          const char *public_key_hex, const char *wrapped_secret_hex, coh_err *err)
{
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", consent_expiry);
    const char *params[] = {
        bare(id), owner, bare(fields_hash_hex), exp, bare(public_key_hex), bare(wrapped_secret_hex),
        spec_json};
    long n = 0;
    return exec_count(
        p,
        "INSERT INTO requests (id, owner, title, description, purpose, schema, fields_hash, "
        "eligibility, privacy, epsilon, reward, min_contributors, max_contributors, closes_at, "
        "retention_days, consent_expiry, public_key, secret_key_wrapped, enrollment) "
        "SELECT decode($1, 'hex'), $2, s->>'title', s->>'description', s->>'purpose', "
        "s->'schema', decode($3, 'hex'), s->'eligibility', s->'privacy', "
        "(s->>'epsilon')::numeric, (s->>'reward')::numeric, (s->>'min_contributors')::int, "
        "(s->>'max_contributors')::int, (s->>'closes_at')::timestamptz, "
        "(s->>'retention_days')::int, $4::bigint, decode($5, 'hex'), decode($6, 'hex'), "
        "s->'enrollment' "
        "FROM (SELECT $7::jsonb AS s) x",
        7, params, &n, err);
}

int coh_db_request_transition(coh_db_pool *p, const char *id, const char *from, const char *to,
                              coh_err *err)
{
    const char *params[] = {bare(id), from, to};
    long n = 0;
    int rc = exec_count(p,
                        "UPDATE requests SET status = $3, closed_at = CASE WHEN $3 IN ('closing', "
                        "'cancelled') THEN now() ELSE closed_at END WHERE id = decode($1, 'hex') "
                        "AND status = $2",
                        3, params, &n, err);
    if (!rc && n != 1)
        rc = coh_err_set(err, COH_ERR_CONFLICT, "the request is no longer %s", from);
    return rc;
}

json_t *coh_db_request_get(coh_db_pool *p, const char *id, const char *viewer, coh_err *err)
{
    const char *params[] = {bare(id), viewer ? viewer : ""};
    json_t *v = coh_db_json(p,
                            "SELECT request_json(r, $2) FROM requests r WHERE r.id = "
                            "decode($1, 'hex') AND r.status <> 'draft'",
                            2, params, err);
    if (!v && err->code == COH_ERR_NOTFOUND)
        coh_err_set(err, COH_ERR_NOTFOUND, "no request %s", id);
    return v;
}

json_t *coh_db_request_get_for_intake(coh_db_pool *p, const char *id, coh_err *err)
{
    const char *params[] = {bare(id)};
    /* Only what the intake needs, written out: request_json is a SQL function whose body
     * PostgreSQL parses again on every call, which dominates this hot path. */
    json_t *v = coh_db_json(p,
                            "SELECT json_build_object('owner', owner, 'status', status, "
                            "'public_key', '0x' || encode(public_key, 'hex'), 'schema', schema, "
                            "'secret_key_wrapped', encode(secret_key_wrapped, 'hex'), "
                            "'enrollment', enrollment)::text "
                            "FROM requests WHERE id = decode($1, 'hex') AND status <> 'draft'",
                            1, params, err);
    if (!v && err->code == COH_ERR_NOTFOUND)
        coh_err_set(err, COH_ERR_NOTFOUND, "no request %s", id);
    return v;
}

json_t *coh_db_requests_list(coh_db_pool *p, const char *status, const char *purpose,
                             const char *owner, const char *before, long long before_us,
                             const char *before_id, int limit, const char *viewer, coh_err *err)
{
    char lim[12], us[24];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(us, sizeof us, "%lld", before_us);
    const char *params[] = {status ? status : "",
                            purpose ? purpose : "",
                            owner ? owner : "",
                            before ? before : "",
                            lim,
                            viewer ? viewer : "",
                            before_us >= 0 && before_id ? us : NULL,
                            before_us >= 0 && before_id ? bare(before_id) : NULL};
    /* The cursor is (created_at, id) to the microsecond: requests made in the same second as a
     * page's last one are on the next page, not skipped. */
    return coh_db_json(
        p,
        "WITH page AS (SELECT * FROM requests r WHERE r.status <> 'draft' "
        "AND ($1 = '' OR r.status = $1) AND ($2 = '' OR r.purpose = $2) "
        "AND ($3 = '' OR r.owner = $3) AND ($4 = '' OR r.created_at < $4::timestamptz) "
        "AND ($7::bigint IS NULL OR (r.created_at, r.id) < (timestamptz 'epoch' + $7::bigint * "
        "interval '1 microsecond', decode($8, 'hex'))) "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT $5::int) "
        "SELECT json_build_object('requests', (SELECT coalesce(json_agg(request_json(r, $6) "
        "ORDER BY r.created_at DESC, r.id DESC), '[]') FROM (SELECT * FROM page) r), 'next', "
        "(SELECT json_build_object('before_us', (extract(epoch FROM l.created_at) * "
        "1000000)::bigint, 'before_id', '0x' || encode(l.id, 'hex')) FROM page l WHERE (SELECT "
        "count(*) FROM page) = $5::int ORDER BY l.created_at, l.id LIMIT 1))",
        8, params, err);
}

/*
 * The inbox's matching, in SQL, before the LIMIT: the rules of src/market/match.c
 * (coh_market_match) and of the operator's floors (coh_market_within_operator_floors) over the
 * request's columns and the viewer's profile, so a page holds the newest matching requests and
 * no number of non-matching ones can push a match off it. The SQL may admit a little more than
 * the C rules (JSON values of the wrong type, delta compared with a margin of 0.000001 where C
 * rounds a double to 6 places), never less; svc/contribute.c applies the C rules to every row.
 * The profile arrives as one JSON parameter ($2) and the statements are planned for its values
 * (unprepared), so every profile expression is a constant. $12 is the profile's tokens for
 * the indexed column match_tokens (sql/037_inbox_index.sql).
 */
#define INBOX_MATCH                                                                              \
    /* the cursor: strictly after the last row of the previous page */                          \
    "AND ($9::bigint IS NULL OR (r.created_at, r.id) < (timestamptz 'epoch' + $9::bigint * "    \
    "interval '1 microsecond', decode($10, 'hex'))) "                                            \
    /* indexed: reward, and purpose, attributes and reward (a superset of the rules below) */   \
    "AND r.reward >= coalesce(($2::jsonb ->> 'min_reward')::numeric, 0) "                        \
    "AND r.match_tokens && $12::text[] "                                                         \
    /* purpose accepted */                                                                       \
    "AND ($2::jsonb -> 'purposes') ? r.purpose "                                                 \
    /* epsilon within what is left of the lifetime epsilon */                                    \
    "AND (r.epsilon = 0 OR r.epsilon + ($2::jsonb ->> 'epsilon_spent')::numeric <= "             \
    "($2::jsonb ->> 'lifetime_epsilon')::numeric) "                                              \
    /* the contributor's own floors */                                                           \
    "AND CASE WHEN r.privacy ->> 'mode' = 'dp' THEN ($2::jsonb ->> 'max_epsilon') IS NULL OR "   \
    "r.epsilon <= ($2::jsonb ->> 'max_epsilon')::numeric ELSE ($2::jsonb -> 'statistics_only') " \
    "IS DISTINCT FROM 'true'::jsonb AND (($2::jsonb ->> 'min_k') IS NULL OR CASE WHEN "          \
    "jsonb_typeof(r.privacy -> 'k') = 'number' THEN (r.privacy ->> 'k')::numeric END >= "        \
    "($2::jsonb ->> 'min_k')::numeric) END "                                                     \
    /* eligibility: each attribute named is one of the profile's, each category one it has */   \
    "AND (jsonb_typeof(r.eligibility) <> 'object' OR ("                                          \
    "(NOT r.eligibility ? 'age_band' OR ($2::jsonb -> 'attributes') ? 'age_band' AND "           \
    "r.eligibility -> 'age_band' @> jsonb_build_array($2::jsonb -> 'attributes' -> "             \
    "'age_band')) "                                                                              \
    "AND (NOT r.eligibility ? 'country' OR ($2::jsonb -> 'attributes') ? 'country' AND "         \
    "r.eligibility -> 'country' @> jsonb_build_array($2::jsonb -> 'attributes' -> "              \
    "'country')) "                                                                               \
    "AND (NOT r.eligibility ? 'sex' OR ($2::jsonb -> 'attributes') ? 'sex' AND "                 \
    "r.eligibility -> 'sex' @> jsonb_build_array($2::jsonb -> 'attributes' -> 'sex')) "          \
    "AND (NOT r.eligibility ? 'categories' OR jsonb_typeof(r.eligibility -> 'categories') <> "   \
    "'array' OR r.eligibility -> 'categories' <@ coalesce($2::jsonb -> 'categories', "           \
    "'[]'::jsonb)))) "                                                                           \
    /* the operator's floors, unless the viewer already took part (to revoke) */                \
    "AND (c.contributor IS NOT NULL AND c.revoked_at IS NULL OR EXISTS (SELECT 1 FROM "          \
    "contributions x WHERE x.request_id = r.id AND x.contributor = $1) OR CASE WHEN "            \
    "r.privacy ->> 'mode' = 'dp' THEN r.epsilon * $5::numeric <= $4::numeric AND (CASE WHEN "    \
    "jsonb_typeof(r.privacy -> 'delta') = 'number' THEN (r.privacy ->> 'delta')::numeric "       \
    "ELSE 0 END) * $7::numeric <= $6::numeric + $7::numeric * 0.000001 AND "                     \
    "r.max_contributors >= $8::int ELSE CASE WHEN jsonb_typeof(r.privacy -> 'k') = 'number' "    \
    "THEN (r.privacy ->> 'k')::numeric END >= $3::int END) "

/* The matching rows of relation FROM (aliased r), newest first, at most $11. */
#define INBOX_ROWS(FROM)                                                                         \
    "SELECT r.id, r.created_at, (extract(epoch FROM r.created_at) * 1000000)::bigint AS "        \
    "created_us, CASE WHEN c.contributor IS NULL THEN 'none' WHEN c.revoked_at IS NOT NULL "     \
    "THEN 'revoked' ELSE 'given' END AS consent, EXISTS (SELECT 1 FROM contributions x WHERE "   \
    "x.request_id = r.id AND x.contributor = $1) AS contributed FROM " FROM " r LEFT JOIN "      \
    "consents c ON c.request_id = r.id AND c.contributor = $1 WHERE r.status = 'open' AND "      \
    "r.owner <> $1 " INBOX_MATCH "ORDER BY r.created_at DESC, r.id DESC LIMIT $11::int"

#define INBOX_JSON                                                                               \
    "SELECT coalesce(json_agg(json_build_object('request', request_json(r, $1), 'consent', "    \
    "m.consent, 'contributed', m.contributed, 'created_us', m.created_us) ORDER BY "             \
    "m.created_at DESC, m.id DESC), '[]') FROM m JOIN requests r ON r.id = m.id"

/* First the newest $13 open requests after the cursor, in order (requests_inbox): when they
 * hold a page of matches, or are all there is, that is the answer. */
static const char INBOX_WINDOW_SQL[] =
    "WITH w AS MATERIALIZED (SELECT * FROM requests r WHERE r.status = 'open' AND ($9::bigint "
    "IS NULL OR (r.created_at, r.id) < (timestamptz 'epoch' + $9::bigint * interval "
    "'1 microsecond', decode($10, 'hex'))) ORDER BY r.created_at DESC, r.id DESC LIMIT "
    "$13::int), m AS (" INBOX_ROWS("w") ") SELECT json_build_object('scanned', (SELECT count(*) "
    "FROM w), 'rows', (" INBOX_JSON "))::text";

/* Else the matches are few among many: their candidates come from the indexes of reward and of
 * the tokens (bitmaps, not the ordered scan), then are sorted. */
static const char INBOX_SPARSE_SQL[] =
    "WITH m AS (" INBOX_ROWS("requests") ") SELECT json_build_object('rows', (" INBOX_JSON
    "))::text";

#define INBOX_WINDOW 500

/* The strings of a JSON array, or {"*"} and the string value of one (a profile attribute). */
static size_t strings_of(const char **out, size_t cap, const json_t *a)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && n < cap)
            out[n++] = json_string_value(v);
    }
    return n;
}

/*
 * The profile's tokens for match_tokens (sql/037_inbox_index.sql): each accepted purpose x
 * {'*', its value} for age_band, country and sex x its min_reward's bucket (digits in threes);
 * a text[] literal, malloc'd, NULL on OOM.
 */
static char *inbox_tokens(const json_t *profile)
{
    const json_t *attrs = json_object_get(profile, "attributes");
    static const char *const keys[] = {"age_band", "country", "sex"};
    const char *vals[3][2];
    size_t nv[3];
    for (int k = 0; k < 3; k++) {
        vals[k][0] = "*";
        const char *mine = json_string_value(json_object_get(attrs, keys[k]));
        nv[k] = mine ? 2 : 1;
        vals[k][1] = mine;
    }
    const char *purposes[256];
    size_t np = strings_of(purposes, 256, json_object_get(profile, "purposes"));
    const char *min = json_string_value(json_object_get(profile, "min_reward"));
    size_t bucket = ((min && strcmp(min, "0") != 0 ? strlen(min) : 1) + 2) / 3;
    size_t n = np * nv[0] * nv[1] * nv[2], k = 0;
    if (n == 0)
        return strdup("{}");
    char **strs = calloc(n, sizeof *strs);
    int ok = strs != NULL;
    for (size_t p = 0; ok && p < np; p++)
        for (size_t a = 0; a < nv[0]; a++)
            for (size_t c = 0; c < nv[1]; c++)
                for (size_t s = 0; ok && s < nv[2]; s++) {
                    size_t len = strlen(purposes[p]) + strlen(vals[0][a]) + strlen(vals[1][c]) +
                                 strlen(vals[2][s]) + 8;
                    if ((strs[k] = malloc(len)) == NULL)
                        ok = 0;
                    else
                        snprintf(strs[k++], len, "%s|%s|%s|%s|%zu", purposes[p], vals[0][a],
                                 vals[1][c], vals[2][s], bucket);
                }
    char *out = ok ? coh_db_text_array((const char *const *)strs, k) : NULL;
    for (size_t i = 0; strs && i < k; i++)
        free(strs[i]);
    free(strs);
    return out;
}

/* Runs one of the statements; its JSON object, or NULL with err set. */
static json_t *inbox_run(coh_db_conn *c, const char *sql, int n, const char *const *params,
                         coh_err *err)
{
    PGresult *r = coh_db_exec_unprepared(c, sql, n, params, err);
    if (!r)
        return NULL;
    json_error_t je;
    json_t *v = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, &je) : NULL;
    PQclear(r);
    if (!json_is_array(json_object_get(v, "rows"))) {
        json_decref(v);
        coh_err_set(err, COH_ERR_DB, "the inbox query returned no JSON array");
        return NULL;
    }
    return v;
}

json_t *coh_db_inbox(coh_db_pool *p, const char *viewer, const json_t *profile,
                     const struct coh_db_inbox_query *q, coh_err *err)
{
    char *tok = inbox_tokens(profile);
    char *prof = json_dumps(profile, JSON_COMPACT);
    json_t *v = NULL, *res = NULL;
    coh_db_conn *c = NULL;
    if (!prof || !tok) {
        coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        goto out;
    }
    char num[8][24], us[24];
    unsigned long long ints[] = {q->min_k,     q->eps_num,   q->eps_den,
                                 q->delta_num, q->delta_den, q->min_dp_contributors};
    for (int i = 0; i < 6; i++)
        snprintf(num[i], sizeof num[i], "%llu", ints[i]);
    snprintf(num[6], sizeof num[6], "%d", q->limit);
    int window = q->window > 0 ? q->window : INBOX_WINDOW;
    snprintf(num[7], sizeof num[7], "%d", window);
    snprintf(us, sizeof us, "%lld", q->before_us);
    const char *params[] = {viewer, prof, num[0], num[1], num[2], num[3], num[4], num[5],
                            q->before_id ? us : NULL, q->before_id ? bare(q->before_id) : NULL,
                            num[6], tok, num[7]};
    if (!(c = coh_db_acquire(p, 2000, err)))
        goto out;
    res = inbox_run(c, INBOX_WINDOW_SQL, 13, params, err);
    if (!res)
        goto out;
    if (json_array_size(json_object_get(res, "rows")) >= (size_t)q->limit ||
        json_integer_value(json_object_get(res, "scanned")) < window) {
        v = json_incref(json_object_get(res, "rows"));
        goto out;
    }
    json_decref(res);
    res = NULL;
    /* A plan from the indexes of the tokens and of reward (bitmaps), never the ordered walk
     * of every open request the window just showed to be mostly others'; in this process
     * alone (parallel workers cost more than they save on a page of matches). */
    if (coh_db_cmd(c, "BEGIN", err) == 0 &&
        coh_db_cmd(c, "SET LOCAL enable_indexscan = off", err) == 0 &&
        coh_db_cmd(c, "SET LOCAL enable_seqscan = off", err) == 0 &&
        coh_db_cmd(c, "SET LOCAL max_parallel_workers_per_gather = 0", err) == 0 &&
        (res = inbox_run(c, INBOX_SPARSE_SQL, 12, params, err)) != NULL &&
        coh_db_cmd(c, "COMMIT", err) == 0)
        v = json_incref(json_object_get(res, "rows"));
out:
    json_decref(res);
    if (c)
        coh_db_release(c);
    free(prof);
    free(tok);
    return v;
}

int coh_db_request_close(coh_db_pool *p, const char *id, const char *owner, coh_err *err)
{
    const char *params[] = {bare(id), owner};
    long n = 0;
    int rc = exec_count(
        p,
        "WITH c AS (UPDATE requests SET status = 'closing', closed_at = now() WHERE id = "
        "decode($1, 'hex') AND owner = $2 AND status = 'open' RETURNING id), "
        "j AS (INSERT INTO release_jobs (request_id) SELECT id FROM c ON CONFLICT DO NOTHING) "
        "SELECT count(*) FROM c",
        2, params, &n, err);
    if (!rc && n != 1) {
        rc = coh_err_set(err, COH_ERR_CONFLICT, "the request is not open");
        coh_err_reason(err, "request-closed");
    }
    return rc;
}

int coh_db_consent_put(coh_db_pool *p, const char *id, const char *contributor,
                       const char *signature_hex, long long expiry, int version,
                       const char *terms_hash_hex, const char *privacy, const uint8_t code_hash[32],
                       const struct coh_db_attested *att, coh_err *err)
{
    char exp[24], ver[12], code[65], subject[65], uid[65], att_exp[24];
    snprintf(exp, sizeof exp, "%lld", expiry);
    snprintf(ver, sizeof ver, "%d", version);
    if (code_hash)
        coh_hex_encode(code, code_hash, 32, 0);
    if (att) {
        coh_hex_encode(subject, att->subject_hash, 32, 0);
        coh_hex_encode(uid, att->uid, 32, 0);
        snprintf(att_exp, sizeof att_exp, "%llu", (unsigned long long)att->expires);
    }
    const char *params[] = {bare(id),
                            contributor,
                            bare(signature_hex),
                            exp,
                            ver,
                            terms_hash_hex ? bare(terms_hash_hex) : NULL,
                            privacy,
                            code_hash ? code : NULL,
                            att ? subject : NULL,
                            att ? uid : NULL,
                            att ? att->issuer : NULL,
                            att ? att_exp : NULL};
    /*
     * One statement, so a code is redeemed, or a subject bound, only together with the consent
     * it was given with. An invite request (its stored enrollment, not the caller, says so)
     * takes the consent of a wallet whose own redemption is live (consenting again after a
     * revoke), or redeems the given code if nobody has and it is not revoked: the row lock makes
     * a code work once. An attested request takes it when the wallet's bound subject is the one
     * presented, or binds it when neither the wallet nor the subject is bound yet (the primary
     * key makes a subject go to one wallet, also when two race).
     */
    PGresult *r = coh_db_query(
        p,
        "WITH r AS (SELECT id, enrollment->>'mode' = 'invite' AS invite, enrollment->>'mode' = "
        "'attested' AS attested FROM requests WHERE id = decode($1, 'hex') AND status = 'open'), "
        "mine AS (SELECT 1 FROM invite_codes WHERE request_id = (SELECT id FROM r) AND "
        "redeemed_by = $2 AND revoked_at IS NULL AND (SELECT invite FROM r)), "
        "red AS (UPDATE invite_codes SET redeemed_by = $2, redeemed_at = now() WHERE "
        "request_id = (SELECT id FROM r) AND code_hash = decode($8, 'hex') AND redeemed_by IS "
        "NULL AND revoked_at IS NULL AND (SELECT invite FROM r) AND NOT EXISTS (SELECT 1 FROM "
        "mine) RETURNING 1), "
        "s_old AS (SELECT subject_hash FROM attested_subjects WHERE request_id = (SELECT id FROM "
        "r) AND contributor = $2), "
        "s_new AS (INSERT INTO attested_subjects (request_id, subject_hash, contributor, "
        "attestation_uid, issuer, expires_at) SELECT r.id, decode($9, 'hex'), $2, decode($10, "
        "'hex'), $11, CASE WHEN $12::bigint > 0 THEN to_timestamp($12::bigint) END FROM r WHERE "
        "r.attested AND $9 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM s_old) ON CONFLICT "
        "(request_id, subject_hash) DO NOTHING RETURNING 1), "
        "s_ok AS (SELECT 1 WHERE EXISTS (SELECT 1 FROM s_new) OR EXISTS (SELECT 1 FROM s_old "
        "WHERE subject_hash = decode($9, 'hex'))), "
        "s_up AS (UPDATE attested_subjects SET attestation_uid = decode($10, 'hex'), issuer = "
        "$11, expires_at = CASE WHEN $12::bigint > 0 THEN to_timestamp($12::bigint) END WHERE "
        "request_id = (SELECT id FROM r) AND contributor = $2 AND subject_hash = decode($9, "
        "'hex')), "
        "ins AS (INSERT INTO consents (request_id, contributor, signature, expiry, version, "
        "terms_hash, privacy) SELECT r.id, $2, decode($3, 'hex'), $4::bigint, $5::smallint, "
        "decode($6, 'hex'), $7 FROM r WHERE (r.invite IS NOT TRUE OR EXISTS (SELECT 1 FROM mine) "
        "OR EXISTS (SELECT 1 FROM red)) AND (r.attested IS NOT TRUE OR EXISTS (SELECT 1 FROM "
        "s_ok)) ON CONFLICT (request_id, contributor) DO UPDATE SET "
        "signature = excluded.signature, expiry = excluded.expiry, version = excluded.version, "
        "terms_hash = excluded.terms_hash, privacy = excluded.privacy, created_at = now(), "
        "revoked_at = NULL RETURNING 1) "
        "SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM ins), (SELECT attested FROM r), "
        "(SELECT count(*) FROM s_old)",
        12, params, err);
    if (!r && att && err->code == COH_ERR_CONFLICT) {
        /* The one unique constraint left to trip: this wallet binding two subjects at once. */
        coh_err_set(err, COH_ERR_CONFLICT,
                    "this wallet is enrolling in this request with an attestation of another "
                    "subject at the same time; one wallet stands for one person");
        return coh_err_reason(err, "attestation-subject-taken");
    }
    if (!r)
        return err->code;
    int open = atoi(PQgetvalue(r, 0, 0)) == 1, stored = atoi(PQgetvalue(r, 0, 1)) == 1;
    int attested = open && strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    int bound_other = atoi(PQgetvalue(r, 0, 3)) > 0;
    PQclear(r);
    if (!open) {
        coh_err_set(err, COH_ERR_CONFLICT, "the request is not open for consent");
        return coh_err_reason(err, "request-closed");
    }
    if (stored)
        return 0;
    if (attested && !att) {
        coh_err_set(err, COH_ERR_FORBIDDEN,
                    "this request takes attested contributors only: send an attestation from "
                    "one of its issuers (\"attestation\") with your consent");
        return coh_err_reason(err, "attestation-required");
    }
    if (attested && bound_other) {
        coh_err_set(err, COH_ERR_CONFLICT,
                    "this wallet enrolled in this request with an attestation of another "
                    "subject; one wallet stands for one person");
        return coh_err_reason(err, "attestation-subject-taken");
    }
    if (attested) {
        coh_err_set(err, COH_ERR_CONFLICT,
                    "the person this attestation names has already enrolled in this request "
                    "from another wallet: one contribution per person");
        return coh_err_reason(err, "attestation-subject-taken");
    }
    /* A used, revoked or unknown code answers the same: nobody can probe which codes exist. */
    if (code_hash) {
        coh_err_set(err, COH_ERR_FORBIDDEN,
                    "this invite code is not valid for this request (unknown, already used or "
                    "revoked); ask the researcher for another");
        return coh_err_reason(err, "invite-code-invalid");
    }
    coh_err_set(err, COH_ERR_FORBIDDEN,
                "this request takes contributors by invitation: send the invite code the "
                "researcher gave you (\"code\") with your consent");
    return coh_err_reason(err, "invite-code-required");
}

json_t *coh_db_consent_get(coh_db_pool *p, const char *id, const char *contributor, coh_err *err)
{
    const char *params[] = {bare(id), contributor};
    return coh_db_json(p,
                       "SELECT json_build_object('request_id', '0x' || encode(request_id, 'hex'), "
                       "'contributor', contributor, 'signature', '0x' || encode(signature, "
                       "'hex'), 'expiry', expiry, 'version', version, 'terms_hash', '0x' || "
                       "encode(terms_hash, 'hex'), 'privacy', privacy, 'created_at', "
                       "ts_json(created_at), 'revoked_at', ts_json(revoked_at)) FROM consents "
                       "WHERE request_id = "
                       "decode($1, 'hex') AND contributor = $2",
                       2, params, err);
}

int coh_db_consent_revoke(coh_db_pool *p, const char *id, const char *contributor, coh_err *err)
{
    const char *params[] = {bare(id), contributor};
    long n = 0;
    /* One statement: the contribution goes with the consent, only while the request is open. */
    int rc = exec_count(
        p,
        "WITH r AS (SELECT id FROM requests WHERE id = decode($1, 'hex') AND status = 'open' "
        "FOR UPDATE), d AS (DELETE FROM contributions WHERE request_id = (SELECT id FROM r) AND "
        "contributor = $2 RETURNING 1), k AS (UPDATE requests SET n_contributions = "
        "n_contributions - (SELECT count(*) FROM d) WHERE id = (SELECT id FROM r)), "
        "u AS (UPDATE consents SET revoked_at = now() WHERE request_id = (SELECT id FROM r) AND "
        "contributor = $2 AND revoked_at IS NULL RETURNING 1) SELECT count(*) FROM u",
        2, params, &n, err);
    if (!rc && n != 1)
        rc = coh_err_set(err, COH_ERR_NOTFOUND,
                         "no live consent to revoke (none given, already revoked, or the "
                         "request has closed)");
    return rc;
}

int coh_db_contribution_put(coh_db_pool *p, const char *id, const char *contributor,
                            const uint8_t *ct, size_t ct_len, coh_err *err)
{
    char *hex = malloc(ct_len * 2 + 1);
    if (!hex)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    coh_hex_encode(hex, ct, ct_len, 0);
    const char *params[] = {bare(id), contributor, hex};
    coh_db_conn *c = coh_db_acquire(p, 2000, err);
    if (!c) {
        free(hex);
        return err->code;
    }
    /* Lock the request row: the capacity check, the insert and the count move together. */
    PGresult *r = coh_db_exec(
        c,
        "WITH r AS (SELECT id, max_contributors, n_contributions FROM requests WHERE id = "
        "decode($1, 'hex') AND status = 'open' FOR UPDATE), "
        "k AS (SELECT 1 FROM consents WHERE request_id = (SELECT id FROM r) AND contributor = $2 "
        "AND revoked_at IS NULL), "
        "room AS (SELECT (SELECT n_contributions FROM r) < (SELECT max_contributors FROM r) OR "
        "EXISTS (SELECT 1 FROM contributions WHERE request_id = (SELECT id FROM r) AND "
        "contributor = $2) AS ok), "
        "ins AS (INSERT INTO contributions (request_id, contributor, ciphertext) SELECT (SELECT "
        "id FROM r), $2, decode($3, 'hex') WHERE EXISTS (SELECT 1 FROM k) AND (SELECT ok FROM "
        "room) ON CONFLICT (request_id, contributor) DO UPDATE SET ciphertext = "
        "excluded.ciphertext, submitted_at = now() RETURNING (xmax = 0) AS fresh), "
        "cnt AS (UPDATE requests SET n_contributions = n_contributions + 1 WHERE id = (SELECT id "
        "FROM r) AND EXISTS (SELECT 1 FROM ins WHERE fresh)) "
        "SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM k), (SELECT ok FROM room), "
        "(SELECT count(*) FROM ins), (SELECT count(*) FROM consents WHERE request_id = (SELECT "
        "id FROM r) AND contributor = $2)",
        3, params, err);
    free(hex);
    int rc = 0;
    if (!r) {
        rc = err->code;
    } else if (atoi(PQgetvalue(r, 0, 0)) == 0) {
        rc = coh_err_set(err, COH_ERR_CONFLICT, "the request is not open for contributions");
        coh_err_reason(err, "request-closed");
    } else if (atoi(PQgetvalue(r, 0, 1)) == 0 && atoi(PQgetvalue(r, 0, 4)) > 0) {
        rc = coh_err_set(err, COH_ERR_FORBIDDEN,
                         "your consent to this request is revoked: give it again (POST "
                         "/v1/requests/{id}/consents) to contribute");
        coh_err_reason(err, "consent-revoked");
    } else if (atoi(PQgetvalue(r, 0, 1)) == 0) {
        rc = coh_err_set(err, COH_ERR_FORBIDDEN,
                         "no live consent: POST /v1/requests/{id}/consents first");
        coh_err_reason(err, "consent-missing");
    } else if (atoi(PQgetvalue(r, 0, 3)) != 1) {
        rc = coh_err_set(err, COH_ERR_CONFLICT,
                         "the request already has its maximum of "
                         "contributions");
        coh_err_reason(err, "request-full");
    }
    PQclear(r);
    coh_db_release(c);
    return rc;
}

json_t *coh_db_release_get(coh_db_pool *p, const char *id, const char *owner, coh_err *err)
{
    const char *params[] = {bare(id), owner};
    return coh_db_json(p,
                       "SELECT json_build_object('request_id', '0x' || encode(x.request_id, "
                       "'hex'), 'mode', x.mode, 'content_type', x.content_type, 'content', "
                       "x.content, 'report', x.report, 'included', CASE WHEN x.mode = 'dp' THEN NULL "
                       "ELSE x.included END, 'created_at', "
                       "ts_json(x.created_at)) FROM releases x JOIN requests r ON r.id = "
                       "x.request_id WHERE x.request_id = decode($1, 'hex') AND r.owner = $2",
                       2, params, err);
}

int coh_db_reqkeys_legacy(PGresult **rows, coh_db_pool *p, size_t len, coh_err *err)
{
    char n[24];
    snprintf(n, sizeof n, "%zu", len);
    const char *pp[1] = {n};
    *rows = coh_db_query(p,
                         "SELECT '0x' || encode(id, 'hex'), encode(secret_key_wrapped, 'hex'), "
                         "encode(public_key, 'hex') FROM requests WHERE "
                         "length(secret_key_wrapped) = $1::int",
                         1, pp, err);
    return *rows ? 0 : err->code;
}

int coh_db_reqkey_replace(int *done, coh_db_pool *p, const char *id, const uint8_t *fresh,
                          size_t fresh_len, const uint8_t *old, size_t old_len, coh_err *err)
{
    *done = 0;
    char *fresh_hex = malloc(2 * fresh_len + 1), *old_hex = malloc(2 * old_len + 1);
    if (!fresh_hex || !old_hex) {
        free(fresh_hex);
        free(old_hex);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    coh_hex_encode(fresh_hex, fresh, fresh_len, 0);
    coh_hex_encode(old_hex, old, old_len, 0);
    const char *pp[3] = {id + 2, fresh_hex, old_hex};
    PGresult *r = coh_db_query(p,
                               "UPDATE requests SET secret_key_wrapped = decode($2, 'hex') WHERE "
                               "id = decode($1, 'hex') AND secret_key_wrapped = decode($3, 'hex')",
                               3, pp, err);
    free(fresh_hex);
    free(old_hex);
    if (!r)
        return err->code;
    *done = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    return 0;
}
