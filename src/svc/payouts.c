/*
 * pay: every token movement of the marketplace, as ledger postings with idempotency keys
 * derived from what they pay for. A retry after a crash re-posts the same keys and the ledger
 * returns the original entries: nothing is paid twice, nothing is lost.
 *
 *   escrow:<request>                      available:<owner> -> escrow:<request>, reward x max
 *   reward:<request>                      escrow:<request>  -> payable, reward x count, with
 *                                         "<count>:<root>" of the release's private credits
 *   refund:<request>                      escrow:<request>  -> available:<owner>, the rest
 *   withdrawal:<owner>:<client key>       available:<owner> -> payable (counted for owner)
 *   pool:<address>:<credited>             payable:<address> -> payable (wave-1 balances, once)
 *
 * Credits are stored before the entry that counts them (see coh_db_credits_put): a crash in
 * between leaves credits that count for nothing until the retry posts the same entry.
 * Wave 1 posted reward:<request>:<contributor> entries to payable:<contributor>; a release
 * whose payout began that way before the upgrade is finished that way (reward_wave1).
 */
#include "svc/svc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void entry_init(coh_ledger_entry *e, int kind, const char *debit, const char *credit,
                       const uint8_t amount[32], const char *request, const char *key)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    snprintf(e->debit, sizeof e->debit, "%s", debit);
    snprintf(e->credit, sizeof e->credit, "%s", credit);
    memcpy(e->amount, amount, 32);
    snprintf(e->ref_request, sizeof e->ref_request, "%s", request);
    snprintf(e->idempotency_key, sizeof e->idempotency_key, "%s", key);
}

/* Posts reward x times from debit to credit, keyed "<kind>:<request>"; nothing when 0. */
static int post_scaled(coh_db_pool *db, const coh_secbuf *key, int kind, const char *debit,
                       const char *credit, const char *request, const char *reward, uint32_t times,
                       coh_err *err)
{
    uint8_t r[32], total[32];
    if (coh_u256_from_dec(r, reward) != 0 || coh_u256_mul_u64(total, r, times) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "reward x %u exceeds uint256", times);
    if (coh_u256_is_zero(total))
        return 0;
    char ik[COH_LEDGER_STR_MAX + 1];
    int rc = coh_ledger_idem_request(ik, sizeof ik, kind, request, err);
    if (rc)
        return rc;
    coh_ledger_entry e;
    entry_init(&e, kind, debit, credit, total, request, ik);
    return coh_db_ledger_post(&e, NULL, db, key, err);
}

int coh_svc_escrow(coh_db_pool *db, const coh_secbuf *key, const char *request, const char *owner,
                   const char *reward, uint32_t max, coh_err *err)
{
    char debit[COH_LEDGER_STR_MAX + 1], credit[COH_LEDGER_STR_MAX + 1];
    int rc = coh_ledger_account_available(debit, sizeof debit, owner, err);
    if (!rc)
        rc = coh_ledger_account_escrow(credit, sizeof credit, request, err);
    if (rc)
        return rc;
    return post_scaled(db, key, COH_LEDGER_ESCROW, debit, credit, request, reward, max, err);
}

/* The root of an entry's credits (rows: address, amount, salt hex, as coh_db_credits_put). */
static int credits_root(uint8_t root[32], PGresult *rows, coh_err *err)
{
    int n = PQntuples(rows);
    uint8_t(*leaves)[32] = malloc(((size_t)n + 1) * 32);
    if (!leaves)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        uint8_t addr[20], amount[32], salt[32];
        if (coh_hex_decode_exact(addr, 20, PQgetvalue(rows, i, 0)) != 0 ||
            coh_u256_from_dec(amount, PQgetvalue(rows, i, 1)) != 0 ||
            coh_hex_decode_exact(salt, 32, PQgetvalue(rows, i, 2)) != 0)
            rc = coh_err_set(err, COH_ERR_DB, "a stored credit is malformed");
        else
            coh_ledger_credit_leaf(leaves[i], addr, amount, salt);
    }
    coh_ledger_merkle *t = NULL;
    if (!rc && coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, (size_t)n, 1) != 0)
        rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    if (!rc)
        coh_ledger_merkle_root(root, t);
    coh_ledger_merkle_free(t);
    free(leaves);
    return rc;
}

int coh_svc_rewards(coh_db_pool *db, const coh_secbuf *key, const char *request, const char *reward,
                    const char *const *payees, const uint32_t *members, size_t n, coh_err *err)
{
    uint8_t r[32], total[32] = {0};
    if (coh_u256_from_dec(r, reward) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "reward is not a uint256");
    if (n == 0)
        return 0;
    char **amounts = calloc(n, sizeof *amounts);
    uint64_t count = 0;
    int rc = amounts ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t a[32];
        if (coh_u256_mul_u64(a, r, members[i]) != 0 || coh_u256_add(total, total, a) != 0)
            rc = coh_err_set(err, COH_ERR_INVALID, "rewards exceed uint256");
        else if (!(amounts[i] = malloc(COH_U256_DEC_SIZE)))
            rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        else
            coh_u256_to_dec(amounts[i], a);
        count += members[i];
    }
    char ik[COH_LEDGER_STR_MAX + 1] = "";
    if (!rc)
        rc = coh_ledger_idem_request(ik, sizeof ik, COH_LEDGER_REWARD, request, err);
    PGresult *rows = NULL;
    if (!rc)
        rc = coh_db_credits_put(&rows, db, ik, request, payees, (const char *const *)amounts, n,
                                err);
    for (size_t i = 0; amounts && i < n; i++)
        free(amounts[i]);
    free(amounts);
    uint8_t root[32], stored[32] = {0};
    for (int i = 0; !rc && i < PQntuples(rows); i++) {
        uint8_t a[32];
        if (coh_u256_from_dec(a, PQgetvalue(rows, i, 1)) != 0 ||
            coh_u256_add(stored, stored, a) != 0)
            rc = coh_err_set(err, COH_ERR_DB, "a stored credit is malformed");
    }
    /* The entry pays exactly what its credits hold, or nothing is posted. */
    if (!rc && (PQntuples(rows) != (int)n || coh_u256_cmp(stored, total) != 0))
        rc = coh_err_set(err, COH_ERR_CONFLICT,
                         "request %s: stored credits differ from its members", request);
    if (!rc)
        rc = credits_root(root, rows, err);
    PQclear(rows);
    if (rc)
        return rc;
    coh_crash_point("credited");
    char debit[COH_LEDGER_STR_MAX + 1];
    if ((rc = coh_ledger_account_escrow(debit, sizeof debit, request, err)) != 0)
        return rc;
    coh_ledger_entry e;
    entry_init(&e, COH_LEDGER_REWARD, debit, COH_LEDGER_POOL_ACCOUNT, total, request, ik);
    coh_ledger_credits_ref_format(e.ref_contribution, count, root);
    return coh_db_ledger_post(&e, NULL, db, key, err);
}

int coh_svc_rewards_wave1(coh_db_pool *db, const coh_secbuf *key, const char *request,
                          const char *reward, const char *const *contributors, size_t n,
                          coh_err *err)
{
    uint8_t r[32];
    if (coh_u256_from_dec(r, reward) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "reward is not a uint256");
    enum { CHUNK = 500 };
    coh_ledger_entry *es = calloc(CHUNK, sizeof *es);
    if (!es)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t off = 0; off < n && !rc; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        for (size_t i = 0; i < m && !rc; i++) {
            char debit[COH_LEDGER_STR_MAX + 1], credit[COH_LEDGER_STR_MAX + 1],
                ik[COH_LEDGER_STR_MAX + 1];
            if ((rc = coh_ledger_account_escrow(debit, sizeof debit, request, err)) != 0 ||
                (rc = coh_ledger_account_payable(credit, sizeof credit, contributors[off + i],
                                                 err)) != 0 ||
                (rc = coh_ledger_idem_reward_wave1(ik, sizeof ik, request, contributors[off + i],
                                                   err)) != 0)
                break;
            entry_init(&es[i], COH_LEDGER_REWARD, debit, credit, r, request, ik);
            snprintf(es[i].ref_contribution, sizeof es[i].ref_contribution, "%s",
                     contributors[off + i]);
        }
        if (!rc)
            rc = coh_db_ledger_post_batch(es, m, db, key, err);
    }
    free(es);
    return rc;
}

int coh_svc_withdraw(coh_ledger_entry *e, int *replayed, coh_db_pool *db, const coh_secbuf *key,
                     const char *owner, const uint8_t amount[32], const char *client_key,
                     coh_err *err)
{
    memset(e, 0, sizeof *e);
    char ik[COH_LEDGER_STR_MAX + 1], amt[COH_U256_DEC_SIZE];
    int rc = coh_ledger_idem_withdrawal(ik, sizeof ik, owner, client_key, err);
    if (rc)
        return rc;
    coh_u256_to_dec(amt, amount);
    char debit[COH_LEDGER_STR_MAX + 1];
    if ((rc = coh_ledger_account_available(debit, sizeof debit, owner, err)) != 0)
        return rc;
    entry_init(e, COH_LEDGER_WITHDRAWAL, debit, COH_LEDGER_POOL_ACCOUNT, amount, "", ik);
    /* No private credit: the signed entry names the researcher (researchers are accountable)
     * and carries the amount, and the claims tree counts it from there. */
    return coh_db_ledger_post(e, replayed, db, key, err);
}

int coh_svc_refund(coh_db_pool *db, const coh_secbuf *key, const char *request, const char *owner,
                   const char *reward, uint32_t unused, coh_err *err)
{
    char debit[COH_LEDGER_STR_MAX + 1], credit[COH_LEDGER_STR_MAX + 1];
    int rc = coh_ledger_account_escrow(debit, sizeof debit, request, err);
    if (!rc)
        rc = coh_ledger_account_available(credit, sizeof credit, owner, err);
    if (rc)
        return rc;
    return post_scaled(db, key, COH_LEDGER_REFUND, debit, credit, request, reward, unused, err);
}

int coh_svc_pool_wave1(coh_db_pool *db, const coh_secbuf *key, coh_err *err)
{
    PGresult *r = coh_db_credits_wave1_balances(db, err);
    if (!r)
        return err->code;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        const char *addr = PQgetvalue(r, i, 0);
        uint8_t amount[32];
        char debit[COH_LEDGER_STR_MAX + 1], ik[COH_LEDGER_STR_MAX + 1];
        /* Keyed by what the account had received: one move per state, whatever retries. */
        if ((rc = coh_ledger_account_payable(debit, sizeof debit, addr, err)) != 0 ||
            (rc = coh_ledger_idem_pool(ik, sizeof ik, addr, PQgetvalue(r, i, 2), err)) != 0)
            break;
        if (coh_u256_from_dec(amount, PQgetvalue(r, i, 1)) != 0) {
            rc = coh_err_set(err, COH_ERR_DB, "a balance is not a uint256");
            break;
        }
        coh_ledger_entry e;
        entry_init(&e, COH_LEDGER_POOL, debit, COH_LEDGER_POOL_ACCOUNT, amount, "", ik);
        rc = coh_db_ledger_post(&e, NULL, db, key, err);
    }
    PQclear(r);
    return rc;
}

int coh_svc_deposit_local(coh_ledger_entry *e, int *replayed, coh_db_pool *db,
                          const coh_secbuf *key, uint64_t chain_id, const char *address,
                          const uint8_t amount[32], const char *ref_tx, const char *client_key,
                          coh_err *err)
{
    memset(e, 0, sizeof *e);
    if (chain_id != 31337 && chain_id != 1337)
        return coh_err_set(err, COH_ERR_FORBIDDEN,
                           "deposit refused: chain_id %llu is not a local test network (31337 or "
                           "1337); real deposits are credited from confirmed on-chain events",
                           (unsigned long long)chain_id);
    if (coh_u256_is_zero(amount))
        return coh_err_set(err, COH_ERR_INVALID, "a deposit is a positive amount");
    char credit[COH_LEDGER_STR_MAX + 1], ik[COH_LEDGER_STR_MAX + 1];
    if (coh_ledger_account_available(credit, sizeof credit, address, err))
        return err->code;
    if (client_key) {
        snprintf(ik, sizeof ik, "%s", client_key);
    } else {
        uint8_t r[16];
        char nonce[2 * sizeof r + 1];
        randombytes_buf(r, sizeof r);
        coh_hex_encode(nonce, r, sizeof r, 0);
        if (coh_ledger_idem_deposit(ik, sizeof ik, nonce, err))
            return err->code;
    }
    entry_init(e, COH_LEDGER_DEPOSIT, COH_LEDGER_CHAIN_ACCOUNT, credit, amount, "", ik);
    snprintf(e->ref_tx, sizeof e->ref_tx, "%s", ref_tx ? ref_tx : "");
    return coh_db_ledger_post(e, replayed, db, key, err);
}
