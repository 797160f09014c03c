/*
 * u256: the one home of uint256 arithmetic (32 bytes, big-endian): decimal text, u64, compare,
 * add, subtract, multiply by a u64, scale by a fraction. Checked operations return 0 or -1
 * (the result does not fit) and leave out unchanged on -1, so out may alias an input.
 */
#include "core/core.h"

#include <string.h>

/* Eight 32-bit limbs, limb[0] the most significant. */
static void to_limbs(uint32_t limb[8], const uint8_t a[32])
{
    for (int i = 0; i < 8; i++)
        limb[i] = (uint32_t)a[4 * i] << 24 | (uint32_t)a[4 * i + 1] << 16 |
                  (uint32_t)a[4 * i + 2] << 8 | a[4 * i + 3];
}

static void from_limbs(uint8_t out[32], const uint32_t limb[8])
{
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(limb[i] >> 24);
        out[4 * i + 1] = (uint8_t)(limb[i] >> 16);
        out[4 * i + 2] = (uint8_t)(limb[i] >> 8);
        out[4 * i + 3] = (uint8_t)limb[i];
    }
}

int coh_u256_from_dec(uint8_t out[32], const char *text)
{
    if (!text || !*text)
        return -1;
    uint8_t v[32] = {0};
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned carry = (unsigned)(*p - '0');
        for (int i = 31; i >= 0; i--) {
            unsigned t = v[i] * 10u + carry;
            v[i] = (uint8_t)t;
            carry = t >> 8;
        }
        if (carry)
            return -1;
    }
    memcpy(out, v, 32);
    return 0;
}

void coh_u256_to_dec(char out[COH_U256_DEC_SIZE], const uint8_t in[32])
{
    uint8_t v[32];
    memcpy(v, in, 32);
    char rev[COH_U256_DEC_SIZE];
    int n = 0;
    int nonzero = 1;
    while (nonzero) {
        unsigned rem = 0;
        nonzero = 0;
        for (int i = 0; i < 32; i++) {
            unsigned t = (rem << 8) | v[i];
            v[i] = (uint8_t)(t / 10);
            rem = t % 10;
            nonzero |= v[i];
        }
        rev[n++] = (char)('0' + rem);
    }
    for (int i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = '\0';
}

void coh_u256_from_u64(uint8_t out[32], uint64_t v)
{
    memset(out, 0, 24);
    for (int i = 0; i < 8; i++)
        out[31 - i] = (uint8_t)(v >> (8 * i));
}

int coh_u256_to_u64(uint64_t *out, const uint8_t v[32])
{
    for (int i = 0; i < 24; i++)
        if (v[i] != 0)
            return -1;
    uint64_t x = 0;
    for (int i = 24; i < 32; i++)
        x = (x << 8) | v[i];
    *out = x;
    return 0;
}

int coh_u256_cmp(const uint8_t a[32], const uint8_t b[32])
{
    int c = memcmp(a, b, 32);
    return (c > 0) - (c < 0);
}

int coh_u256_is_zero(const uint8_t a[32])
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= a[i];
    return acc == 0;
}

int coh_u256_add(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    uint8_t r[32];
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned s = (unsigned)a[i] + b[i] + carry;
        r[i] = (uint8_t)s;
        carry = s >> 8;
    }
    if (carry)
        return -1;
    memcpy(out, r, 32);
    return 0;
}

int coh_u256_sub(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    uint8_t r[32];
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned d = (unsigned)a[i] - b[i] - borrow;
        r[i] = (uint8_t)d;
        borrow = (d >> 8) & 1; /* the subtraction wrapped below zero */
    }
    if (borrow)
        return -1;
    memcpy(out, r, 32);
    return 0;
}

int coh_u256_mul_u64(uint8_t out[32], const uint8_t a[32], uint64_t m)
{
    uint32_t al[8], prod[10] = {0}; /* prod[0] the most significant; 320 bits */
    to_limbs(al, a);
    const uint32_t ml[2] = {(uint32_t)m, (uint32_t)(m >> 32)}; /* least significant first */
    for (int j = 0; j < 2; j++) {
        uint64_t carry = 0;
        for (int i = 7; i >= 0; i--) {
            int k = i + 2 - j; /* limb i of a times limb j of m lands j limbs further up */
            uint64_t t = (uint64_t)al[i] * ml[j] + prod[k] + carry;
            prod[k] = (uint32_t)t;
            carry = t >> 32;
        }
        for (int k = 1 - j; carry && k >= 0; k--) {
            uint64_t t = (uint64_t)prod[k] + carry;
            prod[k] = (uint32_t)t;
            carry = t >> 32;
        }
    }
    if (prod[0] != 0 || prod[1] != 0)
        return -1;
    from_limbs(out, prod + 2);
    return 0;
}

int coh_u256_scale(uint8_t out[32], const uint8_t a[32], uint32_t num, uint32_t den)
{
    if (den == 0)
        return -1;
    uint32_t limb[9] = {0}; /* limb[0] most significant: the product's top 32 bits */
    to_limbs(limb + 1, a);
    uint64_t carry = 0;
    for (int i = 8; i >= 0; i--) {
        uint64_t t = (uint64_t)limb[i] * num + carry;
        limb[i] = (uint32_t)t;
        carry = t >> 32;
    }
    /* carry is 0 here: a < 2^256 and num < 2^32, so the product fits in 288 bits */
    uint64_t rem = 0;
    for (int i = 0; i < 9; i++) {
        uint64_t cur = (rem << 32) | limb[i];
        limb[i] = (uint32_t)(cur / den);
        rem = cur % den;
    }
    if (limb[0] != 0)
        return -1;
    from_limbs(out, limb + 1);
    return 0;
}
