/*
 * bench_chain_tree: builds the claims tree (OpenZeppelin StandardMerkleTree of (address,
 * cumulative amount) leaves) of n accounts with the ledger module, as the anchorer does, and
 * prints {root, n, build_ms, claims: [{account, amount, proof}]} for a few accounts at the
 * deepest level, for gas.mjs to claim on chain. Accounts and amounts are deterministic:
 * address i = keccak256("cohort-bench" || i)[12..32), amount = (1 + epoch) * 1e18 + i, so a
 * later epoch is the same accounts with more earned (a repeat claim).
 * Usage: bench_chain_tree [n] [claims] [epoch] [account index: print that account's claim]
 */
#include "bench_accounts.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    size_t want = argc > 2 ? strtoull(argv[2], NULL, 10) : 4;
    unsigned epoch = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
    long only = argc > 4 ? strtol(argv[4], NULL, 10) : -1;
    if (n < 2 || want < 1 || want > n) {
        fprintf(stderr, "usage: bench_chain_tree [n >= 2] [claims] [epoch]\n");
        return 2;
    }
    uint8_t(*leaves)[32] = malloc(32 * n);
    if (!leaves)
        return 1;
    double t0 = now_ms();
    for (size_t i = 0; i < n; i++) {
        uint8_t addr[20], amt[32];
        bench_account(addr, amt, i, epoch);
        coh_ledger_claim_leaf(leaves[i], addr, amt);
    }
    coh_ledger_merkle *t = NULL;
    if (coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, n, 1) != 0)
        return 1;
    double build = now_ms() - t0;
    uint8_t root[32];
    char h[67];
    coh_ledger_merkle_root(root, t);
    coh_hex_encode(h, root, 32, 1);
    printf("{\"n\":%zu,\"build_ms\":%.0f,\"root\":\"%s\",\"claims\":[", n, build, h);
    /* The accounts whose sorted position is smallest sit deepest (tree index 2n-2-pos). */
    size_t printed = 0;
    for (size_t i = only >= 0 ? (size_t)only : 0; i < n && printed < want; i++) {
        uint8_t addr[20], amt[32], leaf[32], proof[64][32];
        bench_account(addr, amt, i, epoch);
        coh_ledger_claim_leaf(leaf, addr, amt);
        long pos = coh_ledger_merkle_find(t, leaf);
        size_t np = 0;
        if (pos < 0 || (only < 0 && (size_t)pos >= want * 4) ||
            coh_ledger_merkle_proof(proof, 64, &np, t, (size_t)pos) != 0)
            continue;
        char a[43], dec[79];
        coh_hex_encode(a, addr, 20, 1);
        coh_u256_to_dec(dec, amt);
        printf("%s{\"index\":%zu,\"account\":\"%s\",\"amount\":\"%s\",\"proof\":[",
               printed ? "," : "", i, a, dec);
        for (size_t k = 0; k < np; k++) {
            coh_hex_encode(h, proof[k], 32, 1);
            printf("%s\"%s\"", k ? "," : "", h);
        }
        printf("]}");
        printed++;
    }
    printf("]}\n");
    coh_ledger_merkle_free(t);
    free(leaves);
    return printed == want ? 0 : 1;
}
