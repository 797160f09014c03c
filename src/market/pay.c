/*
 * pay: every token movement of the marketplace, as ledger postings with idempotency keys
 * derived from what they pay for. A retry after a crash re-posts the same keys and the ledger
 * returns the original entries: nothing is paid twice, nothing is lost.
 *
 *   escrow:<request>                      available:<owner> -> escrow:<request>, reward x max
 *   reward:<request>:<contributor>        escrow:<request>  -> payable:<contributor>, reward
 *   refund:<request>                      escrow:<request>  -> available:<owner>, the rest
 */
#include "market/market.h"
#include "crypto/crypto.h"
#include "db/ledger_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coh_market_u256_mul(uint8_t out[32], const uint8_t a[32], uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 31; i >= 0; i--) {
        uint64_t v = (uint64_t)a[i] * m + carry;
        out[i] = (uint8_t)v;
        carry = v >> 8;
    }
    return carry ? -1 : 0;
}

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
                       const char *credit, const char *request, const char *reward,
                       uint32_t times, coh_err *err)
{
    uint8_t r[32], total[32], zero[32] = {0};
    if (coh_crypto_uint256_from_dec(r, reward) != 0 || coh_market_u256_mul(total, r, times) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "reward x %u exceeds uint256", times);
    if (memcmp(total, zero, 32) == 0)
        return 0;
    char ik[96];
    snprintf(ik, sizeof ik, "%s:%s", coh_ledger_kind_name(kind), request);
    coh_ledger_entry e;
    entry_init(&e, kind, debit, credit, total, request, ik);
    return coh_db_ledger_post(&e, NULL, db, key, err);
}

int coh_market_escrow(coh_db_pool *db, const coh_secbuf *key, const char *request,
                      const char *owner, const char *reward, uint32_t max, coh_err *err)
{
    char debit[64], credit[80];
    snprintf(debit, sizeof debit, "available:%s", owner);
    snprintf(credit, sizeof credit, "escrow:%s", request);
    return post_scaled(db, key, COH_LEDGER_ESCROW, debit, credit, request, reward, max, err);
}

int coh_market_rewards(coh_db_pool *db, const coh_secbuf *key, const char *request,
                       const char *reward, const char *const *contributors, size_t n, coh_err *err)
{
    uint8_t r[32];
    if (coh_crypto_uint256_from_dec(r, reward) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "reward is not a uint256");
    enum { CHUNK = 500 };
    coh_ledger_entry *es = calloc(CHUNK, sizeof *es);
    if (!es)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t off = 0; off < n && !rc; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        for (size_t i = 0; i < m; i++) {
            char debit[80], credit[64], ik[140];
            snprintf(debit, sizeof debit, "escrow:%s", request);
            snprintf(credit, sizeof credit, "payable:%s", contributors[off + i]);
            snprintf(ik, sizeof ik, "reward:%s:%s", request, contributors[off + i]);
            entry_init(&es[i], COH_LEDGER_REWARD, debit, credit, r, request, ik);
            snprintf(es[i].ref_contribution, sizeof es[i].ref_contribution, "%s",
                     contributors[off + i]);
        }
        rc = coh_db_ledger_post_batch(es, m, db, key, err);
    }
    free(es);
    return rc;
}

int coh_market_refund(coh_db_pool *db, const coh_secbuf *key, const char *request,
                      const char *owner, const char *reward, uint32_t unused, coh_err *err)
{
    char debit[80], credit[64];
    snprintf(debit, sizeof debit, "escrow:%s", request);
    snprintf(credit, sizeof credit, "available:%s", owner);
    return post_scaled(db, key, COH_LEDGER_REFUND, debit, credit, request, reward, unused, err);
}
