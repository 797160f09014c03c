/*
 * ratelimit: token buckets keyed by a string (an address or a client IP), in a fixed-size
 * table indexed by SipHash under a random key, so nobody can aim collisions at a victim's
 * bucket. Colliding keys share a bucket until it is full again (conservative: a collision can
 * only limit more, never reset someone's limit). Memory is fixed whatever the key spray.
 * One table per limited action (sign-in, request creation, consents, contributions), each with
 * its own rate from the settings; coh_http_rate_limited answers 429 with Retry-After.
 */
#include "http/http.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RL_SLOTS 4096

struct bucket {
    char key[64];
    double tokens;
    double last; /* seconds, monotonic */
};

struct coh_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    struct bucket b[RL_SLOTS];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct coh_ratelimit *coh_ratelimit_new(double per_second, double burst)
{
    struct coh_ratelimit *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->rate = per_second;
    r->burst = burst;
    crypto_shorthash_keygen(r->hash_key);
    return r;
}

void coh_ratelimit_free(struct coh_ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static size_t slot_of(const struct coh_ratelimit *r, const char *key)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const uint8_t *)key, strlen(key), r->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v % RL_SLOTS);
}

int coh_ratelimit_take(struct coh_ratelimit *r, const char *key, int *retry_after)
{
    double t = now_s();
    pthread_mutex_lock(&r->mu);
    struct bucket *b = &r->b[slot_of(r, key)];
    if (b->key[0] == '\0') {
        b->tokens = r->burst;
        b->last = t;
    }
    b->tokens += (t - b->last) * r->rate;
    if (b->tokens > r->burst)
        b->tokens = r->burst;
    b->last = t;
    if (strncmp(b->key, key, sizeof b->key - 1) != 0 && b->tokens >= r->burst) {
        /* The previous owner is idle (bucket full again): take the slot over. */
        strncpy(b->key, key, sizeof b->key - 1);
        b->key[sizeof b->key - 1] = '\0';
    }
    int ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else if (retry_after)
        *retry_after = (int)((1.0 - b->tokens) / r->rate) + 1;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

int coh_http_rate_limited(struct coh_http_req *req, struct coh_ratelimit *r, const char *key,
                          const char *what)
{
    int retry = 1;
    if (!r || coh_ratelimit_take(r, key, &retry))
        return 0;
    char hdr[48];
    snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", retry);
    coh_http_problem_headers(req, COH_PROBLEM_RATE_LIMITED, hdr, "too many %s; retry in %d s", what,
                             retry);
    return 1;
}
