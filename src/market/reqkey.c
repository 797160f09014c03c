/*
 * reqkey: a request's X25519 secret key at rest, wrapped under the master key with the request
 * id as associated data, so a wrapped key copied into another request's row does not open
 * there (a database writer could otherwise move a request's key, with its contributions, under
 * a request they own and have them released). Stored as 0x01 || nonce || ciphertext.
 *
 * Rows from before (72 bytes, crypto_secretbox without associated data) are re-wrapped once at
 * start (coh_svc_reqkeys_upgrade); the intake and the release open only the bound form, so a
 * legacy blob copied between rows later opens nowhere.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQKEY_VERSION 1
#define LEGACY_BYTES (32 + COH_CRYPTO_WRAP_OVERHEAD)

_Static_assert(COH_MARKET_REQKEY_BYTES == 1 + LEGACY_BYTES, "reqkey layout");

/* The associated data: a label (versioned with the format) and the request's 32-byte id. */
static int reqkey_ad(uint8_t ad[48], const char *id)
{
    memcpy(ad, "cohort-reqkey-v1", 16);
    if (!id)
        return -1;
    if (id[0] == '0' && (id[1] == 'x' || id[1] == 'X'))
        id += 2;
    return coh_hex_decode_exact(ad + 16, 32, id) == 0 ? 0 : -1;
}

int coh_market_reqkey_wrap(uint8_t out[COH_MARKET_REQKEY_BYTES], const coh_secbuf *master,
                           const char *id, const coh_secbuf *sk)
{
    uint8_t ad[48];
    if (reqkey_ad(ad, id) != 0 || !sk || coh_secbuf_len(sk) != 32)
        return COH_ERR_INVALID;
    out[0] = REQKEY_VERSION;
    return coh_crypto_wrap_ad(out + 1, master, "reqkey2", coh_secbuf_data((coh_secbuf *)sk), 32, ad,
                              sizeof ad);
}

int coh_market_reqkey_unwrap(coh_secbuf **sk, const coh_secbuf *master, const char *id,
                             const uint8_t *wrapped, size_t len)
{
    *sk = NULL;
    uint8_t ad[48];
    if (reqkey_ad(ad, id) != 0)
        return COH_ERR_INVALID;
    if (len != COH_MARKET_REQKEY_BYTES || wrapped[0] != REQKEY_VERSION)
        return COH_CRYPTO_EDECRYPT;
    int rc = coh_crypto_unwrap_ad(sk, master, "reqkey2", wrapped + 1, len - 1, ad, sizeof ad);
    if (!rc && coh_secbuf_len(*sk) != 32) {
        coh_secbuf_free(*sk);
        *sk = NULL;
        rc = COH_CRYPTO_EDECRYPT;
    }
    return rc;
}

/*
 * One legacy blob: opens it, checks the key is the one for the row's public key (a legacy blob
 * moved from another row is not, unless its public key was moved too: then nothing can tell),
 * and wraps it again bound to id.
 */
int coh_market_reqkey_rewrap(uint8_t out[COH_MARKET_REQKEY_BYTES], const coh_secbuf *master,
                             const char *id, const uint8_t *legacy, size_t len,
                             const uint8_t pk[32])
{
    uint8_t derived[32];
    coh_secbuf *sk = NULL;
    if (len != LEGACY_BYTES || coh_crypto_unwrap(&sk, master, "reqkey", legacy, len) != 0 ||
        coh_secbuf_len(sk) != 32 || crypto_scalarmult_base(derived, coh_secbuf_data(sk)) != 0 ||
        sodium_memcmp(derived, pk, 32) != 0) {
        coh_secbuf_free(sk);
        return COH_CRYPTO_EDECRYPT;
    }
    int rc = coh_market_reqkey_wrap(out, master, id, sk);
    coh_secbuf_free(sk);
    return rc;
}
