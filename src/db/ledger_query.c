/*
 * ledger_query: reads of the ledger (sql/002_ledger.sql): entries by filter, one entry, an
 * address's balances, a request's totals, the head.
 */
#include "db/ledger_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coh_db_ledger_entries(coh_ledger_entry **out, size_t *n, coh_db_pool *p,
                          const struct coh_db_ledger_filter *f, coh_err *err)
{
    *out = NULL;
    *n = 0;
    char after[24], limit[12];
    snprintf(after, sizeof after, "%llu", (unsigned long long)f->after);
    snprintf(limit, sizeof limit, "%d", f->limit < 1 ? 1 : f->limit > 1000 ? 1000 : f->limit);
    /* An address filter means its available: and payable: accounts (named here, $6 and $7). */
    const char *acct = f->account ? f->account : "";
    char avail[COH_LEDGER_STR_MAX + 64] = "", payable[COH_LEDGER_STR_MAX + 64] = "";
    if (acct[0] && (coh_ledger_account_available(avail, sizeof avail, acct, err) ||
                    coh_ledger_account_payable(payable, sizeof payable, acct, err)))
        return err->code;
    const char *params[] = {
        after, acct, f->kind ? f->kind : "", f->request ? f->request : "", limit, avail, payable};
    coh_db_conn *c = coh_db_ledger_borrow(p, err);
    if (!c)
        return err->code;
    /* An address filter means its available: and payable: accounts. */
    PGresult *r =
        coh_db_exec(c,
                    "SELECT " ENTRY_COLS " FROM ledger_entries WHERE seq > $1::bigint AND "
                    "($2 = '' OR debit = $2 OR credit = $2 OR ($2 ~ '^0x[0-9a-f]{40}$' AND "
                    "(debit IN ($6, $7) OR credit IN ($6, $7)))) AND ($3 = '' OR kind = $3) AND "
                    "($4 = '' OR ref_request = $4) ORDER BY seq LIMIT $5::int",
                    7, params, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    int rows = PQntuples(r), rc = 0;
    coh_ledger_entry *es = calloc(rows ? (size_t)rows : 1, sizeof *es);
    if (!es)
        rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < rows; i++)
        rc = coh_db_ledger_row_to_entry(&es[i], r, i, err);
    PQclear(r);
    if (rc) {
        free(es);
        return rc;
    }
    *out = es;
    *n = (size_t)rows;
    return 0;
}

int coh_db_ledger_entry_get(coh_ledger_entry *out, coh_db_pool *p, uint64_t seq, coh_err *err)
{
    memset(out, 0, sizeof *out);
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seq);
    const char *params[] = {s};
    coh_db_conn *c = coh_db_ledger_borrow(p, err);
    if (!c)
        return err->code;
    PGresult *r = coh_db_exec(c, "SELECT " ENTRY_COLS " FROM ledger_entries WHERE seq = $1::bigint",
                              1, params, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    int rc = PQntuples(r) == 1 ? coh_db_ledger_row_to_entry(out, r, 0, err)
                               : coh_err_set(err, COH_ERR_NOTFOUND, "no ledger entry %s", s);
    PQclear(r);
    return rc;
}

int coh_db_ledger_balance(struct coh_db_ledger_balance *out, coh_db_pool *p, const char *addr,
                          coh_err *err)
{
    memset(out, 0, sizeof *out);
    char avail[COH_LEDGER_STR_MAX + 1], payable[COH_LEDGER_STR_MAX + 1];
    if (coh_ledger_account_available(avail, sizeof avail, addr, err) ||
        coh_ledger_account_payable(payable, sizeof payable, addr, err))
        return err->code;
    const char *params[] = {addr, avail, payable,
                            coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_ESCROW),
                            COH_LEDGER_POOL_ACCOUNT};
    coh_db_conn *c = coh_db_ledger_borrow(p, err);
    if (!c)
        return err->code;
    /* One statement, one snapshot: the balances, what the effective anchor (confirmed, its
     * challenge period over) lets the address claim, and the last entry they include (for
     * `cohort verify` on a live server). */
    PGresult *r = coh_db_exec(
        c,
        "WITH v AS (SELECT coalesce((SELECT balance FROM ledger_balances WHERE account = "
        "$2), 0) AS available, coalesce((SELECT sum(balance) FROM "
        "ledger_balances WHERE owner = $1 AND account LIKE $4::text || '%'), 0) AS escrowed, "
        /* earned: wave-1 credits to payable:<addr> and wave-2 private credits whose entry is
         * posted; claimed: claim entries, wave 1 from payable:<addr>, wave 2 from the pool
         * naming the address (it is on chain anyway) */
        "coalesce((SELECT credited FROM ledger_balances WHERE account = $3), 0) + "
        "coalesce((SELECT sum(c.amount) FROM ledger_credits c JOIN ledger_entries e ON "
        "e.idempotency_key = c.entry_key WHERE c.address = $1 AND e.kind = 'reward'), 0) + "
        "coalesce((SELECT sum(amount) FROM ledger_entries WHERE kind = 'withdrawal' AND credit = "
        "$5 AND debit = $2), 0) AS earned, "
        "coalesce((SELECT sum(amount) FROM ledger_entries WHERE kind = 'claim' AND (debit = "
        "$3 OR (debit = $5 AND ref_contribution = $1))), 0) AS claimed, "
        "coalesce((SELECT l.cumulative FROM chain_claim_leaves l JOIN "
        "chain_anchors a ON a.id = l.anchor_id WHERE a.status = 'confirmed' AND a.effective_at <= "
        "now() AND l.address = $1 "
        "ORDER BY a.id DESC LIMIT 1), 0) AS anchored, coalesce((SELECT max(seq) FROM "
        "ledger_entries), 0) AS seq) "
        "SELECT available::text, escrowed::text, earned::text, claimed::text, anchored::text, "
        "greatest(anchored - claimed, 0)::text, greatest(earned - anchored, 0)::text, seq FROM v",
        5, params, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    char *f[] = {out->available, out->escrowed,  out->earned, out->claimed,
                 out->anchored,  out->claimable, out->pending};
    for (int i = 0; i < 7; i++)
        snprintf(f[i], 80, "%s", PQgetvalue(r, 0, i));
    out->seq = strtoull(PQgetvalue(r, 0, 7), NULL, 10);
    PQclear(r);
    return 0;
}

int coh_db_ledger_request_totals(char escrowed[80], char paid[80], char refunded[80],
                                 coh_db_pool *p, const char *request_id, coh_err *err)
{
    char escrow[COH_LEDGER_STR_MAX + 1];
    if (coh_ledger_account_escrow(escrow, sizeof escrow, request_id, err))
        return err->code;
    const char *params[] = {escrow};
    coh_db_conn *c = coh_db_ledger_borrow(p, err);
    if (!c)
        return err->code;
    PGresult *r =
        coh_db_exec(c,
                    "SELECT coalesce(sum(amount) FILTER (WHERE kind = 'escrow'), 0)::text, "
                    "coalesce(sum(amount) FILTER (WHERE kind = 'reward'), 0)::text, "
                    "coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0)::text FROM "
                    "ledger_entries WHERE debit = $1 OR credit = $1",
                    1, params, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    snprintf(escrowed, 80, "%s", PQgetvalue(r, 0, 0));
    snprintf(paid, 80, "%s", PQgetvalue(r, 0, 1));
    snprintf(refunded, 80, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return 0;
}

int coh_db_ledger_head(uint64_t *seq, uint8_t hash[32], coh_db_pool *p, coh_err *err)
{
    coh_db_conn *c = coh_db_ledger_borrow(p, err);
    if (!c)
        return err->code;
    PGresult *r = coh_db_exec(c, "SELECT seq, encode(hash, 'hex') FROM ledger_head WHERE id = 1", 0,
                              NULL, err);
    coh_db_release(c);
    if (!r)
        return err->code;
    int rc = 0;
    if (PQntuples(r) != 1 || coh_hex_decode_exact(hash, 32, PQgetvalue(r, 0, 1)) != 0)
        rc = coh_err_set(err, COH_ERR_DB, "ledger_head row is missing");
    else
        *seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}
