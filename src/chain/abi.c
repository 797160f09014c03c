/*
 * abi: the Solidity ABI subset Cohort's contracts use. Encoding lays out one 32-byte head
 * slot per argument; dynamic arguments (bytes, string, bytes32[]) put their offset in the
 * head and length-prefixed, zero-padded data in the tail, in argument order. Decoding reads
 * return data and event data defensively: every offset and length is bounds-checked against
 * the data before use, and static words must be clean (an address or uint64 with garbage in
 * its high bytes is COH_CHAIN_EABI, as solc's own decoder would revert).
 */
#include "chain/chain.h"

#include <string.h>

void coh_chain_abi_selector(uint8_t out[4], const char *signature)
{
    uint8_t h[32];
    coh_crypto_keccak256(h, signature, strlen(signature));
    memcpy(out, h, 4);
}

coh_chain_abi_arg coh_chain_abi_uint256(const uint8_t v[32])
{
    coh_chain_abi_arg a = {.type = COH_ABI_UINT256};
    memcpy(a.word, v, 32);
    return a;
}

coh_chain_abi_arg coh_chain_abi_u64(uint64_t v)
{
    coh_chain_abi_arg a = {.type = COH_ABI_UINT64, .u64 = v};
    coh_u256_from_u64(a.word, v);
    return a;
}

coh_chain_abi_arg coh_chain_abi_address(const uint8_t addr[20])
{
    coh_chain_abi_arg a = {.type = COH_ABI_ADDRESS};
    memcpy(a.word + 12, addr, 20);
    return a;
}

coh_chain_abi_arg coh_chain_abi_bytes32(const uint8_t v[32])
{
    coh_chain_abi_arg a = {.type = COH_ABI_BYTES32};
    memcpy(a.word, v, 32);
    return a;
}

coh_chain_abi_arg coh_chain_abi_bool(int v)
{
    coh_chain_abi_arg a = {.type = COH_ABI_BOOL, .u64 = v != 0};
    coh_u256_from_u64(a.word, v != 0);
    return a;
}

coh_chain_abi_arg coh_chain_abi_bytes(const uint8_t *p, size_t len)
{
    coh_chain_abi_arg a = {.type = COH_ABI_BYTES, .ptr = p, .len = len};
    return a;
}

coh_chain_abi_arg coh_chain_abi_bytes32_array(const uint8_t *p, size_t n)
{
    coh_chain_abi_arg a = {.type = COH_ABI_BYTES32_ARRAY, .ptr = p, .len = n};
    return a;
}

static int is_dynamic(enum coh_chain_abi_type t)
{
    return t == COH_ABI_BYTES || t == COH_ABI_BYTES32_ARRAY;
}

/* Size of a dynamic argument's tail: length word plus padded data. */
static size_t tail_size(const coh_chain_abi_arg *a)
{
    if (a->type == COH_ABI_BYTES)
        return 32 + (a->len + 31) / 32 * 32;
    return 32 + 32 * a->len;
}

void coh_chain_abi_encode(coh_chain_buf *b, const coh_chain_abi_arg *args, size_t n)
{
    size_t offset = 32 * n;
    uint8_t w[32];
    for (size_t i = 0; i < n; i++) {
        if (is_dynamic(args[i].type)) {
            coh_u256_from_u64(w, offset);
            coh_chain_buf_append(b, w, 32);
            offset += tail_size(&args[i]);
        } else {
            coh_chain_buf_append(b, args[i].word, 32);
        }
    }
    static const uint8_t zeros[32];
    for (size_t i = 0; i < n; i++) {
        const coh_chain_abi_arg *a = &args[i];
        if (!is_dynamic(a->type))
            continue;
        coh_u256_from_u64(w, a->len);
        coh_chain_buf_append(b, w, 32);
        if (a->type == COH_ABI_BYTES) {
            coh_chain_buf_append(b, a->ptr, a->len);
            coh_chain_buf_append(b, zeros, (32 - a->len % 32) % 32);
        } else {
            coh_chain_buf_append(b, a->ptr, 32 * a->len);
        }
    }
}

void coh_chain_abi_calldata(coh_chain_buf *b, const char *signature, const coh_chain_abi_arg *args,
                            size_t n)
{
    uint8_t sel[4];
    coh_chain_abi_selector(sel, signature);
    coh_chain_buf_append(b, sel, 4);
    coh_chain_abi_encode(b, args, n);
}

int coh_chain_abi_get_word(uint8_t out[32], const uint8_t *data, size_t len, size_t index)
{
    memset(out, 0, 32);
    if (index > len / 32 || len / 32 - index < 1)
        return COH_CHAIN_EABI;
    memcpy(out, data + 32 * index, 32);
    return 0;
}

/* Checks that the first zero_bytes bytes of w are zero. */
static int clean(const uint8_t w[32], size_t zero_bytes)
{
    for (size_t i = 0; i < zero_bytes; i++)
        if (w[i] != 0)
            return COH_CHAIN_EABI;
    return 0;
}

int coh_chain_abi_get_u64(uint64_t *out, const uint8_t *data, size_t len, size_t index)
{
    uint8_t w[32];
    *out = 0;
    int r = coh_chain_abi_get_word(w, data, len, index);
    if (r != 0)
        return r;
    return coh_u256_to_u64(out, w) == 0 ? 0 : COH_CHAIN_EABI;
}

int coh_chain_abi_get_address(uint8_t out[20], const uint8_t *data, size_t len, size_t index)
{
    uint8_t w[32];
    memset(out, 0, 20);
    int r = coh_chain_abi_get_word(w, data, len, index);
    if (r == 0)
        r = clean(w, 12);
    if (r == 0)
        memcpy(out, w + 12, 20);
    return r;
}

int coh_chain_abi_get_bool(int *out, const uint8_t *data, size_t len, size_t index)
{
    uint64_t v;
    *out = 0;
    int r = coh_chain_abi_get_u64(&v, data, len, index);
    if (r != 0)
        return r;
    if (v > 1)
        return COH_CHAIN_EABI;
    *out = (int)v;
    return 0;
}

int coh_chain_abi_get_bytes(const uint8_t **out, size_t *out_len, const uint8_t *data, size_t len,
                            size_t index)
{
    *out = NULL;
    *out_len = 0;
    uint64_t off, n;
    int r = coh_chain_abi_get_u64(&off, data, len, index);
    if (r != 0)
        return r;
    if (off % 32 != 0 || off > len || len - off < 32)
        return COH_CHAIN_EABI;
    if ((r = coh_chain_abi_get_u64(&n, data, len, off / 32)) != 0)
        return r;
    if (n > len - off - 32)
        return COH_CHAIN_EABI;
    *out = data + off + 32;
    *out_len = (size_t)n;
    return 0;
}
