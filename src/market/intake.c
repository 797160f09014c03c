/*
 * intake: the hot path of a contribution. Opening and validating a record must not cost a
 * sodium_malloc per step (each is several syscalls: mmap, mprotect, mlock), so:
 *   - each thread owns one secure buffer, allocated once, wiped after every record;
 *   - request secret keys, once unwrapped, stay in one secure cache keyed by request id and a
 *     digest of the wrapped key (a re-wrapped key never matches a stale entry), until the
 *     request is shredded (coh_market_intake_forget) or the slot is reused.
 * Plaintext still lives only in sodium_malloc memory and never outlives the call.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MAX_RECORD 65536
#define TLS_CAP (2 * MAX_RECORD + 2 + 32)
#define CACHE_SLOTS 64

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    sodium_free(p);
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, tls_free);
}

/* This thread's secure buffer: plaintext | scratch | 32-byte key. */
static uint8_t *tls_buffer(void)
{
    pthread_once(&tls_once, tls_init);
    uint8_t *b = pthread_getspecific(tls_key);
    if (!b && (b = sodium_malloc(TLS_CAP)) != NULL) {
        if (pthread_setspecific(tls_key, b) != 0) {
            sodium_free(b);
            b = NULL;
        }
    }
    return b;
}

struct slot {
    char id[COH_HASH_HEX_SIZE];
    uint8_t digest[32]; /* BLAKE2b of the wrapped key */
    uint64_t used;      /* LRU clock; 0: empty */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[CACHE_SLOTS];
static uint8_t *cache_keys; /* CACHE_SLOTS x 32 bytes, sodium_malloc'd */
static uint64_t cache_clock;

/* Copies the cached key into sk and returns 1, or returns 0. */
static int cache_get(uint8_t sk[32], const char *id, const uint8_t digest[32])
{
    int hit = 0;
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; cache_keys && i < CACHE_SLOTS && !hit; i++) {
        if (slots[i].used && strcmp(slots[i].id, id) == 0 &&
            sodium_memcmp(slots[i].digest, digest, 32) == 0) {
            memcpy(sk, cache_keys + 32 * i, 32);
            slots[i].used = ++cache_clock;
            hit = 1;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const char *id, const uint8_t digest[32], const uint8_t sk[32])
{
    pthread_mutex_lock(&cache_mu);
    if (!cache_keys && (cache_keys = sodium_malloc(CACHE_SLOTS * 32)) != NULL)
        sodium_memzero(cache_keys, CACHE_SLOTS * 32);
    if (cache_keys) {
        int victim = 0;
        for (int i = 1; i < CACHE_SLOTS; i++)
            if (slots[i].used < slots[victim].used)
                victim = i;
        snprintf(slots[victim].id, sizeof slots[victim].id, "%s", id);
        memcpy(slots[victim].digest, digest, 32);
        memcpy(cache_keys + 32 * victim, sk, 32);
        slots[victim].used = ++cache_clock;
    }
    pthread_mutex_unlock(&cache_mu);
}

void coh_market_intake_forget(const char *id)
{
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; cache_keys && i < CACHE_SLOTS; i++) {
        if (slots[i].used && strcmp(slots[i].id, id) == 0) {
            sodium_memzero(cache_keys + 32 * i, 32);
            memset(&slots[i], 0, sizeof slots[i]);
        }
    }
    pthread_mutex_unlock(&cache_mu);
}

_Static_assert(sizeof((struct slot *)0)->id == 67, "cached ids are 0x + 64 hex");

size_t coh_market_intake_cached(char (*ids)[COH_HASH_HEX_SIZE], size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; cache_keys && i < CACHE_SLOTS && n < max; i++)
        if (slots[i].used)
            memcpy(ids[n++], slots[i].id, sizeof slots[i].id); /* both 67 bytes, terminated */
    pthread_mutex_unlock(&cache_mu);
    return n;
}

int coh_market_intake_check(const coh_secbuf *master, const char *id, const uint8_t *wrapped,
                            size_t wrapped_len, const uint8_t pk[32], const coh_market_schema *s,
                            const uint8_t *ct, size_t ct_len, coh_err *err)
{
    if (ct_len < crypto_box_SEALBYTES || ct_len - crypto_box_SEALBYTES > MAX_RECORD)
        return coh_err_set(err, COH_ERR_INVALID, "sealed record has the wrong size");
    uint8_t *buf = tls_buffer();
    if (!buf)
        return coh_err_set(err, COH_ERR_NOMEM, "out of secure memory");
    uint8_t *sk = buf + TLS_CAP - 32, digest[32];
    crypto_generichash(digest, sizeof digest, wrapped, wrapped_len, NULL, 0);
    if (!cache_get(sk, id, digest)) {
        coh_secbuf *k = NULL;
        if (coh_market_reqkey_unwrap(&k, master, id, wrapped, wrapped_len) != 0) {
            coh_secbuf_free(k);
            return coh_err_set(err, COH_ERR_CONFLICT, "the request's key is not available");
        }
        memcpy(sk, coh_secbuf_data(k), 32);
        coh_secbuf_free(k);
        cache_put(id, digest, sk);
    }
    size_t len = ct_len - crypto_box_SEALBYTES;
    int rc;
    if (crypto_box_seal_open(buf, ct, ct_len, pk, sk) != 0)
        rc = coh_err_set(err, COH_ERR_INVALID,
                         "sealed does not open with this request's public key (seal the record "
                         "with crypto_box_seal to public_key)");
    else
        rc = coh_market_record_check(s, buf, len, buf + len, TLS_CAP - 32 - len, err);
    sodium_memzero(buf, len);
    sodium_memzero(sk, 32);
    return rc;
}
