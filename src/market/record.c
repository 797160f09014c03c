/*
 * record: a contributor's record is a flat JSON object {"field": value, ...} that exists in
 * plaintext only inside secure memory. jansson would copy it to the ordinary heap, so this
 * file parses it in place: strings are unescaped and numbers copied into a second secure
 * buffer, then the row goes to the privacy table (also secure memory). Errors name the field
 * or the byte offset, never a value.
 */
#include "market/market.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MAX_FIELDS 32

struct parser {
    const char *p, *end, *start;
    char *out, *out_end; /* scratch in secure memory */
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int put(struct parser *ps, char c)
{
    if (ps->out >= ps->out_end)
        return -1;
    *ps->out++ = c;
    return 0;
}

static int put_utf8(struct parser *ps, unsigned cp)
{
    if (cp < 0x80)
        return put(ps, (char)cp);
    if (cp < 0x800)
        return put(ps, (char)(0xc0 | (cp >> 6))) || put(ps, (char)(0x80 | (cp & 0x3f)));
    if (cp < 0x10000)
        return put(ps, (char)(0xe0 | (cp >> 12))) || put(ps, (char)(0x80 | ((cp >> 6) & 0x3f))) ||
               put(ps, (char)(0x80 | (cp & 0x3f)));
    return put(ps, (char)(0xf0 | (cp >> 18))) || put(ps, (char)(0x80 | ((cp >> 12) & 0x3f))) ||
           put(ps, (char)(0x80 | ((cp >> 6) & 0x3f))) || put(ps, (char)(0x80 | (cp & 0x3f)));
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Parses a JSON string at ps->p into the scratch (NUL-terminated); *s points at it. */
static int parse_string(struct parser *ps, const char **s)
{
    if (ps->p >= ps->end || *ps->p != '"')
        return -1;
    ps->p++;
    *s = ps->out;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (put(ps, (char)c))
                return -1;
            continue;
        }
        if (ps->p >= ps->end)
            return -1;
        char e = *ps->p++;
        const char *simple = "\"\\/bfnrt", *map = "\"\\/\b\f\n\r\t";
        const char *at = strchr(simple, e);
        if (e && at) {
            if (put(ps, map[at - simple]))
                return -1;
        } else if (e == 'u') {
            unsigned cp, lo;
            if (ps->end - ps->p < 4 || hex4(ps->p, &cp))
                return -1;
            ps->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) || lo < 0xdc00 || lo >= 0xe000)
                    return -1;
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return -1;
            }
            if (cp == 0 || put_utf8(ps, cp))
                return -1;
        } else {
            return -1;
        }
    }
    if (ps->p >= ps->end)
        return -1;
    ps->p++;
    return put(ps, '\0');
}

/* Copies a JSON number (RFC 8259 grammar) into the scratch. *frac: fraction digits. */
static int parse_number(struct parser *ps, const char **s, int *frac)
{
    const char *q = ps->p;
    *frac = 0;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || !isdigit((unsigned char)*q))
        return -1;
    if (*q == '0' && q + 1 < ps->end && isdigit((unsigned char)q[1]))
        return -1;
    while (q < ps->end && isdigit((unsigned char)*q))
        q++;
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || !isdigit((unsigned char)*q))
            return -1;
        while (q < ps->end && isdigit((unsigned char)*q)) {
            q++;
            (*frac)++;
        }
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        /* The privacy table stores exact decimals; exponents are refused rather than rounded. */
        return -1;
    }
    if (q - ps->p > 40)
        return -1;
    *s = ps->out;
    for (const char *c = ps->p; c < q; c++)
        if (put(ps, *c))
            return -1;
    ps->p = q;
    return put(ps, '\0');
}

/*
 * Parses text[0..len) into cells[] (one per schema field, pointing into scratch, which needs
 * len + 1 bytes of secure memory). Checks shape, types and decimals; not bounds.
 */
static int parse_cells(const char **cells, const coh_market_schema *s, const char *text,
                       size_t len, char *scratch, size_t scratch_cap, coh_err *err)
{
    size_t nf = coh_market_schema_fields(s);
    struct parser ps = {text, text + len, text, scratch, scratch + scratch_cap};
    for (size_t f = 0; f < nf; f++)
        cells[f] = NULL;
    if (scratch_cap < len + 1)
        return coh_err_set(err, COH_ERR_LIMIT, "record too large");
    int rc = 0;
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p++ != '{')
        return coh_err_set(err, COH_ERR_INVALID, "record must be a JSON object");
    skip_ws(&ps);
    int first = 1;
    while (!rc) {
        skip_ws(&ps);
        if (ps.p < ps.end && *ps.p == '}' && first) {
            ps.p++;
            break;
        }
        const char *key;
        if (parse_string(&ps, &key)) {
            rc = coh_err_set(err, COH_ERR_INVALID, "record: malformed member name at byte %zu",
                             (size_t)(ps.p - ps.start));
            break;
        }
        size_t f = 0;
        while (f < nf && strcmp(coh_market_schema_field_name(s, f), key) != 0)
            f++;
        if (f == nf) {
            rc = coh_err_set(err, COH_ERR_INVALID, "record: '%.40s' is not a field of the schema",
                             key);
            break;
        }
        if (cells[f]) {
            rc = coh_err_set(err, COH_ERR_INVALID, "record: field '%s' appears twice", key);
            break;
        }
        skip_ws(&ps);
        if (ps.p >= ps.end || *ps.p++ != ':') {
            rc = coh_err_set(err, COH_ERR_INVALID, "record: expected ':' at byte %zu",
                             (size_t)(ps.p - ps.start));
            break;
        }
        skip_ws(&ps);
        enum coh_market_field_type type = coh_market_schema_field_type(s, f);
        int frac = 0;
        if (type == COH_FIELD_CATEGORY) {
            if (parse_string(&ps, &cells[f]))
                rc = coh_err_set(err, COH_ERR_INVALID, "record: field '%s' must be a string",
                                 coh_market_schema_field_name(s, f));
        } else if (parse_number(&ps, &cells[f], &frac)) {
            rc = coh_err_set(err, COH_ERR_INVALID,
                             "record: field '%s' must be a JSON number without exponent",
                             coh_market_schema_field_name(s, f));
        } else if (type == COH_FIELD_INTEGER && frac) {
            rc = coh_err_set(err, COH_ERR_INVALID, "record: field '%s' must be an integer",
                             coh_market_schema_field_name(s, f));
        } else if (frac > coh_market_schema_field_decimals(s, f)) {
            rc = coh_err_set(err, COH_ERR_INVALID,
                             "record: field '%s' has more than %d decimals",
                             coh_market_schema_field_name(s, f),
                             coh_market_schema_field_decimals(s, f));
        }
        if (rc)
            break;
        first = 0;
        skip_ws(&ps);
        if (ps.p < ps.end && *ps.p == ',') {
            ps.p++;
            continue;
        }
        if (ps.p < ps.end && *ps.p == '}') {
            ps.p++;
            break;
        }
        rc = coh_err_set(err, COH_ERR_INVALID, "record: expected ',' or '}' at byte %zu",
                         (size_t)(ps.p - ps.start));
    }
    if (rc)
        return rc;
    skip_ws(&ps);
    if (ps.p != ps.end)
        return coh_err_set(err, COH_ERR_INVALID, "record: trailing data at byte %zu",
                           (size_t)(ps.p - ps.start));
    for (size_t f = 0; f < nf; f++)
        if (!cells[f])
            return coh_err_set(err, COH_ERR_INVALID, "record: field '%s' is missing",
                               coh_market_schema_field_name(s, f));
    return 0;
}

int coh_market_record_append(coh_table *t, const coh_market_schema *s, coh_secbuf *plain,
                             coh_err *err)
{
    size_t len = coh_secbuf_len(plain);
    coh_secbuf *scratch = coh_secbuf_new(len + 1);
    if (!scratch)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    const char *cells[MAX_FIELDS];
    int rc = parse_cells(cells, s, (const char *)coh_secbuf_data(plain), len,
                         (char *)coh_secbuf_data(scratch), len + 1, err);
    coh_err terr = {0};
    if (!rc && coh_table_row_append(t, cells, &terr)) {
        /* The table's message names row and column, never the value. */
        const char *col = strstr(terr.msg, "column");
        rc = coh_err_set(err, COH_ERR_INVALID, "record: %s",
                         col ? col : "a value is outside the schema's bounds or categories");
    }
    coh_secbuf_free(scratch);
    return rc;
}

/* Exact comparison of two plain decimals (-?digits(.digits)?): <0, 0, >0. */
static int dec_cmp(const char *a, const char *b)
{
    int na = a[0] == '-', nb = b[0] == '-';
    a += na;
    b += nb;
    while (a[0] == '0' && a[1] && a[1] != '.')
        a++;
    while (b[0] == '0' && b[1] && b[1] != '.')
        b++;
    size_t ia = strcspn(a, "."), ib = strcspn(b, ".");
    int mag = ia != ib ? (ia > ib ? 1 : -1) : strncmp(a, b, ia);
    if (!mag) {
        const char *fa = a[ia] ? a + ia + 1 : "", *fb = b[ib] ? b + ib + 1 : "";
        while (!mag && (*fa || *fb)) {
            char ca = *fa ? *fa++ : '0', cb = *fb ? *fb++ : '0';
            mag = (ca > cb) - (ca < cb);
        }
    }
    mag = mag > 0 ? 1 : mag < 0 ? -1 : 0;
    if (mag == 0)
        return 0; /* -0 == 0 */
    if (na != nb)
        return na ? -1 : 1;
    return na ? -mag : mag;
}

int coh_market_record_check(const coh_market_schema *s, const uint8_t *plain, size_t len,
                            uint8_t *scratch, size_t scratch_cap, coh_err *err)
{
    const char *cells[MAX_FIELDS];
    int rc = parse_cells(cells, s, (const char *)plain, len, (char *)scratch, scratch_cap, err);
    for (size_t f = 0; !rc && f < coh_market_schema_fields(s); f++) {
        const char *name = coh_market_schema_field_name(s, f);
        if (coh_market_schema_field_type(s, f) == COH_FIELD_CATEGORY) {
            const char *const *cats;
            size_t n = coh_market_schema_field_categories(s, f, &cats), k = 0;
            while (k < n && strcmp(cats[k], cells[f]) != 0)
                k++;
            if (k == n)
                rc = coh_err_set(err, COH_ERR_INVALID,
                                 "record: column '%s': value not among the declared categories",
                                 name);
        } else if (dec_cmp(cells[f], coh_market_schema_field_min(s, f)) < 0 ||
                   dec_cmp(cells[f], coh_market_schema_field_max(s, f)) > 0) {
            rc = coh_err_set(err, COH_ERR_INVALID,
                             "record: column '%s': value outside the declared domain", name);
        }
    }
    sodium_memzero(scratch, scratch_cap < len + 1 ? scratch_cap : len + 1);
    return rc;
}
