/*
 * privacy/internal.h: structures shared by the privacy module's files; not installed.
 *
 * Storage model: every column is dictionary-encoded. A row's cell is a uint32 code into the
 * column's dictionary of distinct strings; a numeric column additionally maps each code to
 * an exact scaled integer (value = val[code] / 10^scale). Both the codes and the
 * dictionaries are plaintext-derived and live in secure vectors (sodium_malloc).
 */
#ifndef COH_PRIVACY_INTERNAL_H
#define COH_PRIVACY_INTERNAL_H

#include "privacy/privacy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- secure growable byte vectors (secvec.c) ---------------------------------------- */
struct coh_svec {
    uint8_t *p; /* sodium_malloc'd, or NULL while cap == 0 */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
};

/* Ensures room for len + extra bytes; grows by doubling (copy, then wipe the old block). */
COH_WUR int coh_svec_reserve(struct coh_svec *v, size_t extra);
/* Allocates exactly n zeroed bytes (len = n), replacing any previous content. */
COH_WUR int coh_svec_alloc(struct coh_svec *v, size_t n);
void coh_svec_free(struct coh_svec *v);
/* Raw sodium_malloc wrappers for fixed-size plaintext arrays. */
void *coh_sec_alloc(size_t n);
void coh_sec_free(void *p);

/* ---- decimals (table.c) ------------------------------------------------------------- */
struct coh_dec {
    int64_t m; /* mantissa, at most 18 significant digits */
    int e;     /* value = m * 10^e, e in [-30, 30] */
};
/* Parses [ws][+-]digits[.digits][(e|E)[+-]digits][ws]; false for anything else (NaN, inf). */
/* 10^0 .. 10^18 (table.c). */
extern const int64_t coh_pow10_i64[19];
bool coh_dec_parse(struct coh_dec *out, const char *s, size_t len);
/* m * 10^(e+scale) as int64, false on overflow. */
bool coh_dec_scaled(int64_t *out, struct coh_dec d, int scale);
int coh_dec_cmp(struct coh_dec a, struct coh_dec b);
double coh_dec_double(struct coh_dec d);
/* Writes v / 10^scale in plain decimal notation, trailing fraction zeros removed. */
size_t coh_dec_format(char *buf, int64_t v, int scale);

/* ---- dictionary of distinct strings ------------------------------------------------- */
struct coh_dict {
    struct coh_svec arena; /* NUL-terminated strings back to back */
    struct coh_svec offs;  /* uint64 offset of each code's string in arena */
    struct coh_svec slots; /* uint32 hash slots: code + 1, 0 = empty; power-of-two count */
    struct coh_svec hash;  /* uint32 hash of each code (for rehashing) */
    uint32_t n;            /* number of codes */
};

/* ---- table -------------------------------------------------------------------------- */
struct coh_col {
    char *name;                 /* header text (not secret) */
    enum coh_col_type declared; /* as declared (AUTO when not) */
    enum coh_col_type type;     /* resolved by finish */
    char **allowed;             /* declared categories or NULL */
    size_t n_allowed;
    bool has_min, has_max;
    struct coh_dec min, max; /* declared numeric domain */
    struct coh_dict dict;
    struct coh_svec codes; /* uint32 per row */
    /* numeric columns after finish: */
    int scale;           /* decimal places of the scaled values, 0..18 */
    struct coh_svec val; /* int64 scaled value per code */
    bool all_numeric;    /* every entry so far parses as a decimal */
};

struct coh_table {
    size_t ncols, nrows;
    struct coh_col *cols;
    bool finished;
};

/* Interns s[0..len) into column c as row t->nrows's cell, validating declarations. row_no
 * is the 1-based row number for messages (header = 1). */
COH_WUR int coh_table_cell_push(coh_table *t, size_t c, const char *s, size_t len, size_t row_no,
                                coh_err *err);
/* Creates an empty, unfinished table with the given column names (copied). */
COH_WUR int coh_table_alloc(coh_table **out, const char *const *names, size_t ncols, coh_err *err);

static inline uint32_t coh_table_code(const coh_table *t, size_t row, size_t col)
{
    return ((const uint32_t *)t->cols[col].codes.p)[row];
}
static inline const char *coh_dict_str(const struct coh_dict *d, uint32_t code)
{
    return (const char *)d->arena.p + ((const uint64_t *)d->offs.p)[code];
}

/* ---- CSV output helpers (csvio.c) ------------------------------------------------- */
struct coh_csv_writer {
    int fd;
    bool close_fd;
    uint8_t *buf; /* secure, COH_CSV_WBUF bytes */
    size_t len;
    bool failed;
};
COH_WUR int coh_csv_writer_open(struct coh_csv_writer *w, const char *path, coh_err *err);
/* Appends one field (quoted per RFC 4180 when needed); first = no leading comma. */
void coh_csv_writer_field(struct coh_csv_writer *w, const char *s, size_t len, bool first);
void coh_csv_writer_eol(struct coh_csv_writer *w);
/* Flushes and closes; returns 0 or COH_ERR_IO. */
COH_WUR int coh_csv_writer_close(struct coh_csv_writer *w, coh_err *err);

/* ---- hierarchy internals (hierarchy.c) ---------------------------------------------- */
struct coh_hierarchy {
    size_t n_leaves, n_levels; /* levels: 0 = leaf ... n_levels-1 = root */
    char **labels;             /* node labels, indexed by node id */
    size_t n_nodes;
    uint32_t *anc;     /* n_leaves * n_levels node ids: anc[leaf * n_levels + level] */
    uint32_t *n_under; /* leaves under each node */
    uint32_t *node_level;
};
/* Leaf index of value s, or -1. */
long coh_hierarchy_leaf_find(const coh_hierarchy *h, const char *s);

/* ---- randomness (rng.c) ------------------------------------------------------------- */
#define COH_RNG_BUF 4096
struct coh_dp_rng {
    uint8_t key[32];          /* chacha20 key; replaced from the stream on every refill */
    uint8_t buf[COH_RNG_BUF]; /* keystream not yet used */
    size_t pos;
    uint64_t nonce;
};
void coh_dp_rng_refill(coh_dp_rng *r);
static inline uint64_t coh_dp_rng_u64(coh_dp_rng *r)
{
    if (r->pos + 8 > COH_RNG_BUF)
        coh_dp_rng_refill(r);
    uint64_t x;
    __builtin_memcpy(&x, r->buf + r->pos, 8);
    r->pos += 8;
    return x;
}

/* ---- k-anonymity release (mondrian.c builds it, release.c reports and writes it) ----- */
#define COH_KANON_MAX_QI 32
#define COH_KANON_MAX_SENS 32

struct coh_kanon_release {
    const coh_table *t; /* borrowed */
    unsigned k;
    double l;
    enum coh_ldiv_kind l_kind;
    enum coh_kanon_mode mode;
    double max_suppression;
    size_t n_qi, n_sens;
    int qi_col[COH_KANON_MAX_QI];     /* table column of each QI */
    int sens_col[COH_KANON_MAX_SENS]; /* table column of each sensitive attribute */
    int *col_qi;                      /* per table column: QI index or -1 */
    size_t n_rows, n_released, n_classes;
    struct coh_svec src;      /* uint32 source row of each released row */
    struct coh_svec cls;      /* uint32 class of each released row */
    struct coh_svec cell_off; /* uint64 per class * n_qi: offset of the cell text in arena */
    struct coh_svec arena;    /* rendered generalized QI cells, NUL-terminated */
    double *ncp_cell;         /* per class * n_qi: NCP of that cell, in [0,1] */
    uint32_t *class_size;     /* rows per class (>= k) */
    coh_kanon_metrics m;      /* filled by coh_kanon_release_finish */
    double ncp_qi[COH_KANON_MAX_QI];
    size_t distinct_classes; /* classes after merging identical generalized tuples */
    /* per QI, for the report: numeric grid ("" when not numeric or without a grid) */
    char grid_step[COH_KANON_MAX_QI][32], grid_lo[COH_KANON_MAX_QI][48],
        grid_hi[COH_KANON_MAX_QI][48];
    bool qi_numeric[COH_KANON_MAX_QI];
};
/* Computes the metrics of a built release (merging classes with equal cells). */
COH_WUR int coh_kanon_release_finish(struct coh_kanon_release *r, coh_err *err);
static inline const char *coh_kanon_class_cell(const struct coh_kanon_release *r, size_t cls,
                                               size_t q)
{
    return (const char *)r->arena.p + ((const uint64_t *)r->cell_off.p)[cls * r->n_qi + q];
}

#endif
