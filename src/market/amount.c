/*
 * amount: token amounts the rules compute (a reward times a count), uint256 big-endian.
 */
#include "market/market.h"

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
