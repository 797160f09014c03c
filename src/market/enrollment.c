/*
 * enrollment: invite codes, pure (docs/PRIVACY.md, "Who may enrol"). A code is written for
 * people (Crockford base32 in groups of four: no I, L, O or U to misread) and stored only as
 * the SHA-256 of its normalized text, so a researcher may also bring codes of their own and
 * send only their hashes. The randomness comes from the caller (src/svc/requests.c).
 */
#include "market/market.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void coh_market_invite_code_text(char out[COH_MARKET_INVITE_CODE_SIZE],
                                 const uint8_t raw[COH_MARKET_INVITE_CODE_BYTES])
{
    /* 15 bytes are 120 bits: exactly 24 characters of 5 bits. */
    size_t o = 0, chars = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < COH_MARKET_INVITE_CODE_BYTES; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            if (chars && chars % 4 == 0)
                out[o++] = '-';
            out[o++] = CROCKFORD[(acc >> bits) & 31];
            chars++;
        }
    }
    out[o] = '\0';
}

int coh_market_invite_code_hash(uint8_t out[32], const char *code)
{
    char norm[COH_MARKET_INVITE_CODE_MAX + 1];
    size_t n = 0;
    memset(out, 0, 32);
    if (!code)
        return COH_ERR_INVALID;
    /* As typed: spaces and hyphens are only grouping, letters are read in either case. */
    for (const char *c = code; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == ' ' || ch == '-')
            continue;
        if (ch < 0x21 || ch > 0x7e || n == COH_MARKET_INVITE_CODE_MAX)
            return COH_ERR_INVALID;
        norm[n++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    }
    if (n == 0)
        return COH_ERR_INVALID;
    crypto_hash_sha256(out, (const uint8_t *)norm, n);
    sodium_memzero(norm, sizeof norm);
    return 0;
}

static int cmp32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

int coh_market_invite_hashes(uint8_t (**out)[32], size_t *n, const json_t *list, const char *member,
                             coh_err *err)
{
    *out = NULL;
    *n = 0;
    size_t len = json_array_size(list);
    if (!json_is_array(list) || len < 1 || len > COH_MARKET_INVITE_CODES_MAX)
        return coh_err_set(err, COH_ERR_INVALID, "%s must be an array of 1 to %d hashes", member,
                           COH_MARKET_INVITE_CODES_MAX);
    uint8_t(*h)[32] = malloc(len * 32), (*sorted)[32] = malloc(len * 32);
    if (!h || !sorted) {
        free(h);
        free(sorted);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        const char *s = json_string_value(json_array_get(list, i));
        if (!s || strncmp(s, "0x", 2) != 0 || coh_hex_decode_exact(h[i], 32, s) != 0) {
            free(h);
            free(sorted);
            return coh_err_set(err, COH_ERR_INVALID,
                               "%s[%zu] must be 0x and the 64 hex digits of the SHA-256 of a "
                               "code",
                               member, i);
        }
    }
    /* Sorted, so that ten thousand hashes are checked for duplicates in n log n. */
    memcpy(sorted, h, len * 32);
    qsort(sorted, len, 32, cmp32);
    for (size_t i = 1; i < len; i++)
        if (memcmp(sorted[i - 1], sorted[i], 32) == 0) {
            free(h);
            free(sorted);
            return coh_err_set(err, COH_ERR_INVALID, "%s holds the same hash twice", member);
        }
    free(sorted);
    *out = h;
    *n = len;
    return 0;
}

const char *coh_market_enrollment_mode(const json_t *request)
{
    const json_t *e = json_object_get(request, "enrollment");
    const char *mode =
        json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "mode"));
    return mode ? mode : "open";
}
