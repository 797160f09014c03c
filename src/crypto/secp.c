/*
 * secp: Ethereum accounts over libsecp256k1 (keys, addresses, EIP-55, recoverable ECDSA,
 * EIP-191, did:pkh). One context for the process, created with SECP256K1_CONTEXT_NONE and
 * randomized once (blinding against side channels); after that it is only read, which
 * libsecp256k1 allows from many threads. Private keys are read only from coh_secbuf memory
 * and every stack copy of secret material is wiped before return.
 */
#include "crypto/crypto.h"

#include <inttypes.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static secp256k1_context *g_ctx;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void ctx_init(void)
{
    if (sodium_init() < 0)
        return;
    secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!c)
        return;
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    int ok = secp256k1_context_randomize(c, seed);
    sodium_memzero(seed, sizeof seed);
    if (!ok) {
        secp256k1_context_destroy(c);
        return;
    }
    g_ctx = c;
}

static const secp256k1_context *ctx(void)
{
    pthread_once(&g_once, ctx_init);
    return g_ctx;
}

/* coh_secbuf_data takes a non-const pointer; the key bytes are only read here. */
static const uint8_t *key_bytes(const coh_secbuf *k)
{
    if (!k || coh_secbuf_len(k) != COH_CRYPTO_SECKEY_BYTES)
        return NULL;
    return coh_secbuf_data((coh_secbuf *)k);
}

int coh_crypto_seckey_from_bytes(coh_secbuf **out, const uint8_t in[32])
{
    *out = NULL;
    const secp256k1_context *c = ctx();
    if (!c)
        return COH_ERR_CRYPTO;
    if (!secp256k1_ec_seckey_verify(c, in))
        return COH_CRYPTO_ESECKEY;
    coh_secbuf *k = coh_secbuf_new(32);
    if (!k)
        return COH_ERR_NOMEM;
    memcpy(coh_secbuf_data(k), in, 32);
    *out = k;
    return 0;
}

int coh_crypto_seckey_generate(coh_secbuf **out)
{
    *out = NULL;
    const secp256k1_context *c = ctx();
    if (!c)
        return COH_ERR_CRYPTO;
    coh_secbuf *k = coh_secbuf_new(32);
    if (!k)
        return COH_ERR_NOMEM;
    /* Draw straight into secure memory; a draw >= n or 0 (odds ~2^-128) is redrawn. */
    do
        randombytes_buf(coh_secbuf_data(k), 32);
    while (!secp256k1_ec_seckey_verify(c, coh_secbuf_data(k)));
    *out = k;
    return 0;
}

int coh_crypto_seckey_from_hex(coh_secbuf **out, const char *hex)
{
    *out = NULL;
    if (!ctx()) /* also initializes libsodium, which sodium_malloc needs */
        return COH_ERR_CRYPTO;
    coh_secbuf *tmp = coh_secbuf_new(32);
    if (!tmp)
        return COH_ERR_NOMEM;
    int rc = COH_CRYPTO_EHEX;
    if (coh_hex_decode_exact(coh_secbuf_data(tmp), 32, hex) == 0)
        rc = coh_crypto_seckey_from_bytes(out, coh_secbuf_data(tmp));
    coh_secbuf_free(tmp);
    return rc;
}

int coh_crypto_pubkey_from_seckey(uint8_t out[65], const coh_secbuf *seckey)
{
    memset(out, 0, 65);
    const secp256k1_context *c = ctx();
    const uint8_t *sk = key_bytes(seckey);
    if (!c)
        return COH_ERR_CRYPTO;
    if (!sk)
        return COH_CRYPTO_ELENGTH;
    secp256k1_pubkey pk;
    if (!secp256k1_ec_pubkey_create(c, &pk, sk))
        return COH_CRYPTO_ESECKEY;
    size_t len = 65;
    if (!secp256k1_ec_pubkey_serialize(c, out, &len, &pk, SECP256K1_EC_UNCOMPRESSED))
        return COH_ERR_CRYPTO;
    return 0;
}

int coh_crypto_address_from_pubkey(uint8_t out[20], const uint8_t pubkey[65])
{
    uint8_t h[32];
    memset(out, 0, 20);
    if (pubkey[0] != 0x04)
        return COH_CRYPTO_ELENGTH;
    coh_crypto_keccak256(h, pubkey + 1, 64);
    memcpy(out, h + 12, 20);
    return 0;
}

int coh_crypto_address_from_seckey(uint8_t out[20], const coh_secbuf *seckey)
{
    uint8_t pub[65];
    int rc = coh_crypto_pubkey_from_seckey(pub, seckey);
    if (rc) {
        memset(out, 0, 20);
        return rc;
    }
    return coh_crypto_address_from_pubkey(out, pub);
}

/* ---- EIP-55 ------------------------------------------------------------------------------ */

/* Letter i of the lowercase hex is upper-cased when nibble i of keccak(lower hex) >= 8. */
static void eip55_apply(char hex40[40])
{
    uint8_t h[32];
    coh_crypto_keccak256(h, hex40, 40);
    for (int i = 0; i < 40; i++) {
        int nib = (i & 1) ? (h[i / 2] & 0x0f) : (h[i / 2] >> 4);
        if (hex40[i] >= 'a' && hex40[i] <= 'f' && nib >= 8)
            hex40[i] = (char)(hex40[i] - 'a' + 'A');
    }
}

void coh_crypto_address_format(char out[COH_ADDR_HEX_SIZE], const uint8_t addr[20])
{
    coh_hex_encode(out, addr, 20, 1);
    eip55_apply(out + 2);
}

static int address_parse(uint8_t out[20], const char *text, int require_eip55)
{
    memset(out, 0, 20);
    if (!text || strlen(text) != 42 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
        return COH_CRYPTO_EADDRESS;
    int upper = 0, lower = 0;
    for (int i = 2; i < 42; i++) {
        char ch = text[i];
        if (ch >= 'a' && ch <= 'f')
            lower = 1;
        else if (ch >= 'A' && ch <= 'F')
            upper = 1;
        else if (!(ch >= '0' && ch <= '9'))
            return COH_CRYPTO_EADDRESS;
    }
    uint8_t a[20];
    if (coh_hex_decode_exact(a, 20, text + 2) != 0)
        return COH_CRYPTO_EADDRESS;
    if (require_eip55 || (upper && lower)) {
        char want[COH_ADDR_HEX_SIZE];
        coh_crypto_address_format(want, a);
        if (memcmp(want + 2, text + 2, 40) != 0 || (require_eip55 && text[1] != 'x'))
            return COH_CRYPTO_ECHECKSUM;
    }
    memcpy(out, a, 20);
    return 0;
}

int coh_crypto_address_parse(uint8_t out[20], const char *text)
{
    return address_parse(out, text, 0);
}

int coh_crypto_address_parse_eip55(uint8_t out[20], const char *text)
{
    return address_parse(out, text, 1);
}

/* ---- signatures -------------------------------------------------------------------------- */

int coh_crypto_sign(uint8_t sig[65], const coh_secbuf *seckey, const uint8_t hash[32])
{
    memset(sig, 0, 65);
    const secp256k1_context *c = ctx();
    const uint8_t *sk = key_bytes(seckey);
    if (!c)
        return COH_ERR_CRYPTO;
    if (!sk)
        return COH_CRYPTO_ELENGTH;
    secp256k1_ecdsa_recoverable_signature rs;
    /* NULL noncefp = RFC 6979 (HMAC-SHA256); libsecp256k1 always produces low s. */
    if (!secp256k1_ecdsa_sign_recoverable(c, &rs, hash, sk, NULL, NULL))
        return COH_CRYPTO_ESECKEY;
    int recid = 0;
    if (!secp256k1_ecdsa_recoverable_signature_serialize_compact(c, sig, &recid, &rs))
        return COH_ERR_CRYPTO;
    sig[64] = (uint8_t)(27 + recid);
    return 0;
}

int coh_crypto_recover(uint8_t addr[20], const uint8_t hash[32], const uint8_t *sig, size_t sig_len)
{
    memset(addr, 0, 20);
    const secp256k1_context *c = ctx();
    if (!c)
        return COH_ERR_CRYPTO;
    if (!sig || sig_len != 65)
        return COH_CRYPTO_ELENGTH;
    int v = sig[64];
    if (v == 27 || v == 28)
        v -= 27;
    else if (v != 0 && v != 1)
        return COH_CRYPTO_EV;
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(c, &rs, sig, v))
        return COH_CRYPTO_ESIG;
    secp256k1_ecdsa_signature plain;
    if (!secp256k1_ecdsa_recoverable_signature_convert(c, &plain, &rs))
        return COH_CRYPTO_ESIG;
    /* normalize returns 1 when s was high: such signatures are malleable copies (EIP-2). */
    if (secp256k1_ecdsa_signature_normalize(c, NULL, &plain))
        return COH_CRYPTO_EHIGHS;
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recover(c, &pk, &rs, hash))
        return COH_CRYPTO_ERECOVER;
    uint8_t pub[65];
    size_t len = sizeof pub;
    if (!secp256k1_ec_pubkey_serialize(c, pub, &len, &pk, SECP256K1_EC_UNCOMPRESSED))
        return COH_ERR_CRYPTO;
    return coh_crypto_address_from_pubkey(addr, pub);
}

int coh_crypto_verify(const uint8_t hash[32], const uint8_t *sig, size_t sig_len,
                      const uint8_t addr[20])
{
    uint8_t got[20];
    int rc = coh_crypto_recover(got, hash, sig, sig_len);
    if (rc)
        return rc;
    return memcmp(got, addr, 20) == 0 ? 0 : COH_CRYPTO_EMISMATCH;
}

/* ---- EIP-191 ----------------------------------------------------------------------------- */

void coh_crypto_personal_hash(uint8_t out[32], const void *msg, size_t len)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix,
                     "\x19"
                     "Ethereum Signed Message:\n%zu",
                     len);
    coh_crypto_keccak st;
    coh_crypto_keccak_init(&st);
    coh_crypto_keccak_update(&st, prefix, (size_t)n);
    coh_crypto_keccak_update(&st, msg, len);
    coh_crypto_keccak_final(&st, out);
}

/* ---- did:pkh ----------------------------------------------------------------------------- */

#define DID_PREFIX "did:pkh:eip155:"

void coh_crypto_did_format(char out[COH_CRYPTO_DID_MAX], uint64_t chain_id, const uint8_t addr[20])
{
    char a[COH_ADDR_HEX_SIZE];
    coh_crypto_address_format(a, addr);
    snprintf(out, COH_CRYPTO_DID_MAX, DID_PREFIX "%" PRIu64 ":%s", chain_id, a);
}

int coh_crypto_did_parse(uint64_t *chain_id, uint8_t addr[20], const char *did)
{
    *chain_id = 0;
    memset(addr, 0, 20);
    size_t plen = strlen(DID_PREFIX);
    if (!did || strncmp(did, DID_PREFIX, plen) != 0)
        return COH_CRYPTO_EDID;
    const char *p = did + plen;
    /* CAIP-2 reference: decimal chain id, no sign, no leading zero, fits uint64. */
    uint64_t v = 0;
    const char *start = p;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return COH_CRYPTO_EDID;
        v = v * 10 + d;
        p++;
    }
    if (p == start || *p != ':' || (*start == '0' && p - start > 1))
        return COH_CRYPTO_EDID;
    int rc = coh_crypto_address_parse(addr, p + 1);
    if (rc)
        return rc;
    *chain_id = v;
    return 0;
}

/* ---- key files --------------------------------------------------------------------------- */

int coh_crypto_seckey_save(const char *path, const coh_secbuf *seckey, coh_err *err)
{
    const uint8_t *sk = key_bytes(seckey);
    if (!sk)
        return coh_err_set(err, COH_CRYPTO_ELENGTH, "key_file: key must be 32 bytes");
    return coh_key_file_write(path, sk, 32, "key_file", err);
}

int coh_crypto_seckey_load(coh_secbuf **out, const char *path, coh_err *err)
{
    *out = NULL;
    const secp256k1_context *c = ctx();
    if (!c)
        return coh_err_set(err, COH_ERR_CRYPTO, "key_file: cannot initialize secp256k1");
    coh_secbuf *k = NULL;
    int rc = coh_key_file_read(&k, 32, path, "key_file", err);
    if (rc)
        return rc;
    if (!secp256k1_ec_seckey_verify(c, coh_secbuf_data(k))) {
        coh_secbuf_free(k);
        return coh_err_set(err, COH_CRYPTO_ESECKEY, "key_file: %s is not a secp256k1 key", path);
    }
    *out = k;
    return 0;
}
