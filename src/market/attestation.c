/*
 * attestation: the rules of attested enrollment (docs/PRIVACY.md, "Who may enrol"), pure. A
 * request names the issuers it trusts, the EAS schema their attestations use (its definition,
 * from which the schema UID is computed and the data decoded), the field naming the person
 * (the subject: one contribution per subject, whatever the wallet) and, optionally, values the
 * attestation must hold (eligibility that is attested, not self-declared). The signature and
 * uid are crypto/eas.c's; the revocation check and the subject's uniqueness are the service's
 * and the database's.
 */
#include "market/market.h"

#include "chain/chain.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISSUERS_MAX 16
#define FIELDS_MAX 32
#define NAME_MAX_LEN 63
#define SCHEMA_MAX_LEN 1024
#define ELIG_KEYS_MAX 8
#define ELIG_VALUES_MAX 64
#define VALUE_MAX_LEN 256

enum kind { F_UINT, F_INT, F_ADDRESS, F_BOOL, F_BYTESN, F_STRING, F_BYTES };

struct field {
    char name[NAME_MAX_LEN + 1];
    enum kind kind;
    int width; /* bits for ints, N for bytesN */
};

/* "uint256" -> 256; "uint" -> 256; 0 when not a multiple of 8 in 8..256. */
static int int_width(const char *digits)
{
    if (!*digits)
        return 256;
    int w = 0;
    for (const char *c = digits; *c; c++) {
        if (*c < '0' || *c > '9' || w > 256)
            return 0;
        w = w * 10 + (*c - '0');
    }
    return w >= 8 && w <= 256 && w % 8 == 0 && digits[0] != '0' ? w : 0;
}

static int kind_of(struct field *f, const char *t)
{
    int n;
    if (strcmp(t, "address") == 0)
        f->kind = F_ADDRESS;
    else if (strcmp(t, "bool") == 0)
        f->kind = F_BOOL;
    else if (strcmp(t, "string") == 0)
        f->kind = F_STRING;
    else if (strcmp(t, "bytes") == 0)
        f->kind = F_BYTES;
    else if (strncmp(t, "uint", 4) == 0 && (f->width = int_width(t + 4)) != 0)
        f->kind = F_UINT;
    else if (strncmp(t, "int", 3) == 0 && (f->width = int_width(t + 3)) != 0)
        f->kind = F_INT;
    else if (strncmp(t, "bytes", 5) == 0 && sscanf(t + 5, "%d", &n) == 1 && n >= 1 && n <= 32 &&
             (size_t)snprintf(NULL, 0, "bytes%d", n) == strlen(t))
        f->kind = F_BYTESN, f->width = n;
    else
        return -1;
    return 0;
}

/* Parses an EAS schema definition: "type name" pairs separated by commas. */
static int schema_parse(struct field *f, size_t *n, const char *def, coh_err *err)
{
    *n = 0;
    if (!def || !*def || strlen(def) > SCHEMA_MAX_LEN)
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.schema must be an EAS schema definition of at most %d "
                           "characters, e.g. \"bytes32 subject,string country\"",
                           SCHEMA_MAX_LEN);
    const char *p = def;
    while (*p) {
        char type[24], name[NAME_MAX_LEN + 2];
        int used = 0;
        while (*p == ' ')
            p++;
        if (*n == FIELDS_MAX)
            return coh_err_set(err, COH_ERR_INVALID, "enrollment.schema has more than %d fields",
                               FIELDS_MAX);
        if (sscanf(p, "%23[a-z0-9] %64[A-Za-z0-9_]%n", type, name, &used) != 2 ||
            strlen(name) > NAME_MAX_LEN)
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.schema: field %zu must be \"type name\" (arrays and "
                               "tuples are not supported)",
                               *n + 1);
        p += used;
        while (*p == ' ')
            p++;
        if (*p && *p != ',')
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.schema: field %zu (%s) must be followed by a comma "
                               "(arrays and tuples are not supported)",
                               *n + 1, name);
        if (*p == ',')
            p++;
        if (kind_of(&f[*n], type) != 0)
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.schema: %s has type %s; use uintN, intN, address, "
                               "bool, bytesN, string or bytes",
                               name, type);
        for (size_t i = 0; i < *n; i++)
            if (strcmp(f[i].name, name) == 0)
                return coh_err_set(err, COH_ERR_INVALID, "enrollment.schema names %s twice",
                                   name);
        memcpy(f[*n].name, name, strlen(name) + 1); /* at most NAME_MAX_LEN, checked above */
        (*n)++;
    }
    if (*n == 0)
        return coh_err_set(err, COH_ERR_INVALID, "enrollment.schema has no field");
    return 0;
}

static const struct field *field_named(const struct field *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
    return NULL;
}

/* Appends the lowercase form of an address list; refuses duplicates. */
static int read_issuers(json_t **out, const json_t *list, coh_err *err)
{
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n < 1 || n > ISSUERS_MAX)
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.issuers must list 1 to %d issuer addresses", ISSUERS_MAX);
    *out = json_array();
    for (size_t i = 0; *out && i < n; i++) {
        uint8_t a[20];
        char hex[COH_ADDR_HEX_SIZE];
        const char *s = json_string_value(json_array_get(list, i));
        if (!s || coh_crypto_address_parse(a, s) != 0) {
            json_decref(*out);
            *out = NULL;
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.issuers[%zu] must be an address (0x and 40 hex "
                               "digits; mixed case must be EIP-55)",
                               i);
        }
        coh_hex_encode(hex, a, 20, 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(*out, j)), hex) == 0) {
                json_decref(*out);
                *out = NULL;
                return coh_err_set(err, COH_ERR_INVALID, "enrollment.issuers names %s twice",
                                   hex);
            }
        json_array_append_new(*out, json_string(hex));
    }
    return *out ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}

static int read_eas(json_t **out, const json_t *e, coh_err *err)
{
    const char *addr = json_string_value(json_object_get(e, "address"));
    const char *version = json_string_value(json_object_get(e, "version"));
    const json_t *chain = json_object_get(e, "chain_id");
    uint8_t a[20];
    if (!json_is_object(e) || !addr || coh_crypto_address_parse(a, addr) != 0 || !version ||
        !*version || strlen(version) >= COH_CRYPTO_EAS_VERSION_MAX ||
        strspn(version, "0123456789.") != strlen(version) || !json_is_integer(chain) ||
        json_integer_value(chain) < 1 || json_object_size(e) != 3)
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.eas must be {\"address\": the EAS contract, \"version\": "
                           "its version (e.g. \"1.3.0\"), \"chain_id\": its chain}: the domain "
                           "the issuers sign attestations in");
    char hex[COH_ADDR_HEX_SIZE];
    coh_hex_encode(hex, a, 20, 1);
    *out = json_pack("{s:s,s:s,s:O}", "address", hex, "version", version, "chain_id", chain);
    return *out ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}

static int read_eligibility(json_t **out, const json_t *e, const struct field *f, size_t n,
                            const char *subject, coh_err *err)
{
    *out = json_object();
    if (!*out)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    if (!e || json_is_null(e))
        return 0;
    if (!json_is_object(e) || json_object_size(e) > ELIG_KEYS_MAX)
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.eligibility must be an object of at most %d schema "
                           "fields, each with the values it accepts",
                           ELIG_KEYS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)e, k, v)
    {
        if (!field_named(f, n, k) || strcmp(k, subject) == 0)
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.eligibility.%.40s is not a field of the schema (other "
                               "than the subject)",
                               k);
        size_t m = json_array_size(v);
        if (!json_is_array(v) || m < 1 || m > ELIG_VALUES_MAX)
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.eligibility.%s must be an array of 1 to %d values", k,
                               ELIG_VALUES_MAX);
        for (size_t i = 0; i < m; i++) {
            const char *s = json_string_value(json_array_get(v, i));
            if (!s || !*s || strlen(s) > VALUE_MAX_LEN)
                return coh_err_set(err, COH_ERR_INVALID,
                                   "enrollment.eligibility.%s[%zu] must be a non-empty string "
                                   "(numbers in decimal, addresses and bytes in 0x hex)",
                                   k, i);
        }
        json_object_set(*out, k, v);
    }
    return 0;
}

int coh_market_attested_enrollment(json_t **norm, const json_t *e, coh_err *err)
{
    *norm = NULL;
    static const char *const members[] = {"mode",     "issuers",   "schema", "subject",
                                          "resolver", "revocable", "eligibility", "eas"};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)e, k, v)
    {
        size_t i = 0;
        while (i < sizeof members / sizeof members[0] && strcmp(k, members[i]) != 0)
            i++;
        if (i == sizeof members / sizeof members[0])
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.%.40s is not a member of attested enrollment", k);
    }
    struct field f[FIELDS_MAX];
    size_t n;
    const char *schema = json_string_value(json_object_get(e, "schema"));
    const char *subject = json_string_value(json_object_get(e, "subject"));
    const char *resolver = json_string_value(json_object_get(e, "resolver"));
    const json_t *revocable = json_object_get(e, "revocable");
    uint8_t res[20] = {0}, uid[32];
    int rc = schema_parse(f, &n, schema, err);
    if (rc)
        return rc;
    if (!subject || !field_named(f, n, subject))
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.subject must name the schema field that identifies the "
                           "person (one contribution per subject)");
    if (resolver && coh_crypto_address_parse(res, resolver) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "enrollment.resolver must be an address");
    if (revocable && !json_is_boolean(revocable))
        return coh_err_set(err, COH_ERR_INVALID, "enrollment.revocable must be true or false");
    json_t *issuers = NULL, *eas = NULL, *elig = NULL;
    if ((rc = read_issuers(&issuers, json_object_get(e, "issuers"), err)) != 0 ||
        (rc = read_eas(&eas, json_object_get(e, "eas"), err)) != 0 ||
        (rc = read_eligibility(&elig, json_object_get(e, "eligibility"), f, n, subject, err)) !=
            0) {
        json_decref(issuers);
        json_decref(eas);
        json_decref(elig);
        return rc;
    }
    int rev = !revocable || json_is_true(revocable);
    coh_crypto_eas_schema_uid(uid, schema, res, rev);
    char uid_hex[COH_HASH_HEX_SIZE], res_hex[COH_ADDR_HEX_SIZE];
    coh_hex_encode(uid_hex, uid, 32, 1);
    coh_hex_encode(res_hex, res, 20, 1);
    *norm = json_pack("{s:s,s:o,s:s,s:s,s:s,s:b,s:s,s:o,s:o}", "mode", "attested", "issuers",
                      issuers, "schema", schema, "schema_uid", uid_hex, "resolver", res_hex,
                      "revocable", rev, "subject", subject, "eligibility", elig, "eas", eas);
    return *norm ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}

int coh_market_eas_domain(coh_crypto_eas_domain *d, const json_t *request)
{
    const json_t *eas = json_object_get(json_object_get(request, "enrollment"), "eas");
    const char *version = json_string_value(json_object_get(eas, "version"));
    const char *addr = json_string_value(json_object_get(eas, "address"));
    json_int_t chain = json_integer_value(json_object_get(eas, "chain_id"));
    memset(d, 0, sizeof *d);
    if (!version || strlen(version) >= sizeof d->version || !addr || chain < 1 ||
        coh_crypto_address_parse(d->contract, addr) != 0)
        return -1;
    snprintf(d->version, sizeof d->version, "%s", version);
    d->chain_id = (uint64_t)chain;
    return 0;
}

/* Two's complement word -> decimal with sign. */
static void int_to_dec(char out[COH_U256_DEC_SIZE + 1], const uint8_t w[32])
{
    if (!(w[0] & 0x80)) {
        coh_u256_to_dec(out, w);
        return;
    }
    uint8_t m[32];
    int carry = 1;
    for (int i = 31; i >= 0; i--) {
        int v = (uint8_t)~w[i] + carry;
        m[i] = (uint8_t)v;
        carry = v >> 8;
    }
    out[0] = '-';
    coh_u256_to_dec(out + 1, m);
}

/* Is word w a valid encoding of f's static type? (Unused high bytes zero, sign-extended.) */
static int word_fits(const struct field *f, const uint8_t w[32])
{
    int bytes = f->kind == F_ADDRESS ? 20 : f->kind == F_BOOL ? 1 : f->width / 8;
    if (f->kind == F_BYTESN) {
        for (int i = f->width; i < 32; i++)
            if (w[i])
                return 0;
        return 1;
    }
    uint8_t fill = f->kind == F_INT && (w[32 - bytes] & 0x80) ? 0xff : 0;
    for (int i = 0; i < 32 - bytes; i++)
        if (w[i] != fill)
            return 0;
    return f->kind != F_BOOL || w[31] <= 1;
}

/* The value of field f in data as text (coh_market_attestation_values's forms); malloc'd. */
static char *value_text(const struct field *f, const uint8_t *data, size_t len, size_t slot)
{
    uint8_t w[32];
    const uint8_t *p;
    size_t n;
    char *s = NULL;
    if (f->kind == F_STRING || f->kind == F_BYTES) {
        if (coh_chain_abi_get_bytes(&p, &n, data, len, slot) != 0)
            return NULL;
        if (f->kind == F_STRING) {
            s = malloc(n + 1);
            if (s) {
                memcpy(s, p, n);
                s[n] = '\0';
                if (memchr(p, 0, n)) {
                    free(s);
                    s = NULL;
                }
            }
            return s;
        }
        s = malloc(2 * n + 3);
        if (s)
            coh_hex_encode(s, p, n, 1);
        return s;
    }
    if (coh_chain_abi_get_word(w, data, len, slot) != 0 || !word_fits(f, w))
        return NULL;
    s = malloc(COH_U256_DEC_SIZE + 2 * 32 + 3); /* the larger of a signed decimal and 0x hex */
    if (!s)
        return NULL;
    switch (f->kind) {
    case F_UINT:
        coh_u256_to_dec(s, w);
        break;
    case F_INT:
        int_to_dec(s, w);
        break;
    case F_ADDRESS:
        coh_hex_encode(s, w + 12, 20, 1);
        break;
    case F_BOOL:
        strcpy(s, w[31] ? "true" : "false");
        break;
    default:
        coh_hex_encode(s, w, (size_t)f->width, 1);
        break;
    }
    return s;
}

int coh_market_attestation_values(json_t **values, const json_t *request, const uint8_t *data,
                                  size_t len, coh_err *err)
{
    *values = NULL;
    struct field f[FIELDS_MAX];
    size_t n;
    const char *schema = json_string_value(
        json_object_get(json_object_get(request, "enrollment"), "schema"));
    coh_err e = {0};
    if (schema_parse(f, &n, schema, &e) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "the request has no attestation schema");
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        char *s = value_text(&f[i], data, len, i);
        json_t *js = s ? json_string(s) : NULL; /* NULL too for text that is not UTF-8 */
        free(s);
        if (!js) {
            json_decref(o);
            return coh_err_set(err, COH_ERR_INVALID,
                               "the attestation's data does not decode as the schema \"%.200s\" "
                               "(field %s)",
                               schema, f[i].name);
        }
        json_object_set_new(o, f[i].name, js);
    }
    if (!o)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    *values = o;
    return 0;
}

const char *coh_market_attested_mismatch(const json_t *request, const json_t *values)
{
    const json_t *elig = json_object_get(json_object_get(request, "enrollment"), "eligibility");
    const char *k;
    json_t *accepted;
    json_object_foreach((json_t *)elig, k, accepted)
    {
        const char *have = json_string_value(json_object_get(values, k));
        size_t i;
        json_t *a;
        int ok = 0;
        json_array_foreach(accepted, i, a) ok |= have && json_is_string(a) &&
                                                 strcmp(json_string_value(a), have) == 0;
        if (!ok)
            return k;
    }
    return NULL;
}

int coh_market_attestation_issuer(const json_t *request, const uint8_t signer[20])
{
    char hex[COH_ADDR_HEX_SIZE];
    coh_hex_encode(hex, signer, 20, 1);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(request, "enrollment"), "issuers"), i, a)
    {
        if (json_is_string(a) && strcmp(json_string_value(a), hex) == 0)
            return 1;
    }
    return 0;
}

void coh_market_subject_hash(uint8_t out[32], const uint8_t key[32], const char *request_id,
                             const char *subject_value)
{
    /* Keyed, so a database dump cannot be searched for a guessable subject (a national id, an
     * email); with the request's id, so the stored value links nobody across requests. */
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)request_id, strlen(request_id) + 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)subject_value, strlen(subject_value));
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}
