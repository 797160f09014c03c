/*
 * credits: the private table of who was credited what (sql/011_private_credits.sql). Public
 * entries carry only counts and roots; these rows are read by the paying flow (to post the
 * root), by each address for itself, and by the anchorer for the claims tree. No public route
 * reads them.
 */
#include "db/db.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coh_db_credits_put(PGresult **out, coh_db_pool *p, const char *entry_key, const char *request,
                       const char *const *addrs, const char *const *amounts, size_t n,
                       coh_err *err)
{
    *out = NULL;
    char **salts = calloc(n + 1, sizeof *salts);
    int rc = salts ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        uint8_t s[32];
        randombytes_buf(s, sizeof s);
        if (!(salts[i] = malloc(65)))
            rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        else
            coh_hex_encode(salts[i], s, 32, 0);
    }
    char *a = rc ? NULL : coh_db_text_array(addrs, n);
    char *m = rc ? NULL : coh_db_text_array(amounts, n);
    char *s = rc ? NULL : coh_db_text_array((const char *const *)salts, n);
    if (!rc && (!a || !m || !s))
        rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    /* A retry keeps what is stored (salts included); under a posted entry nothing can be
     * added at all (sql/034). */
    const char *pp[5] = {entry_key, request, a, m, s};
    /* Posted already (a retry after the entry): read what is stored, add nothing. */
    const char *pk0[1] = {entry_key};
    PGresult *posted = rc ? NULL
                          : coh_db_query(p,
                                         "SELECT 1 FROM ledger_entries WHERE idempotency_key = $1",
                                         1, pk0, err);
    if (!rc && !posted)
        rc = err->code;
    int skip = posted && PQntuples(posted) > 0;
    PQclear(posted);
    if (!rc && !skip)
        rc = coh_db_run(p,
                        "INSERT INTO ledger_credits (address, amount, salt, entry_key, request_id) "
                        "SELECT u.a, u.m::numeric, decode(u.s, 'hex'), $1, $2 FROM "
                        "unnest($3::text[], $4::text[], $5::text[]) AS u(a, m, s) "
                        "ON CONFLICT (entry_key, address) DO NOTHING",
                        5, pp, err);
    for (size_t i = 0; salts && i < n; i++)
        free(salts[i]);
    free(salts);
    free(a);
    free(m);
    free(s);
    if (rc)
        return rc;
    const char *pk[1] = {entry_key};
    *out = coh_db_query(p,
                        "SELECT address, amount::text, encode(salt, 'hex') FROM ledger_credits "
                        "WHERE entry_key = $1 ORDER BY address",
                        1, pk, err);
    return *out ? 0 : err->code;
}

json_t *coh_db_credits_of(coh_db_pool *p, const char *address, coh_err *err)
{
    char payable[COH_LEDGER_STR_MAX + 1], avail[COH_LEDGER_STR_MAX + 1];
    if (coh_ledger_account_payable(payable, sizeof payable, address, err) ||
        coh_ledger_account_available(avail, sizeof avail, address, err))
        return NULL;
    const char *pp[] = {address, payable, avail, COH_LEDGER_POOL_ACCOUNT};
    return coh_db_json(
        p,
        "SELECT coalesce(json_agg(x ORDER BY x.seq), '[]') FROM (SELECT e.seq, e.kind, "
        "c.request_id AS request, c.amount::text AS amount, encode(c.salt, 'hex') AS salt, "
        "e.ref_contribution AS credits_ref, false AS wave1, (SELECT "
        "json_agg(json_build_array(o.address, o.amount::text, encode(o.salt, 'hex')) ORDER BY "
        "o.address) FROM ledger_credits o WHERE o.entry_key = c.entry_key) AS leaves FROM "
        "ledger_credits c JOIN ledger_entries e ON e.idempotency_key = c.entry_key WHERE "
        "c.address = $1 "
        /* entries that name the address publicly: wave-1 rewards and withdrawals to
         * payable:<address>, and withdrawals from available:<address> into the pool */
        "UNION ALL SELECT e.seq, e.kind, e.ref_request, e.amount::text, NULL, NULL, true, NULL "
        "FROM ledger_entries e WHERE e.credit = $2 "
        "UNION ALL SELECT e.seq, e.kind, NULL, e.amount::text, NULL, NULL, true, NULL FROM "
        "ledger_entries e WHERE e.kind = 'withdrawal' AND e.credit = $4 AND e.debit = $3) x",
        4, pp, err);
}

PGresult *coh_db_credits_wave1_balances(coh_db_pool *p, coh_err *err)
{
    /* The wave-1 payable:<addr> accounts, by their prefix. */
    const char *pp[] = {coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_PAYABLE)};
    return coh_db_query(p,
                        "SELECT substr(account, length($1::text) + 1), balance::text, "
                        "credited::text FROM ledger_balances WHERE account LIKE $1::text || '0x%' "
                        "AND balance > 0 ORDER BY account LIMIT 500",
                        1, pp, err);
}
