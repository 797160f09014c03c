/* encode: hex and base64 over libsodium's constant-time codecs. */
#include "core/core.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void coh_hex_encode(char *out, const uint8_t *bin, size_t len, int with_0x)
{
    if (with_0x) {
        out[0] = '0';
        out[1] = 'x';
        out += 2;
    }
    sodium_bin2hex(out, len * 2 + 1, bin, len);
}

long coh_hex_decode(uint8_t *out, size_t out_cap, const char *hex)
{
    if (!hex)
        return -1;
    if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
        hex += 2;
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > out_cap)
        return -1;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_hex2bin(out, out_cap, hex, n, NULL, &bin_len, &end) != 0 || end != hex + n)
        return -1;
    return (long)bin_len;
}

int coh_hex_decode_exact(uint8_t *out, size_t out_len, const char *hex)
{
    long n = coh_hex_decode(out, out_len, hex);
    return n == (long)out_len ? 0 : -1;
}

char *coh_base64_encode(const uint8_t *bin, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s)
        sodium_bin2base64(s, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

long coh_base64_decode(uint8_t *out, size_t out_cap, const char *b64)
{
    size_t n = strlen(b64), bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, out_cap, b64, n, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + n)
        return -1;
    return (long)bin_len;
}
