/*
 * privacy: the privacy engine. In-memory columnar tables loaded from CSV (or filled by the
 * caller), k-anonymity by Mondrian partitioning with l-diversity and suppression, and
 * differential privacy with exact discrete Laplace / discrete Gaussian samplers.
 *
 * Depends only on core, libsodium, jansson and libcsv: never on the database or HTTP.
 *
 * WARNING: a table holds contributors' plaintext. Every cell, dictionary string and derived
 * per-row array lives in sodium_malloc memory and is wiped when freed. Error messages name
 * the row and column of a problem but never contain a cell value.
 *
 * Conventions: functions returning int return 0 (COH_OK) or a negative coh_err_code with a
 * one-line message in *err (err may be NULL). Out-params are NULL/zero on failure. Every
 * _free accepts NULL.
 */
#ifndef COH_PRIVACY_H
#define COH_PRIVACY_H

#include "core/core.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- progress ---------------------------------------------------------------------- */
/*
 * Called now and then during long operations: phase is a short static string ("reading",
 * "partitioning", "writing"); total is 0 when unknown. Never receives data values.
 */
typedef void (*coh_privacy_progress_fn)(void *ctx, const char *phase, uint64_t done,
                                        uint64_t total);

/* ---- tables ------------------------------------------------------------------------ */
typedef struct coh_table coh_table;

enum coh_col_type {
    COH_COL_AUTO = 0,    /* numeric if every cell parses as a decimal number, else categorical */
    COH_COL_NUMERIC,     /* decimal numbers, stored exactly as scaled int64 */
    COH_COL_CATEGORICAL, /* any text; compared as exact strings */
};

/* A declared column. Rows whose value falls outside the declaration are rejected. */
typedef struct coh_col_decl {
    const char *name;
    enum coh_col_type type;
    const char *const *categories; /* categorical: allowed values, or NULL for any */
    size_t n_categories;
    const char *min, *max; /* numeric: decimal text of the allowed domain, NULL = unbounded */
} coh_col_decl;

typedef struct coh_table_schema {
    const coh_col_decl *cols; /* declared columns (matched by header name) */
    size_t n_cols;
    int only_declared; /* 1: undeclared CSV columns are skipped (not loaded at all) */
} coh_table_schema;

/*
 * coh_table_new: an empty table with the given columns; fill it with coh_table_row_append
 * and then call coh_table_finish. decls[i].name must be unique.
 */
COH_WUR int coh_table_new(coh_table **out, const coh_col_decl *decls, size_t ncols, coh_err *err);
/* Appends one row of ncols NUL-terminated cells (copied). Rejects out-of-schema values. */
COH_WUR int coh_table_row_append(coh_table *t, const char *const *cells, coh_err *err);
/* Resolves COH_COL_AUTO columns to a type; the table is read-only afterwards. */
COH_WUR int coh_table_finish(coh_table *t, coh_err *err);
/*
 * coh_table_csv_load: reads an RFC 4180 CSV file with a header row, in one pass, into a
 * finished table. schema may be NULL (every column AUTO). Row numbers in errors count the
 * header as row 1, so they match line numbers of files without multi-line fields.
 */
COH_WUR int coh_table_csv_load(coh_table **out, const char *path, const coh_table_schema *schema,
                               coh_privacy_progress_fn progress, void *progress_ctx, coh_err *err);
void coh_table_free(coh_table *t);

size_t coh_table_rows(const coh_table *t);
size_t coh_table_cols(const coh_table *t);
/* Returns the column index of name, or -1. */
int coh_table_col_find(const coh_table *t, const char *name);
const char *coh_table_col_name(const coh_table *t, size_t col);
enum coh_col_type coh_table_col_type(const coh_table *t, size_t col);
/* The cell's text as loaded (points into secure memory owned by t). */
const char *coh_table_cell(const coh_table *t, size_t row, size_t col);

/* ---- generalization hierarchies ------------------------------------------------------ */
typedef struct coh_hierarchy coh_hierarchy;

/*
 * A hierarchy file has one line per leaf value: the value, then its ancestors up to the
 * root, separated by ';' (ARX style) or ',' (CSV, RFC 4180 quoting). Every line has the same
 * number of levels and the same root. Example: "34;30-39;*".
 */
COH_WUR int coh_hierarchy_load(coh_hierarchy **out, const char *path, coh_err *err);
COH_WUR int coh_hierarchy_parse(coh_hierarchy **out, const char *text, size_t len, coh_err *err);
void coh_hierarchy_free(coh_hierarchy *h);

/* ---- k-anonymity --------------------------------------------------------------------- */
enum coh_kanon_mode {
    COH_KANON_STRICT = 0, /* classes are disjoint boxes: rows equal on the split QI stay together */
    COH_KANON_RELAXED,    /* rows equal to the median may go to either side (balanced halves) */
};
enum coh_ldiv_kind { COH_LDIV_NONE = 0, COH_LDIV_DISTINCT, COH_LDIV_ENTROPY };

/*
 * The grid of a numeric quasi-identifier. A generalized numeric cell is an interval [a,b]
 * whose ends a and b are grid points, widened outward from the values it covers, so it never
 * reveals the smallest or largest value of its class (unless that value is itself a grid
 * point); a cell is printed as a single value only when every row of its class holds that
 * value and the value is a grid point.
 *   with bounds (lo and hi): the grid is lo, hi and every multiple of step between them;
 *                            a value outside [lo,hi] is refused (row and column named)
 *   without bounds:          every multiple of step (origin 0)
 *   step NULL:               coh_kanon_grid_step_default over [lo,hi], or without bounds over
 *                            the column's own range (origin 0 still: only the step's order of
 *                            magnitude depends on the data)
 *   none = 1:                no grid; intervals end at the class's smallest and largest values,
 *                            which reveals them. For comparisons (bench) only.
 */
typedef struct coh_kanon_grid {
    const char *lo, *hi; /* decimal text, both or neither */
    const char *step;    /* decimal text > 0, or NULL for the default */
    int none;
} coh_kanon_grid;

/*
 * coh_kanon_grid_step_default: the default grid step over [lo, hi] for values with `decimals`
 * fraction digits: the smallest "nice" step (1, 2 or 5 times a power of ten) that cuts the
 * range into at most 50 cells, and never finer than one unit of the last decimal (1 for
 * integers). So a range of 20 integers gets step 1, ages 18..100 step 2, 0..300 step 10,
 * 0..2.5 with 3 decimals step 0.05. Writes the step as decimal text into out (at least 32
 * bytes). COH_ERR_INVALID when lo/hi are not numbers or lo >= hi.
 */
COH_WUR int coh_kanon_grid_step_default(char *out, size_t out_len, const char *lo, const char *hi,
                                        int decimals, coh_err *err);

typedef struct coh_kanon_params {
    const char *const *qi; /* quasi-identifier column names */
    size_t n_qi;
    const coh_hierarchy *const *hierarchies; /* n_qi entries (NULL: none) or NULL */
    const coh_kanon_grid *grids;  /* n_qi entries (used for numeric QIs only), or NULL: the
                                     default grid (no bounds, default step) for every one */
    const char *const *sensitive; /* l-diversity columns (may be empty) */
    size_t n_sensitive;
    unsigned k; /* >= 1 */
    double l;   /* >= 1; only with l_kind != NONE */
    enum coh_ldiv_kind l_kind;
    double max_suppression; /* fraction of rows in [0,1) that may be withheld */
    enum coh_kanon_mode mode;
} coh_kanon_params;

/*
 * Loss, as ARX and the independent checker (tools/check_release.py) count it. NCP of a cell:
 * numeric (b - a) / (column max - column min) with [a,b] clipped to the column's range;
 * set (|set| - 1) / (|domain| - 1); hierarchy label (leaves under it - 1) / (leaves - 1);
 * 0 when the column holds one value. Suppression is used only where it lowers
 * ncp_incl_suppressed, never merely because the limit allows it.
 */
typedef struct coh_kanon_metrics {
    size_t rows, released, suppressed, classes;
    double ncp;                 /* mean over released rows and QIs, in [0,1] */
    double ncp_incl_suppressed; /* over all rows: a suppressed row counts as 1 (ARX) */
    double discernibility;      /* sum |E|^2 + suppressed * rows */
    double c_avg;               /* (released / classes) / k */
} coh_kanon_metrics;

typedef struct coh_kanon_release coh_kanon_release;

/*
 * coh_kanon_run: partitions t (which must outlive the release) into equivalence classes of
 * at least k rows (and l-diverse on every sensitive column when asked), numeric QIs on their
 * grids. Splits are chosen to minimize the loss; rows are suppressed (up to the limit) only
 * where that lowers the loss counted with suppressed rows at NCP 1. If the constraints cannot
 * be met, fails with COH_ERR_LIMIT and *out = NULL: there is never a partial release.
 */
COH_WUR int coh_kanon_run(coh_kanon_release **out, const coh_table *t, const coh_kanon_params *p,
                          coh_privacy_progress_fn progress, void *progress_ctx, coh_err *err);
void coh_kanon_release_free(coh_kanon_release *r);

void coh_kanon_release_metrics(const coh_kanon_release *r, coh_kanon_metrics *out);
/* Released rows, grouped by class and shuffled within each class. */
size_t coh_kanon_release_rows(const coh_kanon_release *r);
/* Cell of released row i: generalized for a QI, the original text otherwise. */
const char *coh_kanon_release_cell(const coh_kanon_release *r, size_t i, size_t col);
/*
 * The input row released as row i. For verification only (tests): publishing this mapping
 * would undo the anonymization.
 */
size_t coh_kanon_release_source_row(const coh_kanon_release *r, size_t i);
/* Writes the release as CSV (header, all columns, RFC 4180 quoting); path "-" is stdout. */
COH_WUR int coh_kanon_release_csv_write(const coh_kanon_release *r, const char *path, coh_err *err);
/* A JSON report: parameters, metrics, per-QI NCP, class size histogram. Caller decrefs. */
json_t *coh_kanon_release_report(const coh_kanon_release *r);

/* ---- differential privacy: rationals, randomness, samplers -------------------------- */
typedef struct coh_rational {
    uint64_t num, den; /* den > 0, reduced */
} coh_rational;

/* Parses "0.5", "2", "1/3" or "1e-1" into a reduced rational (> 0 unless allow_zero). */
COH_WUR int coh_rational_parse(coh_rational *out, const char *s, coh_err *err);
/* -1, 0, 1 comparing a and b exactly (den > 0; zero numerators allowed). */
int coh_rational_cmp(coh_rational a, coh_rational b);
/* *out = a + b reduced; false (out untouched) when it does not fit 64-bit terms. */
bool coh_rational_add(coh_rational *out, coh_rational a, coh_rational b);

/* A CSPRNG: ChaCha20 keystream under a key from randombytes_buf, rekeyed periodically. */
typedef struct coh_dp_rng coh_dp_rng;
COH_WUR int coh_dp_rng_new(coh_dp_rng **out);
/* Deterministic stream for tests and benchmarks only. */
COH_WUR int coh_dp_rng_new_seeded(coh_dp_rng **out, const uint8_t seed[32]);
void coh_dp_rng_free(coh_dp_rng *r);
/* Uniform integer in [0, n), n >= 1, by rejection (no modulo bias). */
uint64_t coh_dp_rng_below(coh_dp_rng *r, uint64_t n);

/* Bernoulli(exp(-num/den)), num >= 0, den >= 1 (CKS 2020, Algorithm 1). Returns 0 or 1. */
int coh_dp_bernoulli_exp(coh_dp_rng *r, uint64_t num, uint64_t den);
/* Discrete Laplace with scale t/s: P(x) proportional to exp(-|x| s / t) (Algorithm 2). */
int64_t coh_dp_laplace_sample(coh_dp_rng *r, uint64_t s, uint64_t t);
/*
 * Discrete Gaussian with variance parameter sigma^2 = p/q: P(x) proportional to
 * exp(-x^2 q / (2p)) (Algorithm 3). Requires p <= 2^40 and q <= 2^20.
 */
int64_t coh_dp_gaussian_sample(coh_dp_rng *r, uint64_t p, uint64_t q);

/* ---- differential privacy: budget --------------------------------------------------- */
typedef struct coh_dp_budget coh_dp_budget;

/* A request budget of (epsilon, delta); epsilon > 0, 0 <= delta < 1. */
COH_WUR int coh_dp_budget_new(coh_dp_budget **out, coh_rational epsilon, double delta,
                              coh_err *err);
void coh_dp_budget_free(coh_dp_budget *b);
/*
 * Declares a contributor whose rows are in the data with `remaining` lifetime epsilon; the
 * budget will never spend more than the smallest remaining lifetime epsilon.
 */
COH_WUR int coh_dp_budget_contributor_add(coh_dp_budget *b, coh_rational remaining, coh_err *err);
/* Spends (eps, delta) under basic composition, or fails with COH_ERR_LIMIT spending nothing. */
COH_WUR int coh_dp_budget_spend(coh_dp_budget *b, coh_rational eps, double delta, coh_err *err);
coh_rational coh_dp_budget_spent_epsilon(const coh_dp_budget *b);
double coh_dp_budget_spent_delta(const coh_dp_budget *b);

/* ---- differential privacy: queries -------------------------------------------------- */
enum coh_dp_mechanism { COH_DP_LAPLACE = 0, COH_DP_GAUSSIAN };

/* Declared bounds or categories of a column; never taken from the data. */
typedef struct coh_dp_column {
    const char *name;
    const char *lo, *hi;           /* numeric clamp bounds (decimal text), or NULL */
    const char *const *categories; /* categorical levels (histogram, group-by), or NULL */
    size_t n_categories;
    unsigned bins; /* numeric histogram: equal-width bins over [lo,hi]; 0 = default 10 */
} coh_dp_column;

typedef struct coh_dp_request {
    const char *const *queries; /* "count", "sum(c)", "mean(c)", "variance(c)",
                                   "histogram(c)", "quantiles(c,0.25,0.5,...)", "median(c)" */
    size_t n_queries;
    const coh_dp_column *columns;
    size_t n_columns;
    const char *group_by; /* column with declared categories, or NULL */
    enum coh_dp_mechanism mechanism;
    coh_rational epsilon; /* for the whole request, split evenly over queries */
    double delta;         /* gaussian only; split evenly over queries */
} coh_dp_request;

/*
 * coh_dp_run: validates every query, spends the request's (epsilon, delta) from the budget
 * (refusing before any noise is drawn if it does not fit), and returns a JSON document with
 * each statistic, its noise scale and the 95% bound of the error its noise causes
 * ("error_bound_95"; see dp_query.c). Values outside the declared bounds are clamped; a
 * non-numeric, NaN or infinite value in a queried column is rejected with its row and column.
 * The document holds no exact count of rows: only noisy statistics and public parameters.
 * The first count query's noisy count is reused by sum, mean and variance (no second count).
 */
COH_WUR int coh_dp_run(json_t **out, const coh_table *t, const coh_dp_request *req,
                       coh_dp_budget *budget, coh_dp_rng *rng, coh_err *err);

/*
 * coh_dp_expected_error: before any data, the 95% error each query of req would have over n
 * rows, with the lattices, noise scales and bound formulas of coh_dp_run (t supplies the
 * columns only, e.g. an empty finished table; nothing is spent or drawn). Assumed: groups of
 * equal size n / groups, values spread evenly over their bounds (centred mean at the middle,
 * variance (hi-lo)^2/12, quantiles at their uniform positions). *out = [{query,
 * expected_error_95 (the statistic's units; per group or bucket), relative, mostly_noise}],
 * relative = error / a plausible size of the statistic: count n_g, sum n_g max(|middle|,
 * (hi-lo)/2), mean and quantiles (hi-lo)/2, variance (hi-lo)^2/12, histogram bucket n_g / bins;
 * mostly_noise = relative > 0.5 (the 95% error is over half the statistic's plausible size).
 */
COH_WUR int coh_dp_expected_error(json_t **out, const coh_table *t, const coh_dp_request *req,
                                  size_t n, coh_err *err);

#endif
