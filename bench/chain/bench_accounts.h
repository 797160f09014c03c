/*
 * bench_accounts: the deterministic accounts of the chain benchmarks (bench_chain_tree,
 * bench_claims): address i = keccak256("cohort-bench" || i as 8 bytes big-endian)[12..32),
 * amount = (1 + epoch) * 1e18 + i, so a later epoch is the same accounts with more earned.
 */
#ifndef COH_BENCH_ACCOUNTS_H
#define COH_BENCH_ACCOUNTS_H

#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <stdlib.h>
#include <string.h>

static inline void bench_account(uint8_t addr[20], uint8_t amount[32], size_t i, unsigned epoch)
{
    uint8_t in[20], h[32], base[32], add[32];
    memcpy(in, "cohort-bench", 12);
    for (int k = 0; k < 8; k++)
        in[12 + k] = (uint8_t)(i >> (56 - 8 * k));
    coh_crypto_keccak256(h, in, sizeof in);
    memcpy(addr, h + 12, 20);
    if (coh_u256_from_dec(base, "1000000000000000000") != 0)
        abort();
    memset(add, 0, 32);
    for (int k = 0; k < 8; k++)
        add[24 + k] = (uint8_t)(i >> (56 - 8 * k));
    if (coh_u256_add(amount, base, add) != 0)
        abort();
    for (unsigned e = 0; e < epoch; e++)
        if (coh_u256_add(amount, amount, base) != 0)
            abort();
}

#endif
