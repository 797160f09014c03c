/*
 * tx: EIP-1559 (type-2) transactions with empty access lists: serialization, signing hash,
 * signing (y_parity, r, s), transaction hash, and a validating decoder that rejects what a
 * node rejects at the encoding level (leading zeros, fields wider than their type, a
 * priority fee above the max fee, gas * max fee beyond 256 bits). Also the legacy EIP-155
 * form, kept for the published example, and the JSON-RPC quantity codecs (the arithmetic is
 * core's coh_u256_*).
 */
#include "chain/chain.h"

#include <stdio.h>
#include <string.h>

/* ---- quantities ---------------------------------------------------------------------------- */
int coh_chain_quantity_parse(uint8_t out[32], const char *text)
{
    memset(out, 0, 32);
    if (!text || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
        return COH_ERR_INVALID;
    const char *h = text + 2;
    size_t n = strlen(h);
    if (n == 0 || n > 64)
        return COH_ERR_INVALID;
    char padded[COH_HASH_BARE_HEX_SIZE]; /* 64 hex digits, zero-padded on the left */
    memset(padded, '0', 64 - n);
    memcpy(padded + 64 - n, h, n);
    padded[64] = 0;
    if (coh_hex_decode_exact(out, 32, padded) != 0) {
        memset(out, 0, 32);
        return COH_ERR_INVALID;
    }
    return 0;
}

int coh_chain_quantity_u64(uint64_t *out, const char *text)
{
    uint8_t v[32];
    *out = 0;
    int r = coh_chain_quantity_parse(v, text);
    if (r != 0)
        return r;
    return coh_u256_to_u64(out, v) == 0 ? 0 : COH_CHAIN_EOVERFLOW;
}

void coh_chain_quantity_format(char out[COH_U256_QTY_SIZE], const uint8_t v[32])
{
    static const char hexd[] = "0123456789abcdef";
    size_t k = 2;
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 32; i++) {
        uint8_t hi = v[i] >> 4, lo = v[i] & 15;
        if (k > 2 || hi)
            out[k++] = hexd[hi];
        if (k > 2 || lo)
            out[k++] = hexd[lo];
    }
    if (k == 2)
        out[k++] = '0';
    out[k] = 0;
}

/* ---- EIP-1559 ----------------------------------------------------------------------------------
 */
static void tx_fields(coh_chain_buf *b, const coh_chain_tx *tx)
{
    coh_chain_rlp_u64(b, tx->chain_id);
    coh_chain_rlp_u64(b, tx->nonce);
    coh_chain_rlp_uint(b, tx->max_priority_fee, 32);
    coh_chain_rlp_uint(b, tx->max_fee, 32);
    coh_chain_rlp_u64(b, tx->gas_limit);
    coh_chain_rlp_bytes(b, tx->to, tx->has_to ? 20 : 0);
    coh_chain_rlp_uint(b, tx->value, 32);
    coh_chain_rlp_bytes(b, tx->data, tx->data_len);
    size_t al = coh_chain_rlp_list_begin(b);
    coh_chain_rlp_list_end(b, al);
}

void coh_chain_tx_encode_unsigned(coh_chain_buf *b, const coh_chain_tx *tx)
{
    static const uint8_t type = 0x02;
    coh_chain_buf_append(b, &type, 1);
    size_t m = coh_chain_rlp_list_begin(b);
    tx_fields(b, tx);
    coh_chain_rlp_list_end(b, m);
}

void coh_chain_tx_signing_hash(uint8_t out[32], const coh_chain_tx *tx)
{
    coh_chain_buf b;
    coh_chain_buf_init(&b);
    coh_chain_tx_encode_unsigned(&b, tx);
    if (b.oom)
        memset(out, 0, 32);
    else
        coh_crypto_keccak256(out, b.data, b.len);
    coh_chain_buf_clear(&b);
}

int coh_chain_tx_sign(coh_chain_buf *b, uint8_t hash[32], uint8_t sig_out[65],
                      const coh_chain_tx *tx, const coh_secbuf *seckey)
{
    uint8_t h[32], sig[65];
    memset(hash, 0, 32);
    if (sig_out)
        memset(sig_out, 0, 65);
    coh_chain_tx_signing_hash(h, tx);
    int r = coh_crypto_sign(sig, seckey, h);
    if (r != 0)
        return r;
    size_t start = b->len;
    static const uint8_t type = 0x02;
    coh_chain_buf_append(b, &type, 1);
    size_t m = coh_chain_rlp_list_begin(b);
    tx_fields(b, tx);
    coh_chain_rlp_u64(b, (uint64_t)(sig[64] - 27));
    coh_chain_rlp_uint(b, sig, 32);
    coh_chain_rlp_uint(b, sig + 32, 32);
    coh_chain_rlp_list_end(b, m);
    if (b->oom)
        return COH_ERR_NOMEM;
    coh_crypto_keccak256(hash, b->data + start, b->len - start);
    if (sig_out)
        memcpy(sig_out, sig, 65);
    return 0;
}

int coh_chain_tx_decode(coh_chain_tx *tx, uint8_t sender[20], uint8_t hash[32], const uint8_t *raw,
                        size_t len)
{
    memset(tx, 0, sizeof *tx);
    if (sender)
        memset(sender, 0, 20);
    if (hash)
        memset(hash, 0, 32);
    if (len < 1 || raw[0] != 0x02)
        return COH_CHAIN_ETXTYPE;
    int r = coh_chain_rlp_validate(raw + 1, len - 1);
    if (r != 0)
        return r;
    coh_chain_rlp_item list, f[12];
    size_t used, pos = 0, n = 0;
    if ((r = coh_chain_rlp_parse(&list, &used, raw + 1, len - 1)) != 0)
        return r;
    if (!list.is_list)
        return COH_CHAIN_ETXFIELD;
    while (n < 12 && (r = coh_chain_rlp_next(&f[n], &pos, &list)) == 1)
        n++;
    if (r < 0)
        return r;
    if (n != 12 || pos != list.len)
        return COH_CHAIN_ETXFIELD;
    uint8_t y[1], rs[64];
    if ((r = coh_chain_rlp_to_u64(&tx->chain_id, &f[0])) ||
        (r = coh_chain_rlp_to_u64(&tx->nonce, &f[1])) ||
        (r = coh_chain_rlp_to_uint(tx->max_priority_fee, 32, &f[2])) ||
        (r = coh_chain_rlp_to_uint(tx->max_fee, 32, &f[3])) ||
        (r = coh_chain_rlp_to_u64(&tx->gas_limit, &f[4])) ||
        (r = coh_chain_rlp_to_uint(tx->value, 32, &f[6])) ||
        (r = coh_chain_rlp_to_uint(y, 1, &f[9])) || (r = coh_chain_rlp_to_uint(rs, 32, &f[10])) ||
        (r = coh_chain_rlp_to_uint(rs + 32, 32, &f[11])))
        return r;
    if (f[5].is_list || (f[5].len != 0 && f[5].len != 20) || f[7].is_list || !f[8].is_list)
        return COH_CHAIN_ETXFIELD;
    if (f[8].len != 0)
        return COH_CHAIN_ETXFIELD; /* access lists: not used by Cohort */
    if (y[0] > 1)
        return COH_CHAIN_ETXFIELD;
    tx->has_to = f[5].len == 20;
    if (tx->has_to)
        memcpy(tx->to, f[5].payload, 20);
    tx->data = f[7].payload;
    tx->data_len = f[7].len;
    uint8_t cost[32]; /* gas * max fee must fit in 256 bits */
    if (coh_u256_cmp(tx->max_priority_fee, tx->max_fee) > 0 ||
        coh_u256_mul_u64(cost, tx->max_fee, tx->gas_limit) != 0)
        return COH_CHAIN_EFEE;
    if (sender) {
        uint8_t h[32], sig[65];
        coh_chain_tx_signing_hash(h, tx);
        memcpy(sig, rs, 64);
        sig[64] = (uint8_t)(27 + y[0]);
        if ((r = coh_crypto_recover(sender, h, sig, 65)) != 0)
            return r;
    }
    if (hash)
        coh_crypto_keccak256(hash, raw, len);
    return 0;
}

/* ---- legacy EIP-155 ----------------------------------------------------------------------- */
static void legacy_fields(coh_chain_buf *b, const coh_chain_legacy_tx *tx)
{
    coh_chain_rlp_u64(b, tx->nonce);
    coh_chain_rlp_uint(b, tx->gas_price, 32);
    coh_chain_rlp_u64(b, tx->gas_limit);
    coh_chain_rlp_bytes(b, tx->to, 20);
    coh_chain_rlp_uint(b, tx->value, 32);
    coh_chain_rlp_bytes(b, tx->data, tx->data_len);
}

void coh_chain_legacy_signing_hash(uint8_t out[32], const coh_chain_legacy_tx *tx)
{
    coh_chain_buf b;
    coh_chain_buf_init(&b);
    size_t m = coh_chain_rlp_list_begin(&b);
    legacy_fields(&b, tx);
    coh_chain_rlp_u64(&b, tx->chain_id);
    coh_chain_rlp_u64(&b, 0);
    coh_chain_rlp_u64(&b, 0);
    coh_chain_rlp_list_end(&b, m);
    if (b.oom)
        memset(out, 0, 32);
    else
        coh_crypto_keccak256(out, b.data, b.len);
    coh_chain_buf_clear(&b);
}

int coh_chain_legacy_sign(coh_chain_buf *b, const coh_chain_legacy_tx *tx, const coh_secbuf *seckey)
{
    uint8_t h[32], sig[65];
    coh_chain_legacy_signing_hash(h, tx);
    int r = coh_crypto_sign(sig, seckey, h);
    if (r != 0)
        return r;
    size_t m = coh_chain_rlp_list_begin(b);
    legacy_fields(b, tx);
    coh_chain_rlp_u64(b, 35 + 2 * tx->chain_id + (uint64_t)(sig[64] - 27));
    coh_chain_rlp_uint(b, sig, 32);
    coh_chain_rlp_uint(b, sig + 32, 32);
    coh_chain_rlp_list_end(b, m);
    return b->oom ? COH_ERR_NOMEM : 0;
}
