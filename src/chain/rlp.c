/*
 * rlp: Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B) and a strict
 * decoder. The decoder accepts only the canonical encoding of each item: a single byte
 * below 0x80 is never wrapped, long forms appear only for payloads above 55 bytes, length
 * fields have no leading zeros, and every length stays inside the input. Anything else is
 * COH_CHAIN_ERLP, so one value has exactly one accepted encoding (transaction hashes and
 * signatures depend on that). Decoding never copies: items point into the caller's bytes.
 */
#include "chain/chain.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void coh_chain_buf_init(coh_chain_buf *b)
{
    memset(b, 0, sizeof *b);
}

void coh_chain_buf_clear(coh_chain_buf *b)
{
    if (b->data) {
        sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    coh_chain_buf_init(b);
}

static int buf_reserve(coh_chain_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void coh_chain_buf_append(coh_chain_buf *b, const void *data, size_t len)
{
    if (len == 0 || buf_reserve(b, len) != 0)
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* Big-endian bytes of n without leading zeros into out[8]; returns the count (0 for n=0). */
static size_t be_len(uint8_t out[8], uint64_t n)
{
    size_t k = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t byte = (uint8_t)(n >> (8 * i));
        if (k == 0 && byte == 0)
            continue;
        out[k++] = byte;
    }
    return k;
}

/* Header for a payload of len bytes with short-form base (0x80 strings, 0xc0 lists). */
static size_t header(uint8_t out[9], size_t len, uint8_t base)
{
    if (len <= 55) {
        out[0] = (uint8_t)(base + len);
        return 1;
    }
    uint8_t l[8];
    size_t k = be_len(l, len);
    out[0] = (uint8_t)(base + 55 + k);
    memcpy(out + 1, l, k);
    return 1 + k;
}

void coh_chain_rlp_bytes(coh_chain_buf *b, const uint8_t *data, size_t len)
{
    if (len == 1 && data[0] < 0x80) {
        coh_chain_buf_append(b, data, 1);
        return;
    }
    uint8_t h[9];
    coh_chain_buf_append(b, h, header(h, len, 0x80));
    coh_chain_buf_append(b, data, len);
}

void coh_chain_rlp_uint(coh_chain_buf *b, const uint8_t *be, size_t len)
{
    while (len > 0 && be[0] == 0) {
        be++;
        len--;
    }
    coh_chain_rlp_bytes(b, be, len);
}

void coh_chain_rlp_u64(coh_chain_buf *b, uint64_t v)
{
    uint8_t l[8];
    coh_chain_rlp_bytes(b, l, be_len(l, v));
}

size_t coh_chain_rlp_list_begin(const coh_chain_buf *b)
{
    return b->len;
}

void coh_chain_rlp_list_end(coh_chain_buf *b, size_t mark)
{
    if (b->oom || mark > b->len)
        return;
    uint8_t h[9];
    size_t hl = header(h, b->len - mark, 0xc0);
    if (buf_reserve(b, hl) != 0)
        return;
    memmove(b->data + mark + hl, b->data + mark, b->len - mark);
    memcpy(b->data + mark, h, hl);
    b->len += hl;
}

int coh_chain_rlp_parse(coh_chain_rlp_item *out, size_t *used, const uint8_t *data, size_t len)
{
    memset(out, 0, sizeof *out);
    *used = 0;
    if (len == 0)
        return COH_CHAIN_ERLP;
    uint8_t p = data[0];
    size_t hl, pl;
    if (p < 0x80) {
        out->payload = data;
        out->len = 1;
        *used = 1;
        return 0;
    }
    int is_list = p >= 0xc0;
    uint8_t base = is_list ? 0xc0 : 0x80;
    if (p - base <= 55) {
        hl = 1;
        pl = (size_t)(p - base);
    } else {
        size_t k = (size_t)(p - base - 55);
        if (len < 1 + k || data[1] == 0)
            return COH_CHAIN_ERLP; /* truncated length, or leading zero in it */
        if (k > sizeof(size_t))
            return COH_CHAIN_ERLP;
        pl = 0;
        for (size_t i = 0; i < k; i++)
            pl = (pl << 8) | data[1 + i];
        if (pl <= 55)
            return COH_CHAIN_ERLP; /* long form for a short payload */
        hl = 1 + k;
    }
    if (pl > len - hl)
        return COH_CHAIN_ERLP;
    if (!is_list && pl == 1 && data[hl] < 0x80)
        return COH_CHAIN_ERLP; /* a single low byte must encode itself */
    out->is_list = is_list;
    out->payload = data + hl;
    out->len = pl;
    *used = hl + pl;
    return 0;
}

static int validate(const coh_chain_rlp_item *it, int depth)
{
    if (!it->is_list)
        return 0;
    if (depth >= COH_CHAIN_RLP_MAX_DEPTH)
        return COH_CHAIN_EDEPTH;
    size_t pos = 0;
    coh_chain_rlp_item child;
    int r;
    while ((r = coh_chain_rlp_next(&child, &pos, it)) == 1) {
        if ((r = validate(&child, depth + 1)) != 0)
            return r;
    }
    return r;
}

int coh_chain_rlp_validate(const uint8_t *data, size_t len)
{
    coh_chain_rlp_item it;
    size_t used;
    int r = coh_chain_rlp_parse(&it, &used, data, len);
    if (r != 0)
        return r;
    if (used != len)
        return COH_CHAIN_ETRAILING;
    return validate(&it, 0);
}

int coh_chain_rlp_next(coh_chain_rlp_item *out, size_t *pos, const coh_chain_rlp_item *list)
{
    if (!list->is_list)
        return COH_CHAIN_ERLP;
    if (*pos >= list->len)
        return 0;
    size_t used;
    int r = coh_chain_rlp_parse(out, &used, list->payload + *pos, list->len - *pos);
    if (r != 0)
        return r;
    *pos += used;
    return 1;
}

int coh_chain_rlp_to_uint(uint8_t *out, size_t out_len, const coh_chain_rlp_item *it)
{
    memset(out, 0, out_len);
    if (it->is_list)
        return COH_CHAIN_ETXFIELD;
    if (it->len > 0 && it->payload[0] == 0)
        return COH_CHAIN_EZEROS;
    if (it->len > out_len)
        return COH_CHAIN_EOVERFLOW;
    memcpy(out + out_len - it->len, it->payload, it->len);
    return 0;
}

int coh_chain_rlp_to_u64(uint64_t *out, const coh_chain_rlp_item *it)
{
    uint8_t be[8];
    *out = 0;
    int r = coh_chain_rlp_to_uint(be, 8, it);
    if (r != 0)
        return r;
    for (int i = 0; i < 8; i++)
        *out = (*out << 8) | be[i];
    return 0;
}
