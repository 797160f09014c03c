/*
 * rng: the randomness behind every noise sample and the release shuffle.
 *
 * randombytes_buf costs one getrandom() syscall per call (~2.6 M calls/s here), far too
 * slow for millions of samples, so a 32-byte key from it seeds a ChaCha20 keystream that is
 * consumed from a 4 KiB buffer. Each refill takes the first 32 bytes of the new block as the
 * next key (fast key erasure): a later memory disclosure cannot recover earlier output.
 * The state lives in sodium_malloc memory and is wiped on free.
 */
#include "privacy/internal.h"

#include <sodium.h>
#include <string.h>

void coh_dp_rng_refill(coh_dp_rng *r)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    memcpy(nonce, &r->nonce, sizeof r->nonce);
    r->nonce++;
    crypto_stream_chacha20(r->buf, COH_RNG_BUF, nonce, r->key);
    memcpy(r->key, r->buf, 32);
    sodium_memzero(r->buf, 32);
    r->pos = 32;
}

static int rng_make(coh_dp_rng **out, const uint8_t *seed)
{
    *out = NULL;
    if (sodium_init() < 0)
        return COH_ERR_CRYPTO;
    coh_dp_rng *r = coh_sec_alloc(sizeof *r);
    if (!r)
        return COH_ERR_NOMEM;
    if (seed)
        memcpy(r->key, seed, 32);
    else
        randombytes_buf(r->key, 32);
    coh_dp_rng_refill(r);
    *out = r;
    return 0;
}

int coh_dp_rng_new(coh_dp_rng **out)
{
    return rng_make(out, NULL);
}

int coh_dp_rng_new_seeded(coh_dp_rng **out, const uint8_t seed[32])
{
    return rng_make(out, seed);
}

void coh_dp_rng_free(coh_dp_rng *r)
{
    coh_sec_free(r);
}

uint64_t coh_dp_rng_below(coh_dp_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* rejection from the smallest covering power of two: exact, < 2 draws on average */
    uint64_t mask = UINT64_MAX >> __builtin_clzll(n - 1);
    for (;;) {
        uint64_t x = coh_dp_rng_u64(r) & mask;
        if (x < n)
            return x;
    }
}
