/*
 * bench_crypto: throughput of the crypto module beside its baselines, in the same process
 * and run: coh_crypto_sign / coh_crypto_recover against raw libsecp256k1 calls (the wrapper
 * should cost under 5%), and our Keccak-256 against libsodium's SHA-256 on 64-byte and
 * 1 MiB inputs; an EAS off-chain attestation read and verified (JSON, EIP-712, recovery, uid)
 * against the recovery alone it cannot avoid. Each figure is the median of 5 alternating
 * repetitions. Prints markdown.
 */
#include "crypto/crypto.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, REPS, sizeof *v, cmp_d);
    return v[REPS / 2];
}

static volatile uint8_t g_sink; /* keeps results observable so loops are not elided */

static const secp256k1_context *g_raw;
static coh_secbuf *g_key;
static uint8_t g_sk[32];
static uint8_t g_sigs[256][65];
static uint8_t g_hashes[256][32];

static double sign_ours(int n)
{
    uint8_t sig[65];
    double t = now();
    for (int i = 0; i < n; i++) {
        if (coh_crypto_sign(sig, g_key, g_hashes[i & 255]) != 0)
            abort();
        g_sink ^= sig[0];
    }
    return n / (now() - t);
}

static double sign_raw(int n)
{
    secp256k1_ecdsa_recoverable_signature rs;
    uint8_t sig[64];
    int recid;
    double t = now();
    for (int i = 0; i < n; i++) {
        if (!secp256k1_ecdsa_sign_recoverable(g_raw, &rs, g_hashes[i & 255], g_sk, NULL, NULL))
            abort();
        secp256k1_ecdsa_recoverable_signature_serialize_compact(g_raw, sig, &recid, &rs);
        g_sink ^= sig[0];
    }
    return n / (now() - t);
}

static double recover_ours(int n)
{
    uint8_t addr[20];
    double t = now();
    for (int i = 0; i < n; i++) {
        if (coh_crypto_recover(addr, g_hashes[i & 255], g_sigs[i & 255], 65) != 0)
            abort();
        g_sink ^= addr[0];
    }
    return n / (now() - t);
}

static double recover_raw(int n)
{
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey pk;
    double t = now();
    for (int i = 0; i < n; i++) {
        const uint8_t *s = g_sigs[i & 255];
        if (!secp256k1_ecdsa_recoverable_signature_parse_compact(g_raw, &rs, s, s[64] - 27) ||
            !secp256k1_ecdsa_recover(g_raw, &pk, &rs, g_hashes[i & 255]))
            abort();
        g_sink ^= pk.data[0];
    }
    return n / (now() - t);
}

static double hash_mbs(int keccak, const uint8_t *buf, size_t len, size_t total)
{
    uint8_t h[32];
    size_t iters = total / len;
    double t = now();
    for (size_t i = 0; i < iters; i++) {
        if (keccak)
            coh_crypto_keccak256(h, buf, len);
        else
            crypto_hash_sha256(h, buf, len);
        g_sink ^= h[0];
    }
    return (double)(iters * len) / (now() - t) / 1e6;
}

static json_t *g_att;
static coh_crypto_eas_domain g_eas;

static double eas_read(int n)
{
    double t = now();
    for (int i = 0; i < n; i++) {
        coh_crypto_eas_attestation a;
        coh_err err = {0};
        if (coh_crypto_eas_read(&a, g_att, &g_eas, &err) != 0)
            abort();
        g_sink ^= a.signer[0];
        coh_crypto_eas_clear(&a);
    }
    return n / (now() - t);
}

static void row_pair(const char *what, const char *unit, double (*ours)(int), double (*raw)(int),
                     int n, const char *baseline)
{
    double a[REPS], b[REPS];
    for (int r = 0; r < REPS; r++) {
        a[r] = ours(n);
        b[r] = raw(n);
    }
    double ma = median(a), mb = median(b);
    printf("| %s | %.0f %s | %s: %.0f %s | %.3f |\n", what, ma, unit, baseline, mb, unit, ma / mb);
}

static void row_hash(const char *what, const uint8_t *buf, size_t len, size_t total)
{
    double a[REPS], b[REPS];
    for (int r = 0; r < REPS; r++) {
        a[r] = hash_mbs(1, buf, len, total);
        b[r] = hash_mbs(0, buf, len, total);
    }
    double ma = median(a), mb = median(b);
    printf("| %s | %.0f MB/s | libsodium SHA-256: %.0f MB/s | %.3f |\n", what, ma, mb, ma / mb);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    /* The raw baseline gets a context set up exactly as the wrapper's. */
    secp256k1_context *raw = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    if (!secp256k1_context_randomize(raw, seed))
        return 1;
    g_raw = raw;
    if (coh_crypto_seckey_generate(&g_key) != 0)
        return 1;
    memcpy(g_sk, coh_secbuf_data(g_key), 32);
    for (int i = 0; i < 256; i++) {
        randombytes_buf(g_hashes[i], 32);
        if (coh_crypto_sign(g_sigs[i], g_key, g_hashes[i]) != 0)
            return 1;
    }
    size_t big = 1 << 20;
    uint8_t *buf = malloc(big);
    if (!buf)
        return 1;
    randombytes_buf(buf, big);

    printf("| operation | ours | baseline (same run) | ours / baseline |\n");
    printf("|---|---|---|---|\n");
    row_pair("secp256k1 recoverable sign (coh_crypto_sign)", "sig/s", sign_ours, sign_raw, 8000,
             "libsecp256k1 sign_recoverable");
    row_pair("secp256k1 recover to address (coh_crypto_recover)", "rec/s", recover_ours,
             recover_raw, 6000, "libsecp256k1 parse + recover");
    json_t *vec = json_load_file(COH_VECTORS_DIR "/eas/offchain.json", 0, NULL);
    const json_t *c = json_array_get(json_object_get(vec, "cases"), 1);
    const json_t *dj = json_object_get(c, "domain");
    g_att = json_object_get(c, "attestation");
    snprintf(g_eas.version, sizeof g_eas.version, "%s",
             json_string_value(json_object_get(dj, "version")));
    g_eas.chain_id = (uint64_t)json_integer_value(json_object_get(dj, "chain_id"));
    if (!g_att || coh_crypto_address_parse(g_eas.contract,
                                           json_string_value(json_object_get(dj, "address"))))
        return 1;
    row_pair("EAS attestation read and verified (coh_crypto_eas_read)", "att/s", eas_read,
             recover_ours, 4000, "coh_crypto_recover alone");
    json_decref(vec);
    row_hash("Keccak-256, 64 B inputs", buf, 64, 64u << 20);
    row_hash("Keccak-256, 1 MiB inputs", buf, big, 256u << 20);
    printf("\nREPS=%d alternating runs, medians; 1 core. Wrapper extras: sign checks the key "
           "buffer and appends v; recover also checks v and low s, serializes the key and "
           "hashes it to an address.\n",
           REPS);
    sodium_memzero(g_sk, sizeof g_sk);
    coh_secbuf_free(g_key);
    secp256k1_context_destroy(raw);
    free(buf);
    return 0;
}
