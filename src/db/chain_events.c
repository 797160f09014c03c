/*
 * chain_events (db): the deposit watcher's state (sql/005_chain.sql, 008_chain_reorg.sql):
 * its scan cursor with the hashes of the blocks it stopped at, the rewind after a reorg deeper
 * than the confirmations, and the crediting of Deposited and Claimed events once each, by an
 * identity that survives the transaction being mined again in another block.
 */
#include "db/db.h"
#include "ledger/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coh_db_chain_cursor_get(long long *block, coh_db_pool *p, const char *name, long long dflt,
                            coh_err *err)
{
    *block = dflt;
    const char *pp[1] = {name};
    PGresult *r = coh_db_query(p, "SELECT block FROM chain_cursors WHERE name = $1", 1, pp, err);
    int rc = r ? 0 : err->code;
    if (r && PQntuples(r) == 1)
        *block = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int coh_db_chain_cursor_set(coh_db_pool *p, const char *name, long long block,
                            const uint8_t hash[32], coh_err *err)
{
    char b[24], h[COH_HASH_BARE_HEX_SIZE], keep[24];
    snprintf(b, sizeof b, "%lld", block);
    snprintf(keep, sizeof keep, "%d", COH_DB_CHAIN_SCANNED_KEPT);
    coh_hex_encode(h, hash, 32, 0);
    const char *pp[4] = {name, b, h, keep};
    /* One statement, so the cursor never moves without its hash being remembered. */
    return coh_db_run(
        p,
        "WITH c AS (INSERT INTO chain_cursors (name, block) VALUES ($1, $2) ON CONFLICT (name) "
        "DO UPDATE SET block = EXCLUDED.block), "
        "s AS (INSERT INTO chain_scanned (name, block, block_hash) VALUES ($1, $2, "
        "decode($3, 'hex')) ON CONFLICT (name, block) DO UPDATE SET block_hash = "
        "EXCLUDED.block_hash) "
        "DELETE FROM chain_scanned WHERE name = $1 AND block < (SELECT block FROM chain_scanned "
        "WHERE name = $1 ORDER BY block DESC OFFSET $4::int - 1 LIMIT 1)",
        4, pp, err);
}

int coh_db_chain_scanned(struct coh_db_chain_block *out, size_t max, size_t *n, coh_db_pool *p,
                         const char *name, long long at, coh_err *err)
{
    *n = 0;
    char a[24], m[24];
    snprintf(a, sizeof a, "%lld", at);
    snprintf(m, sizeof m, "%zu", max);
    const char *pp[3] = {name, a, m};
    PGresult *r = coh_db_query(p,
                               "SELECT block, encode(block_hash, 'hex') FROM chain_scanned WHERE "
                               "name = $1 AND block <= $2 ORDER BY block DESC LIMIT $3",
                               3, pp, err);
    int rc = r ? 0 : err->code;
    for (int i = 0; r && i < PQntuples(r) && (size_t)i < max; i++) {
        out[i].number = atoll(PQgetvalue(r, i, 0));
        if (coh_hex_decode_exact(out[i].hash, 32, PQgetvalue(r, i, 1)) != 0) {
            rc = coh_err_set(err, COH_ERR_DB, "chain_scanned: malformed hash");
            break;
        }
        *n = (size_t)i + 1;
    }
    PQclear(r);
    return rc;
}

int coh_db_chain_rewind(long *orphaned, coh_db_pool *p, const char *name, long long ancestor,
                        coh_err *err)
{
    *orphaned = 0;
    char a[24];
    snprintf(a, sizeof a, "%lld", ancestor);
    const char *pp[2] = {name, a};
    json_t *j =
        coh_db_json(p,
                    "WITH c AS (UPDATE chain_cursors SET block = $2 WHERE name = $1), "
                    "s AS (DELETE FROM chain_scanned WHERE name = $1 AND block > $2), "
                    "o AS (UPDATE chain_events SET orphaned_at = now() WHERE block_number > $2 AND "
                    "orphaned_at IS NULL RETURNING 1) "
                    "SELECT to_json(count(*)) FROM o",
                    2, pp, err);
    if (!j)
        return err->code;
    *orphaned = (long)json_integer_value(j);
    json_decref(j);
    return 0;
}

int coh_db_chain_events_status(long long *block, long *orphaned, coh_db_pool *p, coh_err *err)
{
    json_t *j = coh_db_json(p,
                            "SELECT json_build_array((SELECT block FROM chain_cursors WHERE name "
                            "= 'events'), (SELECT count(*) FROM chain_events WHERE orphaned_at "
                            "IS NOT NULL))",
                            0, NULL, err);
    if (!j)
        return err->code;
    json_t *b = json_array_get(j, 0);
    *block = json_is_integer(b) ? (long long)json_integer_value(b) : -1;
    *orphaned = (long)json_integer_value(json_array_get(j, 1));
    json_decref(j);
    return 0;
}

/* The UPDATE of event_seen, by the event's identity (see coh_db_chain_event_credit). */
#define SEEN_SET                                                                                   \
    "UPDATE chain_events e SET tx_hash = decode($1, 'hex'), tx_ordinal = $2, block_number = $3, "  \
    "block_hash = decode($4, 'hex'), log_index = $5, orphaned_at = NULL FROM (SELECT ctid AS "     \
    "row, orphaned_at, block_hash FROM chain_events WHERE "
#define SEEN_RETURNING                                                                             \
    " FOR UPDATE) o WHERE e.ctid = o.row RETURNING e.kind, e.account, e.amount::text, "            \
    "o.orphaned_at IS NOT NULL, o.block_hash = e.block_hash"

/*
 * A known event seen again: takes where it is now (transaction, block) and clears the orphan
 * mark. *found = 0 when unknown; *was = its state before.
 */
static int event_seen(int *found, enum coh_db_event_seen *was, coh_db_pool *p,
                      const struct coh_db_chain_event *ev, const char *addr, const char *amount,
                      const char *cumulative, coh_err *err)
{
    char th[COH_HASH_BARE_HEX_SIZE], bh[COH_HASH_BARE_HEX_SIZE], ord[24], bn[24], li[24];
    coh_hex_encode(th, ev->tx_hash, 32, 0);
    coh_hex_encode(bh, ev->block_hash, 32, 0);
    snprintf(ord, sizeof ord, "%lld", ev->tx_ordinal);
    snprintf(bn, sizeof bn, "%lld", ev->block_number);
    snprintf(li, sizeof li, "%lld", ev->log_index);
    const char *pp[7] = {th, ord, bn, bh, li, addr, cumulative};
    *found = 0;
    PGresult *r =
        cumulative ? coh_db_query(p,
                                  SEEN_SET "kind = 'claim' AND account = $6 AND claim_cumulative = "
                                           "$7::numeric" SEEN_RETURNING,
                                  7, pp, err)
                   : coh_db_query(p,
                                  SEEN_SET "kind = 'deposit' AND tx_hash = decode($1, 'hex') AND "
                                           "tx_ordinal = $2" SEEN_RETURNING,
                                  5, pp, err);
    int rc = r ? 0 : err->code;
    if (r && PQntuples(r) == 1) {
        *found = 1;
        if (strcmp(PQgetvalue(r, 0, 0), ev->kind) != 0 || strcmp(PQgetvalue(r, 0, 1), addr) != 0 ||
            strcmp(PQgetvalue(r, 0, 2), amount) != 0)
            *was = COH_DB_EVENT_CHANGED;
        else if (strcmp(PQgetvalue(r, 0, 3), "t") == 0)
            *was = COH_DB_EVENT_BACK;
        else if (strcmp(PQgetvalue(r, 0, 4), "t") == 0)
            *was = COH_DB_EVENT_KNOWN;
        else
            *was = COH_DB_EVENT_MOVED;
    }
    PQclear(r);
    return rc;
}

int coh_db_chain_event_credit(enum coh_db_event_seen *seen, coh_db_pool *p,
                              const coh_secbuf *ledger_key, const struct coh_db_chain_event *ev,
                              coh_err *err)
{
    char txh[COH_HASH_HEX_SIZE], addr[COH_ADDR_HEX_SIZE], amount[COH_U256_DEC_SIZE],
        cumulative[COH_U256_DEC_SIZE];
    coh_hex_encode(txh, ev->tx_hash, 32, 1);
    coh_hex_encode(addr, ev->account, 20, 1);
    coh_u256_to_dec(amount, ev->amount);
    int deposit = strcmp(ev->kind, "deposit") == 0;
    if (!deposit)
        coh_u256_to_dec(cumulative, ev->cumulative);
    int found = 0;
    int rc = event_seen(&found, seen, p, ev, addr, amount, deposit ? NULL : cumulative, err);
    if (rc || found)
        return rc;
    *seen = COH_DB_EVENT_NEW;
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    e.kind = deposit ? COH_LEDGER_DEPOSIT : COH_LEDGER_CLAIM;
    /* A claim comes out of the pooled payable and names its address (public on chain). */
    if ((rc = coh_ledger_account_build(e.debit, sizeof e.debit,
                                       deposit ? COH_LEDGER_ACCOUNT_CHAIN : COH_LEDGER_ACCOUNT_POOL,
                                       NULL, err)) != 0 ||
        (rc = deposit ? coh_ledger_account_available(e.credit, sizeof e.credit, addr, err)
                      : coh_ledger_account_build(e.credit, sizeof e.credit,
                                                 COH_LEDGER_ACCOUNT_CHAIN, NULL, err)) != 0)
        return rc;
    if (!deposit)
        snprintf(e.ref_contribution, sizeof e.ref_contribution, "%s", addr);
    memcpy(e.amount, ev->amount, 32);
    snprintf(e.ref_tx, sizeof e.ref_tx, "%s", txh);
    if ((rc = coh_ledger_idem_chain_event(e.idempotency_key, sizeof e.idempotency_key, ev->kind,
                                          txh, ev->tx_ordinal, err)) != 0)
        return rc;
    /* A crash between the posting and the row below replays the posting (same key). */
    int replayed = 0;
    if ((rc = coh_db_ledger_post(&e, &replayed, p, ledger_key, err)) != 0)
        return rc;
    char li[24], bn[24], bh[COH_HASH_BARE_HEX_SIZE], seq[24], th[COH_HASH_BARE_HEX_SIZE], ord[24];
    coh_hex_encode(th, ev->tx_hash, 32, 0);
    coh_hex_encode(bh, ev->block_hash, 32, 0);
    snprintf(li, sizeof li, "%lld", ev->log_index);
    snprintf(bn, sizeof bn, "%lld", ev->block_number);
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)e.seq);
    snprintf(ord, sizeof ord, "%lld", ev->tx_ordinal);
    const char *pp[10] = {th,   li,     ev->kind, bn,  bh,
                          addr, amount, seq,      ord, deposit ? NULL : cumulative};
    return coh_db_run(p,
                      "INSERT INTO chain_events (tx_hash, log_index, kind, block_number, "
                      "block_hash, account, amount, ledger_seq, tx_ordinal, claim_cumulative) "
                      "VALUES (decode($1, 'hex'), $2, $3, $4, decode($5, 'hex'), $6, $7, $8, $9, "
                      "$10) ON CONFLICT DO NOTHING",
                      10, pp, err);
}
