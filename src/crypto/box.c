/*
 * box: thin libsodium wrappers for secrets at rest. Data requests get an X25519 key pair;
 * contributions are sealed to its public key (crypto_box_seal, anonymous sender). Secrets
 * the server must keep (request secret keys, the ledger key) are encrypted with
 * crypto_secretbox under a per-purpose subkey of the master key (crypto_kdf), so a blob
 * wrapped for one purpose cannot be unwrapped as another.
 */
#include "crypto/crypto.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

_Static_assert(COH_CRYPTO_BOX_SEALBYTES == crypto_box_SEALBYTES, "seal overhead");
_Static_assert(COH_CRYPTO_WRAP_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
               "wrap overhead");

_Static_assert(COH_CRYPTO_WRAP_OVERHEAD == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                                               crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "wrap_ad overhead");
_Static_assert(crypto_secretbox_NONCEBYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "both wraps put a 24-byte nonce first");

#define WRAP_SUBKEY_ID 1 /* bump to rotate every wrapped secret at once */

static uint8_t *sec(const coh_secbuf *b)
{
    return coh_secbuf_data((coh_secbuf *)b);
}

int coh_crypto_box_keypair(uint8_t pk[32], coh_secbuf **sk)
{
    *sk = NULL;
    if (sodium_init() < 0)
        return COH_ERR_CRYPTO;
    coh_secbuf *s = coh_secbuf_new(crypto_box_SECRETKEYBYTES);
    if (!s)
        return COH_ERR_NOMEM;
    if (crypto_box_keypair(pk, coh_secbuf_data(s)) != 0) {
        coh_secbuf_free(s);
        memset(pk, 0, 32);
        return COH_ERR_CRYPTO;
    }
    *sk = s;
    return 0;
}

int coh_crypto_box_seal(uint8_t *out, const uint8_t *msg, size_t len, const uint8_t pk[32])
{
    if (sodium_init() < 0)
        return COH_ERR_CRYPTO;
    if (crypto_box_seal(out, msg, len, pk) != 0) {
        memset(out, 0, len + crypto_box_SEALBYTES);
        return COH_ERR_CRYPTO;
    }
    return 0;
}

int coh_crypto_box_open(coh_secbuf **out, const uint8_t *c, size_t c_len, const uint8_t pk[32],
                        const coh_secbuf *sk)
{
    *out = NULL;
    if (sodium_init() < 0)
        return COH_ERR_CRYPTO;
    if (!sk || coh_secbuf_len(sk) != crypto_box_SECRETKEYBYTES)
        return COH_CRYPTO_ELENGTH;
    if (c_len < crypto_box_SEALBYTES)
        return COH_CRYPTO_EDECRYPT;
    coh_secbuf *m = coh_secbuf_new(c_len - crypto_box_SEALBYTES);
    if (!m)
        return COH_ERR_NOMEM;
    if (crypto_box_seal_open(coh_secbuf_data(m), c, c_len, pk, sec(sk)) != 0) {
        coh_secbuf_free(m);
        return COH_CRYPTO_EDECRYPT;
    }
    *out = m;
    return 0;
}

/* Subkey of master for context; returns NULL (and *rc) if inputs are unusable. */
static coh_secbuf *subkey(const coh_secbuf *master, const char *context, int *rc)
{
    if (!master || coh_secbuf_len(master) != crypto_kdf_KEYBYTES) {
        *rc = COH_CRYPTO_ELENGTH;
        return NULL;
    }
    size_t n = context ? strlen(context) : 0;
    if (n == 0 || n > crypto_kdf_CONTEXTBYTES) {
        *rc = COH_CRYPTO_ECONTEXT;
        return NULL;
    }
    char ctx8[crypto_kdf_CONTEXTBYTES] = {0}; /* crypto_kdf reads exactly 8 bytes */
    memcpy(ctx8, context, n);
    coh_secbuf *k = coh_secbuf_new(crypto_secretbox_KEYBYTES);
    if (!k) {
        *rc = COH_ERR_NOMEM;
        return NULL;
    }
    if (crypto_kdf_derive_from_key(coh_secbuf_data(k), crypto_secretbox_KEYBYTES, WRAP_SUBKEY_ID,
                                   ctx8, sec(master)) != 0) {
        coh_secbuf_free(k);
        *rc = COH_ERR_CRYPTO;
        return NULL;
    }
    return k;
}

/* Seals secret under context's subkey: secretbox, or with ad as XChaCha20-Poly1305 (both a
 * 24-byte nonce and a 16-byte tag, so the same overhead). */
static int wrap_with(uint8_t *out, const coh_secbuf *master, const char *context,
                     const uint8_t *secret, size_t len, const uint8_t *ad, size_t ad_len,
                     bool aead)
{
    if (sodium_init() < 0)
        return COH_ERR_CRYPTO;
    int rc = 0;
    coh_secbuf *k = subkey(master, context, &rc);
    if (!k) {
        memset(out, 0, len + COH_CRYPTO_WRAP_OVERHEAD);
        return rc;
    }
    randombytes_buf(out, crypto_secretbox_NONCEBYTES); /* = the AEAD's NPUBBYTES */
    uint8_t *c = out + crypto_secretbox_NONCEBYTES;
    if (aead)
        crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, secret, len, ad, ad_len, NULL, out,
                                                   coh_secbuf_data(k));
    else
        crypto_secretbox_easy(c, secret, len, out, coh_secbuf_data(k));
    coh_secbuf_free(k);
    return 0;
}

/* Opens what wrap_with sealed the same way into secure memory. */
static int unwrap_with(coh_secbuf **out, const coh_secbuf *master, const char *context,
                       const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len,
                       bool aead)
{
    *out = NULL;
    if (sodium_init() < 0)
        return COH_ERR_CRYPTO;
    if (in_len < COH_CRYPTO_WRAP_OVERHEAD)
        return COH_CRYPTO_EDECRYPT;
    int rc = 0;
    coh_secbuf *k = subkey(master, context, &rc);
    if (!k)
        return rc;
    coh_secbuf *m = coh_secbuf_new(in_len - COH_CRYPTO_WRAP_OVERHEAD);
    if (!m) {
        coh_secbuf_free(k);
        return COH_ERR_NOMEM;
    }
    const uint8_t *c = in + crypto_secretbox_NONCEBYTES;
    size_t c_len = in_len - crypto_secretbox_NONCEBYTES;
    rc = aead ? crypto_aead_xchacha20poly1305_ietf_decrypt(coh_secbuf_data(m), NULL, NULL, c,
                                                           c_len, ad, ad_len, in,
                                                           coh_secbuf_data(k))
              : crypto_secretbox_open_easy(coh_secbuf_data(m), c, c_len, in, coh_secbuf_data(k));
    coh_secbuf_free(k);
    if (rc != 0) {
        coh_secbuf_free(m);
        return COH_CRYPTO_EDECRYPT;
    }
    *out = m;
    return 0;
}

int coh_crypto_wrap(uint8_t *out, const coh_secbuf *master, const char *context,
                    const uint8_t *secret, size_t len)
{
    return wrap_with(out, master, context, secret, len, NULL, 0, false);
}

int coh_crypto_unwrap(coh_secbuf **out, const coh_secbuf *master, const char *context,
                      const uint8_t *in, size_t in_len)
{
    return unwrap_with(out, master, context, in, in_len, NULL, 0, false);
}

/*
 * The same with associated data: the blob opens only with the ad it was wrapped with, e.g. the
 * id of the row that holds it, so a blob copied into another row does not open there.
 */
int coh_crypto_wrap_ad(uint8_t *out, const coh_secbuf *master, const char *context,
                       const uint8_t *secret, size_t len, const uint8_t *ad, size_t ad_len)
{
    return wrap_with(out, master, context, secret, len, ad, ad_len, true);
}

int coh_crypto_unwrap_ad(coh_secbuf **out, const coh_secbuf *master, const char *context,
                         const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len)
{
    return unwrap_with(out, master, context, in, in_len, ad, ad_len, true);
}
