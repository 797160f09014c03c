/*
 * merkle: Merkle trees laid out exactly as @openzeppelin/merkle-tree builds them, so roots,
 * tree indices and proofs match StandardMerkleTree (claims) and a plain tree of entry hashes
 * (batches). Layout: an array of 2n-1 nodes; leaf i (after the optional sort) sits at index
 * 2n-2-i; node i = keccak256(min(l, r) || max(l, r)) of children 2i+1, 2i+2; root at 0. A proof
 * is the sibling of each node from the leaf up. Building costs n-1 hashes (~1 us each); a
 * proof is O(log n) copies, so proof generation for 1,000,000 leaves takes microseconds.
 */
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <stdlib.h>
#include <string.h>

struct coh_ledger_merkle {
    size_t n;             /* leaves, >= 1 */
    int sorted;           /* leaves sorted ascending (StandardMerkleTree) */
    uint8_t (*nodes)[32]; /* 2n-1 nodes */
};

static int cmp32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void hash_pair(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    uint8_t buf[64];
    if (memcmp(a, b, 32) <= 0) {
        memcpy(buf, a, 32);
        memcpy(buf + 32, b, 32);
    } else {
        memcpy(buf, b, 32);
        memcpy(buf + 32, a, 32);
    }
    coh_crypto_keccak256(out, buf, 64);
}

int coh_ledger_merkle_new(coh_ledger_merkle **out, const uint8_t (*leaves)[32], size_t n, int sort)
{
    *out = NULL;
    if (n == 0 || n > ((size_t)1 << 40))
        return COH_ERR_INVALID;
    coh_ledger_merkle *t = calloc(1, sizeof *t);
    if (!t || !(t->nodes = malloc((2 * n - 1) * sizeof *t->nodes))) {
        free(t);
        return COH_ERR_NOMEM;
    }
    t->n = n;
    t->sorted = sort != 0;
    size_t total = 2 * n - 1;
    /* Leaves go at the end in reverse order; sorting first gives OZ's sorted layout. */
    uint8_t(*leaf_area)[32] = t->nodes + (n - 1);
    memcpy(leaf_area, leaves, n * 32);
    if (sort)
        qsort(leaf_area, n, 32, cmp32);
    for (size_t i = 0, j = n - 1; i < j; i++, j--) {
        uint8_t tmp[32];
        memcpy(tmp, leaf_area[i], 32);
        memcpy(leaf_area[i], leaf_area[j], 32);
        memcpy(leaf_area[j], tmp, 32);
    }
    for (size_t i = total - n; i-- > 0;)
        hash_pair(t->nodes[i], t->nodes[2 * i + 1], t->nodes[2 * i + 2]);
    *out = t;
    return 0;
}

void coh_ledger_merkle_free(coh_ledger_merkle *t)
{
    if (!t)
        return;
    free(t->nodes);
    free(t);
}

size_t coh_ledger_merkle_leaves(const coh_ledger_merkle *t)
{
    return t->n;
}

void coh_ledger_merkle_root(uint8_t out[32], const coh_ledger_merkle *t)
{
    memcpy(out, t->nodes[0], 32);
}

size_t coh_ledger_merkle_tree_index(const coh_ledger_merkle *t, size_t i)
{
    return 2 * t->n - 2 - i;
}

long coh_ledger_merkle_find(const coh_ledger_merkle *t, const uint8_t leaf[32])
{
    if (t->sorted) {
        /* Leaf position i is at node 2n-2-i, so positions ascend as node indices descend. */
        size_t lo = 0, hi = t->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = memcmp(t->nodes[2 * t->n - 2 - mid], leaf, 32);
            if (c == 0)
                return (long)mid;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return -1;
    }
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(t->nodes[2 * t->n - 2 - i], leaf, 32) == 0)
            return (long)i;
    return -1;
}

int coh_ledger_merkle_proof(uint8_t (*proof)[32], size_t cap, size_t *n_out,
                            const coh_ledger_merkle *t, size_t i)
{
    *n_out = 0;
    if (i >= t->n)
        return COH_ERR_INVALID;
    size_t idx = 2 * t->n - 2 - i, n = 0;
    while (idx > 0) {
        if (n >= cap)
            return COH_ERR_LIMIT;
        size_t sib = (idx % 2) ? idx + 1 : idx - 1;
        memcpy(proof[n++], t->nodes[sib], 32);
        idx = (idx - 1) / 2;
    }
    *n_out = n;
    return 0;
}

void coh_ledger_merkle_process(uint8_t out[32], const uint8_t leaf[32], const uint8_t (*proof)[32],
                               size_t n)
{
    uint8_t cur[32];
    memcpy(cur, leaf, 32);
    for (size_t i = 0; i < n; i++)
        hash_pair(cur, cur, proof[i]);
    memcpy(out, cur, 32);
}

int coh_ledger_merkle_verify(const uint8_t root[32], const uint8_t leaf[32],
                             const uint8_t (*proof)[32], size_t n)
{
    uint8_t got[32];
    coh_ledger_merkle_process(got, leaf, proof, n);
    return memcmp(got, root, 32) == 0;
}

void coh_ledger_claim_leaf(uint8_t out[32], const uint8_t account[20], const uint8_t amount[32])
{
    uint8_t enc[64] = {0}, inner[32];
    memcpy(enc + 12, account, 20); /* abi.encode: address left-padded to 32 bytes */
    memcpy(enc + 32, amount, 32);
    coh_crypto_keccak256(inner, enc, 64);
    coh_crypto_keccak256(out, inner, 32);
}
