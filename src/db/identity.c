/*
 * identity: queries over accounts, auth_nonces, sessions and profiles. Tokens never reach
 * this layer, only their 32-byte hashes, passed as bytea hex.
 */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bytea literal: its \x prefix is as long as "0x". */
static void bytea_hex(char out[COH_HASH_HEX_SIZE], const uint8_t h[32])
{
    out[0] = '\\';
    out[1] = 'x';
    coh_hex_encode(out + 2, h, 32, 0);
}

int coh_db_nonce_insert(coh_db_pool *p, const char *nonce, long ttl_s, coh_err *err)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    const char *params[] = {nonce, ttl};
    /* Expired nonces are swept by whoever issues the next one; the index keeps it cheap. */
    PGresult *r = coh_db_query(p,
                               "WITH sweep AS (DELETE FROM auth_nonces WHERE expires_at < now() - "
                               "interval '1 day') INSERT INTO auth_nonces (nonce, expires_at) "
                               "VALUES ($1, now() + make_interval(secs => $2::int))",
                               2, params, err);
    if (!r)
        return err->code;
    PQclear(r);
    return 0;
}

int coh_db_nonce_consume(coh_db_pool *p, const char *nonce, coh_err *err)
{
    const char *params[] = {nonce};
    PGresult *r =
        coh_db_query(p,
                     "WITH old AS (SELECT used_at, expires_at FROM auth_nonces WHERE nonce = $1), "
                     "upd AS (UPDATE auth_nonces SET used_at = now() WHERE nonce = $1 AND "
                     "used_at IS NULL AND expires_at > now() RETURNING 1) "
                     "SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM old), "
                     "(SELECT used_at IS NOT NULL FROM old)",
                     1, params, err);
    if (!r)
        return err->code;
    int used_now = atoi(PQgetvalue(r, 0, 0)), known = atoi(PQgetvalue(r, 0, 1));
    int was_used = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    PQclear(r);
    if (used_now)
        return 0;
    if (!known)
        return coh_err_set(err, COH_ERR_FORBIDDEN, "nonce was not issued by this server");
    if (was_used)
        return coh_err_set(err, COH_ERR_FORBIDDEN, "nonce has already been used");
    return coh_err_set(err, COH_ERR_FORBIDDEN, "nonce has expired");
}

int coh_db_session_create(struct coh_db_session *out, coh_db_pool *p, const char *address,
                          const uint8_t token_hash[32], long ttl_s, const char *user_agent,
                          coh_err *err)
{
    char hash[COH_HASH_HEX_SIZE], ttl[24], ua[201];
    bytea_hex(hash, token_hash);
    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    snprintf(ua, sizeof ua, "%s", user_agent ? user_agent : "");
    const char *params[] = {address, hash, ttl, ua};
    PGresult *r =
        coh_db_query(p,
                     "WITH a AS (INSERT INTO accounts (address) VALUES ($1) ON CONFLICT DO "
                     "NOTHING), pr AS (INSERT INTO profiles (address) SELECT $1 WHERE NOT EXISTS "
                     "(SELECT 1 FROM profiles WHERE address = $1) ON CONFLICT DO NOTHING) "
                     "SELECT 1",
                     1, params, err);
    if (!r)
        return err->code;
    PQclear(r);
    r = coh_db_query(
        p,
        "INSERT INTO sessions (address, token_hash, expires_at, user_agent) VALUES ($1, "
        "$2::bytea, now() + make_interval(secs => $3::int), nullif($4, '')) RETURNING id, "
        "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        4, params, err);
    if (!r)
        return err->code;
    out->id = atoll(PQgetvalue(r, 0, 0));
    snprintf(out->address, sizeof out->address, "%s", address);
    snprintf(out->expires_at, sizeof out->expires_at, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int coh_db_session_find(struct coh_db_session *out, coh_db_pool *p, const uint8_t token_hash[32],
                        coh_err *err)
{
    char hash[COH_HASH_HEX_SIZE];
    bytea_hex(hash, token_hash);
    const char *params[] = {hash};
    PGresult *r = coh_db_query(p,
                               "SELECT id, address, to_char(expires_at AT TIME ZONE 'UTC', "
                               "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM sessions WHERE token_hash = "
                               "$1::bytea AND revoked_at IS NULL AND expires_at > now()",
                               1, params, err);
    if (!r)
        return err->code;
    int found = PQntuples(r) == 1;
    if (found) {
        out->id = atoll(PQgetvalue(r, 0, 0));
        snprintf(out->address, sizeof out->address, "%s", PQgetvalue(r, 0, 1));
        snprintf(out->expires_at, sizeof out->expires_at, "%s", PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return found ? 0 : coh_err_set(err, COH_ERR_NOTFOUND, "session not found");
}

int coh_db_session_revoke(coh_db_pool *p, long long id, const char *address, coh_err *err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *params[] = {ids, address};
    PGresult *r =
        coh_db_query(p,
                     "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND address = $2 AND "
                     "revoked_at IS NULL",
                     2, params, err);
    if (!r)
        return err->code;
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n == 1 ? 0 : coh_err_set(err, COH_ERR_NOTFOUND, "no active session %lld", id);
}

int coh_db_sessions_revoke_all(coh_db_pool *p, const char *address, long long *n_revoked,
                               coh_err *err)
{
    if (n_revoked)
        *n_revoked = 0;
    const char *params[] = {address};
    PGresult *r = coh_db_query(
        p, "UPDATE sessions SET revoked_at = now() WHERE address = $1 AND revoked_at IS NULL", 1,
        params, err);
    if (!r)
        return err->code;
    if (n_revoked)
        *n_revoked = atoll(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

json_t *coh_db_sessions_list(coh_db_pool *p, const char *address, long long current_id,
                             coh_err *err)
{
    const char *params[] = {address};
    PGresult *r =
        coh_db_query(p,
                     "SELECT id, to_char(created_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(expires_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(user_agent, '') FROM sessions "
                     "WHERE address = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY "
                     "id DESC LIMIT 100",
                     1, params, err);
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; a && i < PQntuples(r); i++) {
        long long id = atoll(PQgetvalue(r, i, 0));
        json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:s,s:b}", "id", (json_int_t)id,
                                           "created_at", PQgetvalue(r, i, 1), "expires_at",
                                           PQgetvalue(r, i, 2), "user_agent", PQgetvalue(r, i, 3),
                                           "current", id == current_id));
    }
    PQclear(r);
    return a;
}

json_t *coh_db_profile_get(coh_db_pool *p, const char *address, coh_err *err)
{
    const char *params[] = {address};
    PGresult *r =
        coh_db_query(p,
                     "SELECT json_build_object('is_researcher', is_researcher, 'is_contributor', "
                     "is_contributor, 'display_name', display_name, 'categories', categories, "
                     "'attributes', attributes, 'purposes', purposes, 'min_reward', "
                     "min_reward::text, 'lifetime_epsilon', lifetime_epsilon::text, "
                     "'epsilon_spent', epsilon_spent::text, 'min_k', min_k, 'max_epsilon', "
                     "max_epsilon::text, 'statistics_only', statistics_only, 'payout_address', "
                     "payout_address, 'updated_at', "
                     "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"
                     "::text FROM profiles WHERE address = $1",
                     1, params, err);
    if (!r)
        return NULL;
    json_t *v = NULL;
    if (PQntuples(r) == 1)
        v = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    else
        coh_err_set(err, COH_ERR_NOTFOUND, "no profile for %s", address);
    PQclear(r);
    return v;
}

static const char *flag(int v)
{
    return v < 0 ? NULL : v ? "t" : "f";
}

int coh_db_profile_put(coh_db_pool *p, const char *address, const struct coh_db_profile_update *u,
                       coh_err *err)
{
    const char *params[] = {address,
                            flag(u->researcher),
                            flag(u->contributor),
                            u->display_name,
                            u->categories_json,
                            u->attributes_json,
                            u->purposes_json,
                            u->min_reward,
                            u->lifetime_epsilon,
                            u->min_k,
                            u->max_epsilon,
                            flag(u->statistics_only),
                            u->payout_address};
    /* One statement, member by member: a NULL parameter keeps the stored value. */
    PGresult *r = coh_db_query(
        p,
        "UPDATE profiles SET is_researcher = coalesce($2::boolean, is_researcher), "
        "is_contributor = coalesce($3::boolean, is_contributor), "
        "display_name = coalesce($4, display_name), "
        "categories = CASE WHEN $5::jsonb IS NULL THEN categories ELSE "
        "ARRAY(SELECT jsonb_array_elements_text($5::jsonb)) END, "
        "attributes = coalesce($6::jsonb, attributes), "
        "purposes = CASE WHEN $7::jsonb IS NULL THEN purposes ELSE "
        "ARRAY(SELECT jsonb_array_elements_text($7::jsonb)) END, "
        "min_reward = coalesce($8::numeric, min_reward), "
        "lifetime_epsilon = coalesce($9::numeric, lifetime_epsilon), "
        "min_k = CASE WHEN $10::text IS NULL THEN min_k ELSE nullif($10, '')::integer END, "
        "max_epsilon = CASE WHEN $11::text IS NULL THEN max_epsilon "
        "ELSE nullif($11, '')::numeric END, "
        "statistics_only = coalesce($12::boolean, statistics_only), "
        "payout_address = CASE WHEN $13::text IS NULL THEN payout_address "
        "ELSE nullif($13, '') END, updated_at = now() "
        "WHERE address = $1",
        13, params, err);
    if (!r)
        return err->code;
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n == 1 ? 0 : coh_err_set(err, COH_ERR_NOTFOUND, "no profile for %s", address);
}
