/*
 * fuzz_rlp: RLP decoding (raw transactions read back from the node). Validates, walks every
 * item recursively, reads strings as integers, and decodes the input as an EIP-1559
 * transaction (type byte, fields, signature recovery). Properties: a valid item's children
 * stay inside its payload, and a decoded transaction re-encodes to the same bytes.
 */
#include "chain/chain.h"
#include "fuzz.h"

#include <string.h>

static const uint8_t *g_lo, *g_hi;

static void walk(const coh_chain_rlp_item *it, int depth)
{
    FUZZ_CHECK(depth <= COH_CHAIN_RLP_MAX_DEPTH + 1);
    FUZZ_CHECK(it->payload >= g_lo && it->payload + it->len <= g_hi);
    if (!it->is_list) {
        uint8_t w[32];
        uint64_t u;
        FUZZ_IGNORE(coh_chain_rlp_to_uint(w, sizeof w, it));
        FUZZ_IGNORE(coh_chain_rlp_to_u64(&u, it));
        return;
    }
    size_t pos = 0;
    coh_chain_rlp_item child;
    int r;
    while ((r = coh_chain_rlp_next(&child, &pos, it)) == 1)
        walk(&child, depth + 1);
    FUZZ_CHECK(r == 0); /* validate() accepted the whole tree */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_lo = data;
    g_hi = data + size;
    coh_chain_rlp_item it;
    size_t used = 0;
    if (coh_chain_rlp_parse(&it, &used, data, size) == 0)
        FUZZ_CHECK(used <= size && it.payload + it.len <= g_hi);
    if (coh_chain_rlp_validate(data, size) == 0) {
        FUZZ_CHECK(coh_chain_rlp_parse(&it, &used, data, size) == 0 && used == size);
        walk(&it, 0);
    }
    coh_chain_tx tx;
    uint8_t sender[20], hash[32];
    if (coh_chain_tx_decode(&tx, sender, hash, data, size) == 0) {
        /* The unsigned encoding is the signed list's first nine fields. */
        FUZZ_CHECK(tx.data >= g_lo && tx.data + tx.data_len <= g_hi);
        coh_chain_buf b;
        coh_chain_buf_init(&b);
        coh_chain_tx_encode_unsigned(&b, &tx);
        coh_chain_rlp_item signed_list, unsigned_list;
        FUZZ_CHECK(!b.oom && b.len > 1 && b.data[0] == 0x02);
        FUZZ_CHECK(coh_chain_rlp_parse(&signed_list, &used, data + 1, size - 1) == 0);
        FUZZ_CHECK(coh_chain_rlp_parse(&unsigned_list, &used, b.data + 1, b.len - 1) == 0);
        FUZZ_CHECK(unsigned_list.len < signed_list.len &&
                   memcmp(unsigned_list.payload, signed_list.payload, unsigned_list.len) == 0);
        coh_chain_buf_clear(&b);
    }
    return 0;
}
