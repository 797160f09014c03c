/*
 * eip712: hashing of EIP-712 typed data as wallets receive it (eth_signTypedData_v4 JSON);
 * consent.c has the JSON-free path for Cohort's Consent type. Input is untrusted (a client
 * sends what it claims to have signed), so every value is checked against its declared
 * type: integers are range-checked to their width with exact 256-bit arithmetic, addresses
 * follow EIP-55 rules, bytesN must have exactly N bytes, and fields a type does not declare
 * are refused rather than silently ignored. Struct nesting is bounded to keep recursion
 * shallow whatever the JSON.
 */
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32 /* nested structs/arrays; real payloads use 2 or 3 */

/* ---- 256-bit magnitudes (big-endian) -------------------------------------------------- */

/* True if m == 2^(bits-1). */
static int only_top_bit(const uint8_t m[32], int bits)
{
    uint8_t t[32];
    memcpy(t, m, 32);
    t[31 - (bits - 1) / 8] &= (uint8_t) ~(1u << ((bits - 1) % 8));
    for (int i = 0; i < 32; i++)
        if (t[i])
            return 0;
    return 1;
}

static int mag_bits(const uint8_t m[32])
{
    for (int i = 0; i < 32; i++)
        if (m[i])
            for (int b = 7; b >= 0; b--)
                if (m[i] >> b)
                    return (31 - i) * 8 + b + 1;
    return 0;
}

/* ---- typed-data walking ------------------------------------------------------------------ */

typedef struct walk {
    const json_t *types;
    coh_err *err;
    int depth;
} walk;

enum kind { K_STRUCT, K_STRING, K_BYTES, K_BOOL, K_ADDRESS, K_UINT, K_INT, K_BYTESN };

static int fail(walk *w, int code, const char *path, const char *what)
{
    return coh_err_set(w->err, code, "%s: %s", path, what);
}

/* Width digits: no sign, no leading zero. Returns the number or -1. */
static int parse_width(const char *s, size_t n)
{
    if (n == 0 || n > 3 || s[0] == '0')
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Classifies a non-array type name t[0..n). *width: bits for ints, N for bytesN. */
static enum kind base_kind(const char *t, size_t n, int *width)
{
    *width = 0;
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(t, lit, n) == 0)
    if (IS("string"))
        return K_STRING;
    if (IS("bytes"))
        return K_BYTES;
    if (IS("bool"))
        return K_BOOL;
    if (IS("address"))
        return K_ADDRESS;
#undef IS
    int w;
    if (n > 4 && memcmp(t, "uint", 4) == 0 && (w = parse_width(t + 4, n - 4)) > 0 && w % 8 == 0 &&
        w <= 256) {
        *width = w;
        return K_UINT;
    }
    if (n > 3 && memcmp(t, "int", 3) == 0 && (w = parse_width(t + 3, n - 3)) > 0 && w % 8 == 0 &&
        w <= 256) {
        *width = w;
        return K_INT;
    }
    if (n > 5 && memcmp(t, "bytes", 5) == 0 && (w = parse_width(t + 5, n - 5)) > 0 && w <= 32) {
        *width = w;
        return K_BYTESN;
    }
    return K_STRUCT;
}

/* If t[0..n) ends in [] or [k], sets *elem_n to the element type length and *fixed to k
 * (-1 for dynamic) and returns 1; returns 0 for a non-array; -1 if the suffix is malformed. */
static int array_suffix(const char *t, size_t n, size_t *elem_n, long *fixed)
{
    if (n == 0 || t[n - 1] != ']')
        return 0;
    size_t open = n - 1;
    while (open > 0 && t[open] != '[')
        open--;
    if (t[open] != '[' || open == 0)
        return -1;
    *elem_n = open;
    if (open + 2 == n) {
        *fixed = -1;
        return 1;
    }
    long k = 0;
    for (size_t i = open + 1; i < n - 1; i++) {
        if (t[i] < '0' || t[i] > '9' || k > 100000000L)
            return -1;
        k = k * 10 + (t[i] - '0');
    }
    if (t[open + 1] == '0' && n - open > 3)
        return -1;
    *fixed = k;
    return 1;
}

/* The field list of struct name[0..n), or NULL (with err set) if undeclared/malformed. */
static const json_t *struct_fields(walk *w, const char *name, size_t n)
{
    const json_t *f = json_object_getn(w->types, name, n);
    if (!json_is_array(f)) {
        coh_err_set(w->err, COH_CRYPTO_ETYPED, "types: unknown type '%.*s'", (int)n, name);
        return NULL;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(f, i, e)
    {
        if (!json_is_string(json_object_get(e, "name")) ||
            !json_is_string(json_object_get(e, "type"))) {
            coh_err_set(w->err, COH_CRYPTO_ETYPED, "types.%.*s[%zu]: needs name and type", (int)n,
                        name, i);
            return NULL;
        }
    }
    return f;
}

/* Strips all array suffixes: the struct or atomic type an (array) type is made of. */
static size_t innermost(const char *t, size_t n)
{
    size_t e;
    long k;
    while (array_suffix(t, n, &e, &k) == 1)
        n = e;
    return n;
}

/* ---- encodeType -------------------------------------------------------------------------- */

static int collect_deps(walk *w, json_t *seen, const char *name, size_t n)
{
    if (json_object_getn(seen, name, n))
        return 0;
    if (w->depth > 64)
        return coh_err_set(w->err, COH_CRYPTO_ETYPED, "types: too deeply nested");
    const json_t *f = struct_fields(w, name, n);
    if (!f)
        return COH_CRYPTO_ETYPED;
    json_object_setn_new(seen, name, n, json_true());
    size_t i;
    const json_t *e;
    json_array_foreach(f, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "type"));
        size_t tn = innermost(t, strlen(t));
        int width;
        if (base_kind(t, tn, &width) != K_STRUCT)
            continue;
        w->depth++;
        int rc = collect_deps(w, seen, t, tn);
        w->depth--;
        if (rc)
            return rc;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 128) + n;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return COH_ERR_NOMEM;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int encode_type(walk *w, char **out, const char *name)
{
    *out = NULL;
    json_t *seen = json_object();
    if (!seen)
        return COH_ERR_NOMEM;
    int rc = collect_deps(w, seen, name, strlen(name));
    size_t n = json_object_size(seen);
    const char **names = rc ? NULL : malloc(n * sizeof *names);
    if (!rc && !names)
        rc = COH_ERR_NOMEM;
    if (rc) {
        json_decref(seen);
        return rc;
    }
    /* Primary type first, then the referenced types in name order. */
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(seen, key, v)
    {
        if (strcmp(key, name) != 0)
            names[k++] = key;
    }
    qsort(names, k, sizeof *names, cmp_str);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = 0; i <= k && !rc; i++) {
        const char *s = i == 0 ? name : names[i - 1];
        const json_t *f = json_object_get(w->types, s);
        rc = append(&buf, &len, &cap, s, strlen(s));
        rc = rc ? rc : append(&buf, &len, &cap, "(", 1);
        size_t j;
        const json_t *e;
        json_array_foreach(f, j, e)
        {
            const char *t = json_string_value(json_object_get(e, "type"));
            const char *fn = json_string_value(json_object_get(e, "name"));
            rc = rc ? rc : append(&buf, &len, &cap, j ? "," : "", j ? 1 : 0);
            rc = rc ? rc : append(&buf, &len, &cap, t, strlen(t));
            rc = rc ? rc : append(&buf, &len, &cap, " ", 1);
            rc = rc ? rc : append(&buf, &len, &cap, fn, strlen(fn));
        }
        rc = rc ? rc : append(&buf, &len, &cap, ")", 1);
    }
    free(names);
    json_decref(seen);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

/* ---- encodeData -------------------------------------------------------------------------- */

static int hash_struct(walk *w, uint8_t out[32], const char *name, size_t n, const json_t *v,
                       const char *path);

static int enc_int(walk *w, uint8_t out[32], enum kind k, int bits, const json_t *v,
                   const char *path)
{
    uint8_t m[32] = {0};
    int neg = 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        neg = i < 0;
        coh_u256_from_u64(m, neg ? 0ULL - (uint64_t)i : (uint64_t)i);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (*s == '-') {
            neg = 1;
            s++;
        }
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            s += 2;
            size_t len = strlen(s);
            while (len > 1 && *s == '0')
                s++, len--;
            if (len == 0 || strspn(s, "0123456789abcdefABCDEF") != len)
                return fail(w, COH_CRYPTO_ETYPED, path, "not an integer");
            if (len > 64)
                return fail(w, COH_CRYPTO_ERANGE, path, "integer above 2^256-1");
            char padded[COH_HASH_BARE_HEX_SIZE];
            memset(padded, '0', 64 - len);
            memcpy(padded + 64 - len, s, len + 1);
            if (coh_hex_decode_exact(m, 32, padded) != 0)
                return fail(w, COH_CRYPTO_ETYPED, path, "not an integer");
        } else {
            if (!*s || strspn(s, "0123456789") != strlen(s))
                return fail(w, COH_CRYPTO_ETYPED, path, "not an integer");
            if (coh_u256_from_dec(m, s) != 0)
                return fail(w, COH_CRYPTO_ERANGE, path, "integer above 2^256-1");
        }
    } else {
        return fail(w, COH_CRYPTO_ETYPED, path, "expected an integer or an integer string");
    }
    int mb = mag_bits(m);
    int zero = mb == 0;
    int ok;
    if (k == K_UINT)
        ok = (!neg || zero) && mb <= bits;
    else if (!neg || zero)
        ok = mb <= bits - 1;
    else /* -2^(bits-1) is the one negative value whose magnitude needs all bits */
        ok = mb <= bits - 1 || (mb == bits && only_top_bit(m, bits));
    if (!ok) {
        char msg[64];
        snprintf(msg, sizeof msg, "value out of range for %s%d", k == K_UINT ? "uint" : "int",
                 bits);
        return fail(w, COH_CRYPTO_ERANGE, path, msg);
    }
    if (neg && !zero) { /* two's complement over the full 256-bit word */
        unsigned carry = 1;
        for (int i = 31; i >= 0; i--) {
            unsigned t = (uint8_t)~m[i] + carry;
            m[i] = (uint8_t)t;
            carry = t >> 8;
        }
    }
    memcpy(out, m, 32);
    return 0;
}

/* Decodes a 0x-prefixed hex string into a malloc'd buffer. */
static int hex_bytes(walk *w, uint8_t **out, size_t *len, const json_t *v, const char *path)
{
    *out = NULL;
    const char *s = json_string_value(v);
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return fail(w, COH_CRYPTO_EHEX, path, "expected 0x-prefixed hex");
    size_t n = strlen(s + 2);
    if (n % 2)
        return fail(w, COH_CRYPTO_EHEX, path, "odd number of hex digits");
    uint8_t *b = malloc(n / 2 + 1);
    if (!b)
        return COH_ERR_NOMEM;
    if (n && coh_hex_decode(b, n / 2, s + 2) != (long)(n / 2)) {
        free(b);
        return fail(w, COH_CRYPTO_EHEX, path, "not hex");
    }
    *out = b;
    *len = n / 2;
    return 0;
}

static int enc_value(walk *w, uint8_t out[32], const char *t, size_t tn, const json_t *v,
                     const char *path)
{
    memset(out, 0, 32);
    size_t en;
    long fixed;
    int arr = array_suffix(t, tn, &en, &fixed);
    if (arr < 0)
        return fail(w, COH_CRYPTO_ETYPED, path, "malformed array type");
    if (arr) {
        if (!json_is_array(v))
            return fail(w, COH_CRYPTO_ETYPED, path, "expected an array");
        if (fixed >= 0 && json_array_size(v) != (size_t)fixed)
            return fail(w, COH_CRYPTO_ETYPED, path, "array has the wrong length");
        if (++w->depth > MAX_DEPTH)
            return fail(w, COH_CRYPTO_ETYPED, path, "nested too deeply");
        coh_crypto_keccak st;
        coh_crypto_keccak_init(&st);
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            uint8_t h[32];
            int rc = enc_value(w, h, t, en, e, sub);
            if (rc)
                return rc;
            coh_crypto_keccak_update(&st, h, 32);
        }
        w->depth--;
        coh_crypto_keccak_final(&st, out);
        return 0;
    }
    int width;
    enum kind k = base_kind(t, tn, &width);
    switch (k) {
    case K_STRUCT:
        if (++w->depth > MAX_DEPTH)
            return fail(w, COH_CRYPTO_ETYPED, path, "nested too deeply");
        int rc = hash_struct(w, out, t, tn, v, path);
        w->depth--;
        return rc;
    case K_STRING:
        if (!json_is_string(v))
            return fail(w, COH_CRYPTO_ETYPED, path, "expected a string");
        coh_crypto_keccak256(out, json_string_value(v), json_string_length(v));
        return 0;
    case K_BYTES: {
        uint8_t *b;
        size_t n;
        int r = hex_bytes(w, &b, &n, v, path);
        if (r)
            return r;
        coh_crypto_keccak256(out, b, n);
        free(b);
        return 0;
    }
    case K_BOOL:
        if (!json_is_boolean(v))
            return fail(w, COH_CRYPTO_ETYPED, path, "expected true or false");
        out[31] = json_is_true(v);
        return 0;
    case K_ADDRESS: {
        int r = json_is_string(v) ? coh_crypto_address_parse(out + 12, json_string_value(v))
                                  : COH_CRYPTO_EADDRESS;
        return r ? fail(w, r, path, coh_crypto_strerror(r)) : 0;
    }
    case K_UINT:
    case K_INT:
        return enc_int(w, out, k, width, v, path);
    case K_BYTESN: {
        uint8_t *b;
        size_t n;
        int r = hex_bytes(w, &b, &n, v, path);
        if (r)
            return r;
        if (n != (size_t)width) {
            free(b);
            return fail(w, COH_CRYPTO_EHEX, path, "wrong number of bytes for bytesN");
        }
        memcpy(out, b, n); /* bytesN is left-aligned, zero-padded on the right */
        free(b);
        return 0;
    }
    }
    return fail(w, COH_CRYPTO_ETYPED, path, "unknown type");
}

static int hash_struct(walk *w, uint8_t out[32], const char *name, size_t n, const json_t *v,
                       const char *path)
{
    memset(out, 0, 32);
    const json_t *f = struct_fields(w, name, n);
    if (!f)
        return COH_CRYPTO_ETYPED;
    if (!json_is_object(v))
        return fail(w, COH_CRYPTO_ETYPED, path, "expected an object");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        size_t i;
        const json_t *e;
        int known = 0;
        json_array_foreach(f, i, e)
        {
            known |= strcmp(json_string_value(json_object_get(e, "name")), key) == 0;
        }
        if (!known)
            return coh_err_set(w->err, COH_CRYPTO_ETYPED, "%s.%s: not a field of %.*s", path, key,
                               (int)n, name);
    }
    char tname[256];
    if (n >= sizeof tname)
        return fail(w, COH_CRYPTO_ETYPED, path, "type name too long");
    memcpy(tname, name, n);
    tname[n] = '\0';
    char *et;
    int rc = encode_type(w, &et, tname);
    if (rc)
        return rc;
    coh_crypto_keccak st;
    uint8_t h[32];
    coh_crypto_keccak256(h, et, strlen(et));
    free(et);
    coh_crypto_keccak_init(&st);
    coh_crypto_keccak_update(&st, h, 32);
    size_t i;
    const json_t *e;
    json_array_foreach(f, i, e)
    {
        const char *fname = json_string_value(json_object_get(e, "name"));
        const char *ftype = json_string_value(json_object_get(e, "type"));
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, fname);
        const json_t *fv = json_object_get(v, fname);
        if (!fv)
            return fail(w, COH_CRYPTO_ETYPED, sub, "missing");
        rc = enc_value(w, h, ftype, strlen(ftype), fv, sub);
        if (rc)
            return rc;
        coh_crypto_keccak_update(&st, h, 32);
    }
    coh_crypto_keccak_final(&st, out);
    return 0;
}

/* ---- public entry points ----------------------------------------------------------------- */

int coh_crypto_eip712_encode_type(char **out, const json_t *types, const char *type_name,
                                  coh_err *err)
{
    walk w = {types, err, 0};
    *out = NULL;
    if (!json_is_object(types))
        return coh_err_set(err, COH_CRYPTO_ETYPED, "types: expected an object");
    return encode_type(&w, out, type_name);
}

int coh_crypto_eip712_struct_hash(uint8_t out[32], const json_t *types, const char *type_name,
                                  const json_t *value, coh_err *err)
{
    walk w = {types, err, 0};
    memset(out, 0, 32);
    if (!json_is_object(types))
        return coh_err_set(err, COH_CRYPTO_ETYPED, "types: expected an object");
    return hash_struct(&w, out, type_name, strlen(type_name), value, type_name);
}

/* EIP712Domain as implied by the keys present in domain, in the canonical order. */
static json_t *derive_domain_type(const json_t *domain, coh_err *err)
{
    static const char *const names[] = {"name", "version", "chainId", "verifyingContract", "salt"};
    static const char *const types[] = {"string", "string", "uint256", "address", "bytes32"};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)domain, key, v)
    {
        int known = 0;
        for (int i = 0; i < 5; i++)
            known |= strcmp(key, names[i]) == 0;
        if (!known) {
            coh_err_set(err, COH_CRYPTO_ETYPED, "domain.%s: not an EIP712Domain field", key);
            return NULL;
        }
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < 5; i++)
        if (json_object_get(domain, names[i]))
            json_array_append_new(arr, json_pack("{s:s,s:s}", "name", names[i], "type", types[i]));
    if (!arr)
        coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    return arr;
}

int coh_crypto_eip712_hash(uint8_t digest[32], uint8_t domain_separator[32],
                           uint8_t struct_hash[32], const json_t *td, coh_err *err)
{
    uint8_t d[32] = {0}, sh[32] = {0}, dg[32] = {0};
    const json_t *types = json_object_get(td, "types");
    const json_t *domain = json_object_get(td, "domain");
    const char *primary = json_string_value(json_object_get(td, "primaryType"));
    const json_t *message = json_object_get(td, "message");
    int rc = 0;
    json_t *all = NULL;
    if (!json_is_object(types) || !json_is_object(domain) || !primary)
        rc = coh_err_set(err, COH_CRYPTO_ETYPED,
                         "typed data needs types, primaryType, domain and message");
    if (!rc && !json_object_get(types, "EIP712Domain")) {
        /* Shallow copy: only the added EIP712Domain entry is owned here. */
        all = json_copy((json_t *)types);
        json_t *dt = all ? derive_domain_type(domain, err) : NULL;
        if (!dt || json_object_set_new(all, "EIP712Domain", dt) != 0)
            rc = err && err->code ? err->code : COH_ERR_NOMEM;
        types = all;
    }
    walk w = {types, err, 0};
    if (!rc)
        rc = hash_struct(&w, d, "EIP712Domain", 12, domain, "domain");
    int domain_only = !rc && strcmp(primary, "EIP712Domain") == 0;
    if (!rc && !domain_only) {
        if (!message)
            rc = coh_err_set(err, COH_CRYPTO_ETYPED, "message: missing");
        else
            rc = hash_struct(&w, sh, primary, strlen(primary), message, "message");
    }
    if (!rc) {
        coh_crypto_keccak st;
        coh_crypto_keccak_init(&st);
        coh_crypto_keccak_update(&st, "\x19\x01", 2);
        coh_crypto_keccak_update(&st, d, 32);
        if (!domain_only)
            coh_crypto_keccak_update(&st, sh, 32);
        coh_crypto_keccak_final(&st, dg);
    } else {
        memset(d, 0, 32);
        memset(sh, 0, 32);
    }
    json_decref(all);
    if (digest)
        memcpy(digest, dg, 32);
    if (domain_separator)
        memcpy(domain_separator, d, 32);
    if (struct_hash)
        memcpy(struct_hash, sh, 32);
    return rc;
}
