/*
 * enrollment: SQL of invite codes (sql/036_enrollment.sql), attested subjects and issuers'
 * revocation lists (sql/038_attested.sql). Codes are stored as SHA-256 hashes
 * only; a code is redeemed with the consent, in the consent's statement (market.c,
 * coh_db_consent_put). Nothing here returns who redeemed a code: the researcher's views are
 * counts (request_json), and a contributor learns only whether their own redemption is live.
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

/* A PostgreSQL text array literal of the hashes in hex: {"ab…","cd…"}; malloc'd or NULL. */
static char *hex_array(const uint8_t (*hashes)[32], size_t n)
{
    char *s = malloc(n * 67 + 3), *o = s;
    if (!s)
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        coh_hex_encode(o, hashes[i], 32, 0);
        o += 64;
    }
    *o++ = '}';
    *o = '\0';
    return s;
}

int coh_db_invite_codes_insert(coh_db_pool *p, const char *id, const uint8_t (*hashes)[32],
                               size_t n, coh_err *err)
{
    char *arr = hex_array(hashes, n);
    if (!arr)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    const char *params[] = {bare(id), arr};
    int rc = coh_db_run(p,
                        "INSERT INTO invite_codes (request_id, code_hash) SELECT decode($1, "
                        "'hex'), decode(h, 'hex') FROM unnest($2::text[]) h",
                        2, params, err);
    free(arr);
    return rc;
}

int coh_db_invite_live(int *live, coh_db_pool *p, const char *id, const char *contributor,
                       coh_err *err)
{
    *live = 0;
    const char *params[] = {bare(id), contributor};
    PGresult *r = coh_db_query(p,
                               "SELECT 1 FROM invite_codes WHERE request_id = decode($1, 'hex') "
                               "AND redeemed_by = $2 AND revoked_at IS NULL",
                               2, params, err);
    if (!r)
        return err->code;
    *live = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int coh_db_attested_live(int *live, coh_db_pool *p, const char *id, const char *contributor,
                         coh_err *err)
{
    *live = 0;
    const char *params[] = {bare(id), contributor};
    PGresult *r = coh_db_query(p,
                               "SELECT 1 FROM attested_subjects s WHERE request_id = decode($1, "
                               "'hex') AND contributor = $2 AND (expires_at IS NULL OR expires_at "
                               "> now()) AND NOT EXISTS (SELECT 1 FROM attestation_revocations v "
                               "WHERE v.issuer = s.issuer AND v.uid = s.attestation_uid)",
                               2, params, err);
    if (!r)
        return err->code;
    *live = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int coh_db_attestation_revocations_put(int *listed, long *added, coh_db_pool *p,
                                       const char *issuer, const uint8_t (*uids)[32], size_t n,
                                       uint64_t signed_at, coh_err *err)
{
    *listed = 0;
    *added = 0;
    char *arr = hex_array(uids, n), at[24];
    if (!arr)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    snprintf(at, sizeof at, "%llu", (unsigned long long)signed_at);
    const char *params[] = {issuer, arr, at};
    PGresult *r = coh_db_query(
        p,
        "WITH ok AS (SELECT 1 FROM requests WHERE enrollment->>'mode' = 'attested' AND "
        "enrollment->'issuers' ? $1 LIMIT 1), "
        "ins AS (INSERT INTO attestation_revocations (issuer, uid, signed_at) SELECT $1, "
        "decode(u, 'hex'), to_timestamp($3::bigint) FROM unnest($2::text[]) u WHERE EXISTS "
        "(SELECT 1 FROM ok) ON CONFLICT (issuer, uid) DO NOTHING RETURNING 1) "
        "SELECT (SELECT count(*) FROM ok), (SELECT count(*) FROM ins)",
        3, params, err);
    free(arr);
    if (!r)
        return err->code;
    *listed = atoi(PQgetvalue(r, 0, 0)) > 0;
    *added = atol(PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int coh_db_attestation_revoked(int *revoked, coh_db_pool *p, const char *issuer,
                               const uint8_t uid[32], coh_err *err)
{
    *revoked = 0;
    char hex[65];
    coh_hex_encode(hex, uid, 32, 0);
    const char *params[] = {issuer, hex};
    PGresult *r = coh_db_query(p,
                               "SELECT 1 FROM attestation_revocations WHERE issuer = $1 AND uid "
                               "= decode($2, 'hex')",
                               2, params, err);
    if (!r)
        return err->code;
    *revoked = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

json_t *coh_db_invite_codes_revoke(coh_db_pool *p, const char *id, const char *owner,
                                   const uint8_t (*hashes)[32], size_t n, int all_unredeemed,
                                   coh_err *err)
{
    char *arr = hex_array(hashes, n);
    if (!arr) {
        coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const char *params[] = {bare(id), owner, arr, all_unredeemed ? "t" : "f"};
    /* The counts are read from the statement's snapshot, before its own update: the codes it
     * revoked now are added to them. */
    json_t *v = coh_db_json(
        p,
        "WITH r AS (SELECT id FROM requests WHERE id = decode($1, 'hex') AND owner = $2), "
        "u AS (UPDATE invite_codes SET revoked_at = now() WHERE request_id = (SELECT id FROM r) "
        "AND revoked_at IS NULL AND (($4::boolean AND redeemed_by IS NULL) OR code_hash IN "
        "(SELECT decode(h, 'hex') FROM unnest($3::text[]) h)) RETURNING 1) "
        "SELECT json_build_object('revoked_now', (SELECT count(*) FROM u), 'invite_codes', "
        "json_build_object('issued', count(*), 'redeemed', count(*) FILTER (WHERE "
        "c.redeemed_by IS NOT NULL), 'revoked', count(*) FILTER (WHERE c.revoked_at IS NOT "
        "NULL) + (SELECT count(*) FROM u))) FROM invite_codes c WHERE c.request_id = (SELECT id "
        "FROM r)",
        4, params, err);
    free(arr);
    return v;
}
