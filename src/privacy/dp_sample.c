/*
 * dp_sample: exact samplers from Canonne, Kamath and Steinke, "The Discrete Gaussian for
 * Differential Privacy" (NeurIPS 2020), Algorithms 1-3.
 *
 * Everything is integer arithmetic on rationals: Bernoulli(num/den) is "uniform integer below
 * den is below num", with the uniform drawn by rejection from CSPRNG bits, so no floating
 * point rounding can bias or fingerprint the noise (Mironov 2012). Parameters are bounded so
 * that every intermediate fits in 128 bits: the Gaussian needs p <= 2^40, q <= 2^20, and a
 * Laplace candidate beyond 2^32 (probability below exp(-2^11)) is redrawn.
 *
 * Timing: the number of loop iterations depends on the sample, as in the paper; the paper's
 * constant-time remarks apply to a fixed iteration budget we do not impose. Releases are
 * batch jobs whose per-sample timing is not observable by data recipients.
 */
#include "privacy/internal.h"

typedef unsigned __int128 u128;

static u128 below128(coh_dp_rng *r, u128 n)
{
    if (n <= (u128)UINT64_MAX)
        return coh_dp_rng_below(r, (uint64_t)n);
    uint64_t hi_n = (uint64_t)((n - 1) >> 64);
    uint64_t mask = UINT64_MAX >> __builtin_clzll(hi_n);
    for (;;) {
        u128 x = ((u128)(coh_dp_rng_u64(r) & mask) << 64) | coh_dp_rng_u64(r);
        if (x < n)
            return x;
    }
}

/* Bernoulli(exp(-num/den)) for num/den in [0,1] (Algorithm 1, first case). */
static int bern_exp_unit(coh_dp_rng *r, u128 num, u128 den)
{
    uint64_t k = 1;
    for (;;) {
        /* A ~ Bernoulli(gamma / k) = [U < num] with U uniform below den * k */
        if (below128(r, den * k) >= num)
            break;
        k++;
    }
    return (int)(k & 1);
}

static int bern_exp128(coh_dp_rng *r, u128 num, u128 den)
{
    u128 whole = num / den;
    for (u128 i = 0; i < whole; i++)
        if (!bern_exp_unit(r, 1, 1))
            return 0;
    return bern_exp_unit(r, num % den, den);
}

int coh_dp_bernoulli_exp(coh_dp_rng *r, uint64_t num, uint64_t den)
{
    return bern_exp128(r, num, den ? den : 1);
}

/* Fast path of Bernoulli(exp(-1)): uniform below k is 0 with probability 1/k. */
static int bern_exp_one(coh_dp_rng *r)
{
    uint64_t k = 1;
    while (coh_dp_rng_below(r, k) == 0)
        k++;
    return (int)(k & 1);
}

int64_t coh_dp_laplace_sample(coh_dp_rng *r, uint64_t s, uint64_t t)
{
    if (s == 0 || t == 0)
        return 0;
    for (;;) {
        uint64_t u = coh_dp_rng_below(r, t);
        if (!bern_exp_unit(r, u, t))
            continue;
        uint64_t v = 0;
        while (bern_exp_one(r))
            v++;
        u128 x = (u128)u + (u128)t * v;
        u128 y = x / s;
        int b = (int)(coh_dp_rng_u64(r) & 1);
        if (b && y == 0)
            continue;
        if (y >= ((u128)1 << 62))
            continue; /* unreachable in practice; keeps the result in int64 */
        return b ? -(int64_t)y : (int64_t)y;
    }
}

static uint64_t isqrt_u64(uint64_t x)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > x)
        bit >>= 2;
    while (bit) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

int64_t coh_dp_gaussian_sample(coh_dp_rng *r, uint64_t p, uint64_t q)
{
    if (p == 0 || q == 0)
        return 0;
    uint64_t t = isqrt_u64(p / q) + 1; /* floor(sigma) + 1 */
    u128 den = (u128)2 * p * t * t * q;
    for (;;) {
        int64_t y = coh_dp_laplace_sample(r, 1, t);
        uint64_t ay = y < 0 ? (uint64_t)(-y) : (uint64_t)y;
        if (ay >= ((uint64_t)1 << 32))
            continue;
        /* C ~ Bernoulli(exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))) with sigma^2 = p/q:
           the exponent is (|y| t q - p)^2 / (2 p t^2 q) */
        u128 a = (u128)ay * t * q;
        u128 diff = a >= p ? a - p : p - a;
        if (bern_exp128(r, diff * diff, den))
            return y;
    }
}
