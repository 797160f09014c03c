/*
 * jcs: RFC 8785 JSON Canonicalization Scheme for jansson values. Cohort hashes request
 * schemas with it (fieldsHash = keccak256(JCS(schema))), and wallets or third parties must
 * be able to recompute the same bytes with any JCS library, so this follows the RFC
 * exactly: keys sorted by UTF-16 code units (not UTF-8 bytes: they differ above U+FFFF),
 * strings escaped as ECMAScript JSON.stringify does, numbers in ECMAScript's shortest
 * round-trip form. Integers beyond +-2^53 are refused unless their digits are the canonical
 * form of a double: an I-JSON (double) parser would change the others, so two parties could
 * disagree on the hashed value.
 */
#include "crypto/crypto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128
#define SAFE_INT 9007199254740992LL /* 2^53 */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Decodes one UTF-8 sequence at s[*i]; returns the code point or -1 if malformed. */
static long utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    int len = c < 0x80             ? 1
              : (c & 0xe0) == 0xc0 ? 2
              : (c & 0xf0) == 0xe0 ? 3
              : (c & 0xf8) == 0xf0 ? 4
                                   : 0;
    if (!len || *i + (size_t)len > n)
        return -1;
    long cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; k++) {
        if ((s[*i + k] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1; /* overlong, out of range, or a surrogate */
    *i += (size_t)len;
    return cp;
}

static int put_string(sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    put(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        long cp = utf8_next(u, n, &i);
        if (cp < 0)
            return COH_CRYPTO_EJSON;
        char esc[8];
        switch (cp) {
        case '"':
            puts_(b, "\\\"");
            break;
        case '\\':
            puts_(b, "\\\\");
            break;
        case '\b':
            puts_(b, "\\b");
            break;
        case '\f':
            puts_(b, "\\f");
            break;
        case '\n':
            puts_(b, "\\n");
            break;
        case '\r':
            puts_(b, "\\r");
            break;
        case '\t':
            puts_(b, "\\t");
            break;
        default:
            if (cp < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04lx", cp);
                puts_(b, esc);
            } else {
                put(b, s + start, i - start);
            }
        }
    }
    put(b, "\"", 1);
    return 0;
}

/* ECMAScript Number::toString for a finite double (RFC 8785 section 3.2.2.3). */
static void put_double(sbuf *b, double d)
{
    if (d == 0) { /* includes -0, which serializes as 0 */
        put(b, "0", 1);
        return;
    }
    if (d < 0) {
        put(b, "-", 1);
        d = -d;
    }
    /* Shortest digits that round-trip; %.*e is correctly rounded, so the first precision
     * that round-trips is also the closest such digit string, as ECMAScript requires. */
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    char digits[20];
    int k = 0;
    char *e = strchr(buf, 'e');
    for (char *q = buf; q < e; q++)
        if (*q >= '0' && *q <= '9')
            digits[k++] = *q;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = atoi(e + 1) + 1; /* decimal point position relative to the digits */
    char out[64];
    int o = 0;
    if (k <= n && n <= 21) {
        memcpy(out, digits, (size_t)k);
        o = k;
        while (o < n)
            out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out, digits, (size_t)n);
        o = n;
        out[o++] = '.';
        memcpy(out + o, digits + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = 0; z < -n; z++)
            out[o++] = '0';
        memcpy(out + o, digits, (size_t)k);
        o += k;
    } else {
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    put(b, out, (size_t)o);
}

typedef struct member {
    const char *key;
    size_t key_len;
    uint16_t *u16; /* the key in UTF-16 code units: the RFC's sort order */
    size_t n16;
    const json_t *value;
} member;

static int to_utf16(member *m)
{
    m->u16 = malloc((m->key_len + 1) * sizeof *m->u16);
    if (!m->u16)
        return COH_ERR_NOMEM;
    size_t i = 0, n = 0;
    while (i < m->key_len) {
        long cp = utf8_next((const unsigned char *)m->key, m->key_len, &i);
        if (cp < 0)
            return COH_CRYPTO_EJSON;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            m->u16[n++] = (uint16_t)(0xd800 | (cp >> 10));
            m->u16[n++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
        } else {
            m->u16[n++] = (uint16_t)cp;
        }
    }
    m->n16 = n;
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    const member *x = a, *y = b;
    size_t n = x->n16 < y->n16 ? x->n16 : y->n16;
    for (size_t i = 0; i < n; i++)
        if (x->u16[i] != y->u16[i])
            return x->u16[i] < y->u16[i] ? -1 : 1;
    return x->n16 < y->n16 ? -1 : x->n16 > y->n16;
}

static int put_value(sbuf *b, const json_t *v, int depth);

static int put_object(sbuf *b, const json_t *v, int depth)
{
    size_t n = json_object_size(v);
    member *m = calloc(n ? n : 1, sizeof *m);
    if (!m)
        return COH_ERR_NOMEM;
    size_t k = 0;
    int rc = 0;
    const char *key;
    size_t key_len;
    json_t *val;
    json_object_keylen_foreach((json_t *)v, key, key_len, val)
    {
        m[k].key = key;
        m[k].key_len = key_len; /* keys may hold \u0000 */
        m[k].value = val;
        if (!rc)
            rc = to_utf16(&m[k]);
        k++;
    }
    if (!rc)
        qsort(m, n, sizeof *m, member_cmp);
    put(b, "{", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            put(b, ",", 1);
        rc = put_string(b, m[i].key, m[i].key_len);
        put(b, ":", 1);
        if (!rc)
            rc = put_value(b, m[i].value, depth + 1);
    }
    put(b, "}", 1);
    for (size_t i = 0; i < n; i++)
        free(m[i].u16);
    free(m);
    return rc;
}

static int put_value(sbuf *b, const json_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return COH_CRYPTO_EJSON;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return put_object(b, v, depth);
    case JSON_ARRAY: {
        put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put(b, ",", 1);
            int rc = put_value(b, json_array_get(v, i), depth + 1);
            if (rc)
                return rc;
        }
        put(b, "]", 1);
        return 0;
    }
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i > SAFE_INT || i < -SAFE_INT) {
            /* Beyond 2^53 only integers whose digits are already the double's canonical form
             * (what this function prints for reals: 1e17 -> 100000000000000000): any reader,
             * double or bignum, then agrees on them, and canonical output re-parsed by jansson
             * (as integers) canonicalizes to itself. */
            char exact[24];
            snprintf(exact, sizeof exact, "%lld", (long long)i);
            sbuf t = {0};
            put_double(&t, (double)i);
            int same = !t.oom && strcmp(t.p, exact) == 0;
            free(t.p);
            if (!same)
                return COH_CRYPTO_EJSON;
        }
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)i);
        puts_(b, num);
        return 0;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d))
            return COH_CRYPTO_EJSON;
        put_double(b, d);
        return 0;
    }
    case JSON_TRUE:
        puts_(b, "true");
        return 0;
    case JSON_FALSE:
        puts_(b, "false");
        return 0;
    case JSON_NULL:
        puts_(b, "null");
        return 0;
    }
    return COH_CRYPTO_EJSON;
}

int coh_crypto_jcs_serialize(char **out, size_t *out_len, const json_t *v)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!v)
        return COH_CRYPTO_EJSON;
    sbuf b = {0};
    put(&b, "", 0); /* an allocated, NUL-terminated buffer even for empty output */
    int rc = put_value(&b, v, 0);
    if (!rc && b.oom)
        rc = COH_ERR_NOMEM;
    if (rc) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return 0;
}

int coh_crypto_jcs_keccak(uint8_t out[32], const json_t *v)
{
    memset(out, 0, 32);
    char *s;
    size_t n;
    int rc = coh_crypto_jcs_serialize(&s, &n, v);
    if (rc)
        return rc;
    coh_crypto_keccak256(out, s, n);
    free(s);
    return 0;
}
