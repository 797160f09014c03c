/*
 * table: the in-memory columnar table, exact decimals and per-column string dictionaries.
 *
 * Invariants: every column is dictionary-encoded (one uint32 code per row, codes dense from
 * 0 in order of first appearance); a code's string is stored once, NUL-terminated, in the
 * dictionary arena. Validation against the declared schema runs once per distinct string,
 * when it first enters the dictionary, so a million-row load costs one hash lookup per cell.
 * Numeric columns are exact: each distinct string is parsed to mantissa * 10^exponent and,
 * at finish, to an int64 scaled by the column's largest number of decimal places.
 * Messages name the row and column, never the value.
 */
#include "privacy/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- decimals ----------------------------------------------------------------------- */

const int64_t coh_pow10_i64[19] = {1LL,
                                      10LL,
                                      100LL,
                                      1000LL,
                                      10000LL,
                                      100000LL,
                                      1000000LL,
                                      10000000LL,
                                      100000000LL,
                                      1000000000LL,
                                      10000000000LL,
                                      100000000000LL,
                                      1000000000000LL,
                                      10000000000000LL,
                                      100000000000000LL,
                                      1000000000000000LL,
                                      10000000000000000LL,
                                      100000000000000000LL,
                                      1000000000000000000LL};

bool coh_dec_parse(struct coh_dec *out, const char *s, size_t len)
{
    size_t i = 0, end = len;
    while (i < end && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    int neg = 0;
    if (i < end && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    /* digit spans: [i0,i1) integer part, [f0,f1) fraction */
    size_t i0 = i;
    while (i < end && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t i1 = i, f0 = i, f1 = i;
    if (i < end && s[i] == '.') {
        f0 = ++i;
        while (i < end && s[i] >= '0' && s[i] <= '9')
            i++;
        f1 = i;
    }
    if (i1 == i0 && f1 == f0)
        return false;
    long ex = 0;
    if (i < end && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < end && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t e0 = i;
        while (i < end && s[i] >= '0' && s[i] <= '9') {
            if (ex < 10000)
                ex = ex * 10 + (s[i] - '0');
            i++;
        }
        if (i == e0)
            return false;
        if (eneg)
            ex = -ex;
    }
    if (i != end)
        return false;
    /* the digit string D = int digits then fraction digits; value = D * 10^(ex - nfrac) */
    size_t nd = (i1 - i0) + (f1 - f0);
    long e = ex - (long)(f1 - f0);
    /* skip leading zeros, strip trailing zeros into the exponent */
    size_t a = 0, b = nd;
#define DIG(k) ((k) < (i1 - i0) ? s[i0 + (k)] : s[f0 + (k) - (i1 - i0)])
    while (a < b && DIG(a) == '0')
        a++;
    while (b > a && DIG(b - 1) == '0') {
        b--;
        e++;
    }
    if (b - a > 18)
        return false;
    int64_t m = 0;
    for (size_t k = a; k < b; k++)
        m = m * 10 + (DIG(k) - '0');
#undef DIG
    if (m == 0)
        e = 0;
    if (e < -30 || e > 30)
        return false;
    out->m = neg ? -m : m;
    out->e = (int)e;
    return true;
}

bool coh_dec_scaled(int64_t *out, struct coh_dec d, int scale)
{
    int sh = d.e + scale;
    if (d.m == 0) {
        *out = 0;
        return true;
    }
    if (sh < 0 || sh > 18)
        return false;
    __int128 v = (__int128)d.m * coh_pow10_i64[sh];
    if (v > INT64_MAX || v < -INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

static int ndigits(int64_t m)
{
    uint64_t u = m < 0 ? (uint64_t)(-(m + 1)) + 1 : (uint64_t)m;
    int n = 1;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

int coh_dec_cmp(struct coh_dec a, struct coh_dec b)
{
    int sa = (a.m > 0) - (a.m < 0), sb = (b.m > 0) - (b.m < 0);
    if (sa != sb || sa == 0)
        return (sa > sb) - (sa < sb);
    int ma = ndigits(a.m) + a.e, mb = ndigits(b.m) + b.e;
    if (ma != mb)
        return sa * ((ma > mb) - (ma < mb));
    /* same order of magnitude: exponents differ by at most 17, fits in 128 bits */
    int emin = a.e < b.e ? a.e : b.e;
    __int128 x = (__int128)a.m * coh_pow10_i64[a.e - emin];
    __int128 y = (__int128)b.m * coh_pow10_i64[b.e - emin];
    return (x > y) - (x < y);
}

double coh_dec_double(struct coh_dec d)
{
    double v = (double)d.m;
    for (int e = d.e; e > 0; e--)
        v *= 10;
    for (int e = d.e; e < 0; e++)
        v /= 10;
    return v;
}

size_t coh_dec_format(char *buf, int64_t v, int scale)
{
    char tmp[48];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    int digits = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
        digits++;
    } while (u || digits <= scale);
    /* tmp holds digits reversed; the first `scale` of them are the fraction */
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    for (size_t k = n; k > (size_t)scale; k--)
        buf[o++] = tmp[k - 1];
    size_t fz = 0; /* trailing fraction zeros to drop */
    while ((int)fz < scale && tmp[fz] == '0')
        fz++;
    if ((int)fz < scale) {
        buf[o++] = '.';
        for (size_t k = (size_t)scale; k > fz; k--)
            buf[o++] = tmp[k - 1];
    }
    buf[o] = 0;
    return o;
}

/* ---- dictionary --------------------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

static size_t dict_len(const struct coh_dict *d, uint32_t code)
{
    const uint64_t *offs = (const uint64_t *)d->offs.p;
    uint64_t end = code + 1 < d->n ? offs[code + 1] : d->arena.len;
    return (size_t)(end - offs[code] - 1);
}

static int dict_grow(struct coh_dict *d)
{
    size_t nslots = d->slots.len ? d->slots.len / 4 * 2 : 1024;
    struct coh_svec s = {0};
    if (coh_svec_alloc(&s, nslots * 4) != 0)
        return COH_ERR_NOMEM;
    uint32_t *slot = (uint32_t *)s.p, *hv = (uint32_t *)d->hash.p;
    size_t mask = nslots - 1;
    for (uint32_t c = 0; c < d->n; c++) {
        size_t i = hv[c] & mask;
        while (slot[i])
            i = (i + 1) & mask;
        slot[i] = c + 1;
    }
    coh_svec_free(&d->slots);
    d->slots = s;
    return 0;
}

/* Finds or adds s; *is_new tells which. */
static int dict_intern(struct coh_dict *d, const char *s, size_t len, uint32_t *code, bool *is_new)
{
    if ((size_t)(d->n + 1) * 2 > d->slots.len / 4) {
        if (d->n == UINT32_MAX - 1 || dict_grow(d) != 0)
            return COH_ERR_NOMEM;
    }
    uint32_t h = hash_bytes(s, len);
    uint32_t *slot = (uint32_t *)d->slots.p, *hv = (uint32_t *)d->hash.p;
    size_t mask = d->slots.len / 4 - 1, i = h & mask;
    for (;;) {
        uint32_t c = slot[i];
        if (!c)
            break;
        if (hv[c - 1] == h && dict_len(d, c - 1) == len &&
            memcmp(coh_dict_str(d, c - 1), s, len) == 0) {
            *code = c - 1;
            *is_new = false;
            return 0;
        }
        i = (i + 1) & mask;
    }
    if (coh_svec_reserve(&d->arena, len + 1) || coh_svec_reserve(&d->offs, 8) ||
        coh_svec_reserve(&d->hash, 4))
        return COH_ERR_NOMEM;
    uint64_t off = d->arena.len;
    memcpy(d->arena.p + d->arena.len, s, len);
    d->arena.p[d->arena.len + len] = 0;
    d->arena.len += len + 1;
    memcpy(d->offs.p + d->offs.len, &off, 8);
    d->offs.len += 8;
    memcpy(d->hash.p + d->hash.len, &h, 4);
    d->hash.len += 4;
    slot = (uint32_t *)d->slots.p;
    slot[i] = d->n + 1;
    *code = d->n++;
    *is_new = true;
    return 0;
}

/* Undoes the latest dict_intern of a new value (code == d->n - 1): a value that failed
 * validation must not stay interned, or the next occurrence would skip validation. */
static void dict_unintern_last(struct coh_dict *d, uint32_t code)
{
    uint32_t *slot = (uint32_t *)d->slots.p, *hv = (uint32_t *)d->hash.p;
    size_t mask = d->slots.len / 4 - 1, i = hv[code] & mask;
    while (slot[i] && slot[i] != code + 1)
        i = (i + 1) & mask;
    /* Linear probing: the newest entry ends every probe chain through it, so clearing it
     * breaks no other chain. */
    slot[i] = 0;
    d->arena.len -= dict_len(d, code) + 1;
    d->offs.len -= 8;
    d->hash.len -= 4;
    d->n--;
}

static void dict_free(struct coh_dict *d)
{
    coh_svec_free(&d->arena);
    coh_svec_free(&d->offs);
    coh_svec_free(&d->slots);
    coh_svec_free(&d->hash);
}

/* ---- table -------------------------------------------------------------------------- */

int coh_table_alloc(coh_table **out, const char *const *names, size_t ncols, coh_err *err)
{
    *out = NULL;
    if (ncols == 0)
        return coh_err_set(err, COH_ERR_INVALID, "table has no columns");
    coh_table *t = calloc(1, sizeof *t);
    if (!t || !(t->cols = calloc(ncols, sizeof *t->cols))) {
        free(t);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    t->ncols = ncols;
    for (size_t c = 0; c < ncols; c++) {
        t->cols[c].all_numeric = true;
        if (!(t->cols[c].name = strdup(names[c] ? names[c] : ""))) {
            coh_table_free(t);
            return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        }
        for (size_t d = 0; d < c; d++)
            if (strcmp(t->cols[d].name, t->cols[c].name) == 0) {
                int rc = coh_err_set(err, COH_ERR_INVALID, "duplicate column name '%s'",
                                     t->cols[c].name);
                coh_table_free(t);
                return rc;
            }
    }
    *out = t;
    return 0;
}

int coh_table_new(coh_table **out, const coh_col_decl *decls, size_t ncols, coh_err *err)
{
    *out = NULL;
    const char **names = calloc(ncols ? ncols : 1, sizeof *names);
    if (!names)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < ncols; c++)
        names[c] = decls[c].name;
    coh_table *t;
    int rc = coh_table_alloc(&t, names, ncols, err);
    free(names);
    if (rc)
        return rc;
    for (size_t c = 0; c < ncols; c++) {
        struct coh_col *col = &t->cols[c];
        const coh_col_decl *d = &decls[c];
        col->declared = d->type;
        if (d->categories) {
            col->allowed = calloc(d->n_categories ? d->n_categories : 1, sizeof(char *));
            if (!col->allowed)
                rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
            for (size_t i = 0; !rc && i < d->n_categories; i++)
                if (!(col->allowed[col->n_allowed++] = strdup(d->categories[i])))
                    rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        }
        if (!rc && d->min && !(col->has_min = coh_dec_parse(&col->min, d->min, strlen(d->min))))
            rc = coh_err_set(err, COH_ERR_INVALID, "column '%s': minimum is not a number",
                             col->name);
        if (!rc && d->max && !(col->has_max = coh_dec_parse(&col->max, d->max, strlen(d->max))))
            rc = coh_err_set(err, COH_ERR_INVALID, "column '%s': maximum is not a number",
                             col->name);
        if (rc) {
            coh_table_free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

int coh_table_cell_push(coh_table *t, size_t c, const char *s, size_t len, size_t row_no,
                        coh_err *err)
{
    struct coh_col *col = &t->cols[c];
    uint32_t code;
    bool is_new;
    if (dict_intern(&col->dict, s, len, &code, &is_new) != 0 ||
        coh_svec_reserve(&col->codes, 4) != 0)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory at row %zu", row_no);
    if (is_new) {
        struct coh_dec d;
        bool num = coh_dec_parse(&d, s, len);
        if (col->declared == COH_COL_NUMERIC) {
            if (!num) {
                dict_unintern_last(&col->dict, code);
                return coh_err_set(err, COH_ERR_INVALID,
                                   "row %zu, column '%s': not a finite decimal number", row_no,
                                   col->name);
            }
            if ((col->has_min && coh_dec_cmp(d, col->min) < 0) ||
                (col->has_max && coh_dec_cmp(d, col->max) > 0)) {
                dict_unintern_last(&col->dict, code);
                return coh_err_set(err, COH_ERR_INVALID,
                                   "row %zu, column '%s': value outside the declared domain",
                                   row_no, col->name);
            }
        } else if (col->allowed) {
            bool ok = false;
            for (size_t i = 0; i < col->n_allowed && !ok; i++)
                ok = strlen(col->allowed[i]) == len && memcmp(col->allowed[i], s, len) == 0;
            if (!ok) {
                dict_unintern_last(&col->dict, code);
                return coh_err_set(err, COH_ERR_INVALID,
                                   "row %zu, column '%s': value not among the declared "
                                   "categories",
                                   row_no, col->name);
            }
        }
        col->all_numeric = col->all_numeric && num;
    }
    memcpy(col->codes.p + col->codes.len, &code, 4);
    col->codes.len += 4;
    return 0;
}

int coh_table_row_append(coh_table *t, const char *const *cells, coh_err *err)
{
    if (t->finished)
        return coh_err_set(err, COH_ERR_INVALID, "table is already finished");
    size_t row_no = t->nrows + 2; /* header counts as row 1 */
    for (size_t c = 0; c < t->ncols; c++) {
        int rc = coh_table_cell_push(t, c, cells[c], strlen(cells[c]), row_no, err);
        if (rc) {
            for (size_t d = 0; d <= c; d++) /* roll back the partial row */
                t->cols[d].codes.len = t->nrows * 4;
            return rc;
        }
    }
    t->nrows++;
    return 0;
}

/* Scales a numeric column's distinct values to int64; false if they need > 18 digits. */
static bool col_scale(struct coh_col *col)
{
    int scale = 0;
    struct coh_dec d;
    for (uint32_t c = 0; c < col->dict.n; c++) {
        if (!coh_dec_parse(&d, coh_dict_str(&col->dict, c), dict_len(&col->dict, c)))
            return false;
        if (-d.e > scale)
            scale = -d.e;
    }
    if (scale > 18 || coh_svec_alloc(&col->val, (size_t)col->dict.n * 8 + 8) != 0)
        return false;
    int64_t *v = (int64_t *)col->val.p;
    for (uint32_t c = 0; c < col->dict.n; c++) {
        (void)coh_dec_parse(&d, coh_dict_str(&col->dict, c), dict_len(&col->dict, c));
        if (!coh_dec_scaled(&v[c], d, scale)) {
            coh_svec_free(&col->val);
            return false;
        }
    }
    col->scale = scale;
    return true;
}

int coh_table_finish(coh_table *t, coh_err *err)
{
    if (t->finished)
        return 0;
    for (size_t c = 0; c < t->ncols; c++) {
        struct coh_col *col = &t->cols[c];
        col->type = col->declared;
        if (col->type == COH_COL_AUTO)
            col->type = col->dict.n > 0 && col->all_numeric ? COH_COL_NUMERIC : COH_COL_CATEGORICAL;
        if (col->type == COH_COL_NUMERIC && !col_scale(col)) {
            if (col->declared == COH_COL_NUMERIC)
                return coh_err_set(err, COH_ERR_INVALID,
                                   "column '%s': numbers need more than 18 significant digits",
                                   col->name);
            col->type = COH_COL_CATEGORICAL;
        }
    }
    t->finished = true;
    return 0;
}

void coh_table_free(coh_table *t)
{
    if (!t)
        return;
    for (size_t c = 0; c < t->ncols; c++) {
        struct coh_col *col = &t->cols[c];
        free(col->name);
        for (size_t i = 0; i < col->n_allowed; i++)
            free(col->allowed[i]);
        free(col->allowed);
        dict_free(&col->dict);
        coh_svec_free(&col->codes);
        coh_svec_free(&col->val);
    }
    free(t->cols);
    free(t);
}

size_t coh_table_rows(const coh_table *t)
{
    return t->nrows;
}

size_t coh_table_cols(const coh_table *t)
{
    return t->ncols;
}

int coh_table_col_find(const coh_table *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c].name, name) == 0)
            return (int)c;
    return -1;
}

const char *coh_table_col_name(const coh_table *t, size_t col)
{
    return col < t->ncols ? t->cols[col].name : NULL;
}

enum coh_col_type coh_table_col_type(const coh_table *t, size_t col)
{
    return col < t->ncols ? t->cols[col].type : COH_COL_AUTO;
}

const char *coh_table_cell(const coh_table *t, size_t row, size_t col)
{
    if (row >= t->nrows || col >= t->ncols)
        return NULL;
    return coh_dict_str(&t->cols[col].dict, coh_table_code(t, row, col));
}
