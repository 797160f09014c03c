/*
 * dp_query: differentially private statistics over a table.
 *
 * Privacy unit: one row (add/remove neighbours). Every numeric value is clamped to the
 * declared bounds [lo,hi] (never bounds from the data) and mapped to an integer lattice of
 * step G (a power of ten chosen so that max(|lo|,|hi|)/G <= 2^20, or 2^10 for variance, so
 * sums of squares stay small); noise is drawn on that lattice by the exact discrete samplers.
 * Rounding to the lattice moves each value by at most G/2 and is reported as "lattice".
 *
 * Accounting: the request's epsilon (and delta, Gaussian only) is split evenly over its
 * queries, and within a query evenly over its components (mean = count + sum, variance =
 * count + sum + sum of squares): basic composition. Groups of a group-by and bins of a
 * histogram are disjoint, so each gets the query's full share (parallel composition).
 * Laplace: scale = sensitivity / epsilon (pure DP). Gaussian: the discrete Gaussian with
 * sigma^2 satisfies rho = Delta^2 / (2 sigma^2) zCDP (CKS 2020, Thm 4), and rho-zCDP gives
 * (rho + 2 sqrt(rho ln(1/delta)), delta)-DP (Bun and Steinke 2016, Prop 1.3); we solve for
 * the largest rho within (epsilon, delta) and round sigma^2 up.
 *
 * Error bounds: for a single noisy sum or count the 95% bound is exact for the sampled
 * distribution; for mean and variance it combines 97.5% (or 98.3%) bounds of the components
 * by interval arithmetic; for quantiles it is an approximate (normal) bound on the rank error
 * converted to values through the noisy CDF. All are computed from released values only.
 */
#include "privacy/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum qk { QK_COUNT, QK_SUM, QK_MEAN, QK_VAR, QK_HIST, QK_QUANT };
#define MAX_QUANT 16
#define QUANT_BINS 256

struct pquery {
    enum qk kind;
    const char *text;
    char col[128];
    double qs[MAX_QUANT];
    size_t nq;
};

struct noise {
    bool gauss;
    uint64_t s, t; /* laplace scale t/s */
    uint64_t p, q; /* gaussian sigma^2 = p/q */
    double scale;  /* laplace b or gaussian sigma, lattice units */
};

/* ---- parsing ------------------------------------------------------------------------ */

static int query_parse(struct pquery *q, const char *text, coh_err *err)
{
    memset(q, 0, sizeof *q);
    q->text = text;
    char buf[256];
    size_t n = 0;
    for (const char *s = text; *s && n + 1 < sizeof buf; s++)
        if (*s != ' ' && *s != '\t')
            buf[n++] = *s;
    buf[n] = 0;
    char *lp = strchr(buf, '('), *args = NULL;
    if (lp) {
        if (buf[n - 1] != ')')
            return coh_err_set(err, COH_ERR_INVALID, "query '%s': missing ')'", text);
        buf[n - 1] = 0;
        *lp = 0;
        args = lp + 1;
    }
    static const struct {
        const char *name;
        enum qk kind;
    } names[] = {{"count", QK_COUNT},    {"sum", QK_SUM},        {"mean", QK_MEAN},
                 {"variance", QK_VAR},   {"histogram", QK_HIST}, {"quantiles", QK_QUANT},
                 {"quantile", QK_QUANT}, {"median", QK_QUANT}};
    size_t i = 0;
    while (i < sizeof names / sizeof names[0] && strcmp(names[i].name, buf) != 0)
        i++;
    if (i == sizeof names / sizeof names[0])
        return coh_err_set(err, COH_ERR_INVALID, "query '%s': unknown statistic", text);
    q->kind = names[i].kind;
    if (q->kind == QK_COUNT) {
        if (args && *args)
            return coh_err_set(err, COH_ERR_INVALID, "query '%s': count takes no column", text);
        return 0;
    }
    char *tok = args ? strtok(args, ",") : NULL;
    if (!tok || strlen(tok) >= sizeof q->col)
        return coh_err_set(err, COH_ERR_INVALID, "query '%s': needs a column", text);
    strcpy(q->col, tok);
    if (strcmp(buf, "median") == 0)
        q->qs[q->nq++] = 0.5;
    while ((tok = strtok(NULL, ","))) {
        char *end;
        double v = strtod(tok, &end);
        if (q->kind != QK_QUANT || *end || !(v >= 0 && v <= 1) || q->nq == MAX_QUANT ||
            strcmp(buf, "median") == 0)
            return coh_err_set(err, COH_ERR_INVALID, "query '%s': bad argument", text);
        q->qs[q->nq++] = v;
    }
    if (q->kind == QK_QUANT && q->nq == 0)
        return coh_err_set(err, COH_ERR_INVALID, "query '%s': give quantiles in [0,1]", text);
    return 0;
}

/* ---- noise -------------------------------------------------------------------------- */

/* z with P(|N(0,1)| > z) = alpha, by bisection on erfc. */
static double zq(double alpha)
{
    double lo = 0, hi = 40;
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        if (erfc(mid / sqrt(2)) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* Smallest m with P(|Z| > m) <= alpha. */
static double noise_bound(const struct noise *nz, double alpha)
{
    if (!nz->gauss) {
        /* P(|Z| >= m) = 2 e^{-m/b} / (1 + e^{-1/b}) for m >= 1 */
        double b = nz->scale;
        double m = ceil(-b * log(alpha * (1 + exp(-1 / b)) / 2)) - 1;
        return m > 0 ? m : 0;
    }
    double s = nz->scale;
    if (s > 1e4)
        return ceil(zq(alpha) * s);
    double lim = ceil(12 * s + 10), z = 0;
    for (double x = -lim; x <= lim; x++)
        z += exp(-x * x / (2 * s * s));
    double tail = 0; /* P(|Z| > m), summed from the outside in */
    for (double m = lim; m > 0; m--) {
        tail += 2 * exp(-m * m / (2 * s * s)) / z;
        if (tail > alpha)
            return m;
    }
    return 0;
}

/* Sets up noise for a statistic of the given sensitivity; 1 if sigma^2 would be too large
 * for the sampler's exact arithmetic (the caller then coarsens the lattice). */
static int noise_make(struct noise *nz, enum coh_dp_mechanism mech, coh_rational eps, double delta,
                      uint64_t sens, coh_err *err)
{
    memset(nz, 0, sizeof *nz);
    if (mech == COH_DP_LAPLACE) {
        unsigned __int128 t = (unsigned __int128)sens * eps.den;
        if (t > (unsigned __int128)INT64_MAX)
            return 1;
        nz->t = (uint64_t)t;
        nz->s = eps.num;
        nz->scale = (double)nz->t / (double)nz->s;
        return 0;
    }
    nz->gauss = true;
    double e = (double)eps.num / (double)eps.den, L = log(1 / delta);
    double rho = sqrt(L + e) - sqrt(L);
    rho *= rho;
    double s2 = (double)sens * (double)sens / (2 * rho);
    const double pmax = 1099511627776.0; /* 2^40 */
    if (!(s2 * 1.0001 < pmax))
        return 1;
    uint64_t q = 1u << 20;
    while (q > 1 && s2 * (double)q >= pmax)
        q >>= 1;
    nz->q = q;
    nz->p = (uint64_t)ceil(s2 * (double)q * (1 + 1e-12)); /* rounding up only adds noise */
    nz->scale = sqrt((double)nz->p / (double)nz->q);
    (void)err;
    return 0;
}

static int64_t noise_draw(const struct noise *nz, coh_dp_rng *rng)
{
    return nz->gauss ? coh_dp_gaussian_sample(rng, nz->p, nz->q)
                     : coh_dp_laplace_sample(rng, nz->s, nz->t);
}

/* ---- columns ------------------------------------------------------------------------ */

struct numcol {
    int col;
    const int64_t *val; /* per code, scaled by 10^scale */
    int64_t mult;       /* 10^(sp - scale) */
    int sp;             /* scale of lo, hi and lattice arithmetic */
    int64_t lo, hi;
    double unit; /* 10^-sp */
};

static const coh_dp_column *decl_find(const coh_dp_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_columns; i++)
        if (strcmp(req->columns[i].name, name) == 0)
            return &req->columns[i];
    return NULL;
}

/* Names the first row of a column that is not a finite decimal (NaN, inf, text, empty). */
static int not_numeric(const coh_table *t, int c, coh_err *err)
{
    struct coh_dec d;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *s = coh_table_cell(t, r, (size_t)c);
        if (!coh_dec_parse(&d, s, strlen(s)))
            return coh_err_set(err, COH_ERR_INVALID,
                               "row %zu, column '%s': not a finite decimal number", r + 2,
                               t->cols[c].name);
    }
    return coh_err_set(err, COH_ERR_INVALID, "column '%s': numbers out of range", t->cols[c].name);
}

static int numcol_init(struct numcol *nc, const coh_table *t, const coh_dp_request *req,
                       const char *name, coh_err *err)
{
    const coh_dp_column *d = decl_find(req, name);
    nc->col = coh_table_col_find(t, name);
    if (nc->col < 0)
        return coh_err_set(err, COH_ERR_INVALID, "column '%s' not found", name);
    if (!d || !d->lo || !d->hi)
        return coh_err_set(err, COH_ERR_INVALID,
                           "column '%s': declare its bounds (never taken from the data)", name);
    const struct coh_col *col = &t->cols[nc->col];
    if (col->type != COH_COL_NUMERIC)
        return not_numeric(t, nc->col, err);
    struct coh_dec lo, hi;
    if (!coh_dec_parse(&lo, d->lo, strlen(d->lo)) || !coh_dec_parse(&hi, d->hi, strlen(d->hi)) ||
        coh_dec_cmp(lo, hi) >= 0)
        return coh_err_set(err, COH_ERR_INVALID, "column '%s': bounds must be numbers lo < hi",
                           name);
    int sp = col->scale;
    sp = -lo.e > sp ? -lo.e : sp;
    sp = -hi.e > sp ? -hi.e : sp;
    if (sp > 18 || !coh_dec_scaled(&nc->lo, lo, sp) || !coh_dec_scaled(&nc->hi, hi, sp) ||
        nc->lo < -(INT64_MAX >> 22) || nc->hi > (INT64_MAX >> 22))
        return coh_err_set(err, COH_ERR_INVALID, "column '%s': bounds out of range", name);
    nc->sp = sp;
    nc->mult = 1;
    for (int i = col->scale; i < sp; i++)
        nc->mult *= 10;
    nc->val = (const int64_t *)col->val.p;
    nc->unit = pow(10, -sp);
    return 0;
}

/* Clamped value of row r in units of 10^-sp (saturating: clamping makes overflow moot). */
static inline int64_t numcol_get(const struct numcol *nc, const coh_table *t, size_t r)
{
    int64_t v = nc->val[coh_table_code(t, r, (size_t)nc->col)];
    __int128 x = (__int128)v * nc->mult;
    return x < nc->lo ? nc->lo : x > nc->hi ? nc->hi : (int64_t)x;
}

static inline int64_t lat_round(int64_t v, int64_t g)
{
    return v >= 0 ? (v + g / 2) / g : -((-v + g / 2) / g);
}

static uint64_t lat_sens(const struct numcol *nc, int64_t g, bool square)
{
    int64_t a = llabs(lat_round(nc->lo, g)), b = llabs(lat_round(nc->hi, g));
    uint64_t m = (uint64_t)(a > b ? a : b);
    if (square)
        m *= m;
    return m ? m : 1;
}

/* ---- evaluation --------------------------------------------------------------------- */

struct run {
    const coh_table *t;
    const coh_dp_request *req;
    coh_dp_rng *rng;
    coh_rational eps; /* per query */
    double delta;     /* per query */
    int gcol;         /* group-by column or -1 */
    size_t ng;        /* groups (1 without group-by) */
    const char *const *gnames;
    int32_t *gmap; /* per code of gcol: group index or -1 (value outside the categories) */
};

struct acc {
    int64_t n;
    __int128 s, s2;
};

static inline int32_t group_of(const struct run *R, size_t r)
{
    return R->gcol < 0 ? 0 : R->gmap[coh_table_code(R->t, r, (size_t)R->gcol)];
}

/* Per-group count, lattice sum and sum of squares of a (clamped) numeric column. */
static struct acc *accumulate(const struct run *R, const struct numcol *nc, int64_t g)
{
    struct acc *a = calloc(R->ng, sizeof *a);
    if (!a)
        return NULL;
    for (size_t r = 0; r < R->t->nrows; r++) {
        int32_t k = group_of(R, r);
        if (k < 0)
            continue;
        a[k].n++;
        if (nc) {
            int64_t x = lat_round(numcol_get(nc, R->t, r), g);
            a[k].s += x;
            a[k].s2 += (__int128)x * x;
        }
    }
    return a;
}

static coh_rational rdiv(coh_rational e, uint64_t k)
{
    unsigned __int128 den = (unsigned __int128)e.den * k;
    uint64_t a = e.num, b = den > UINT64_MAX ? 0 : (uint64_t)den;
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    if (den > UINT64_MAX || a == 0)
        return (coh_rational){0, 0};
    return (coh_rational){e.num / a, (uint64_t)(den / a)};
}

static json_t *rat_json(coh_rational e)
{
    char buf[48];
    if (e.den == 1)
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)e.num);
    else
        snprintf(buf, sizeof buf, "%llu/%llu", (unsigned long long)e.num,
                 (unsigned long long)e.den);
    return json_string(buf);
}

/* The object that receives group g's result: the query object itself without group-by. */
static json_t *slot(const struct run *R, json_t *qo, size_t g)
{
    if (R->gcol < 0)
        return qo;
    json_t *arr = json_object_get(qo, "groups");
    if (!arr) {
        arr = json_array();
        json_object_set_new(qo, "groups", arr);
    }
    json_t *o = json_pack("{s:s}", "group", R->gnames[g]);
    json_array_append_new(arr, o);
    return o;
}

/* Chooses the lattice and noise of `ncomp` components (sensitivities from the lattice). */
static int setup(const struct run *R, const struct numcol *nc, int64_t lim, size_t ncomp,
                 const int *kind, struct noise *nz, int64_t *g_out, coh_err *err)
{
    coh_rational e = rdiv(R->eps, ncomp);
    if (e.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "epsilon is too finely divided");
    double d = R->delta / (double)ncomp;
    int64_t g = 1;
    if (nc) {
        int64_t m = nc->hi > -nc->lo ? nc->hi : -nc->lo;
        while (g < INT64_MAX / 10 && m / g > lim)
            g *= 10;
    }
    for (int tries = 0; tries < 19; tries++, g *= 10) {
        int big = 0;
        for (size_t c = 0; c < ncomp && !big; c++) {
            uint64_t sens = kind[c] == 0 ? 1 : lat_sens(nc, g, kind[c] == 2);
            big = noise_make(&nz[c], R->req->mechanism, e, d, sens, err);
        }
        if (!big) {
            *g_out = g;
            return 0;
        }
        if (!nc)
            break;
    }
    return coh_err_set(err, COH_ERR_INVALID, "epsilon/delta too small for exact sampling");
}

static void put_noise(json_t *o, const char *key, const struct noise *nz, double unit)
{
    json_object_set_new(o, key, json_real(nz->scale * unit));
}

static int eval_scalar(const struct run *R, const struct pquery *q, json_t *qo, coh_err *err)
{
    struct numcol nc;
    int rc = q->kind == QK_COUNT ? 0 : numcol_init(&nc, R->t, R->req, q->col, err);
    if (rc)
        return rc;
    static const int k_count[] = {0}, k_sum[] = {1}, k_mean[] = {0, 1}, k_var[] = {0, 1, 2};
    const int *kind = q->kind == QK_COUNT  ? k_count
                      : q->kind == QK_SUM  ? k_sum
                      : q->kind == QK_MEAN ? k_mean
                                           : k_var;
    size_t ncomp = q->kind == QK_COUNT ? 1 : q->kind == QK_SUM ? 1 : q->kind == QK_MEAN ? 2 : 3;
    struct noise nz[3];
    int64_t g = 1;
    const struct numcol *ncp = q->kind == QK_COUNT ? NULL : &nc;
    if ((rc = setup(R, ncp, q->kind == QK_VAR ? 1024 : 1 << 20, ncomp, kind, nz, &g, err)))
        return rc;
    struct acc *a = accumulate(R, ncp, g);
    if (!a)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    double u = ncp ? nc.unit * (double)g : 1; /* value of one lattice step */
    double lo = ncp ? (double)nc.lo * nc.unit : 0, hi = ncp ? (double)nc.hi * nc.unit : 0;
    double M = fmax(fabs(lo), fabs(hi));
    if (ncp) {
        json_object_set_new(qo, "bounds", json_pack("[f,f]", lo, hi));
        json_object_set_new(qo, "lattice", json_real(u));
    }
    double alpha = 0.05 / (double)ncomp, b[3];
    for (size_t c = 0; c < ncomp; c++)
        b[c] = noise_bound(&nz[c], alpha);
    for (size_t k = 0; k < R->ng; k++) {
        json_t *o = slot(R, qo, k);
        double C = (double)(a[k].n + noise_draw(&nz[0], R->rng));
        if (q->kind == QK_COUNT) {
            json_object_set_new(o, "value", json_integer((json_int_t)fmax(C, 0)));
            put_noise(o, "noise_scale", &nz[0], 1);
            json_object_set_new(o, "error_bound_95", json_real(b[0]));
        } else if (q->kind == QK_SUM) {
            double S = (double)(a[k].s + noise_draw(&nz[0], R->rng)) * u;
            json_object_set_new(o, "value", json_real(S));
            put_noise(o, "noise_scale", &nz[0], u);
            json_object_set_new(o, "error_bound_95", json_real(b[0] * u));
        } else if (q->kind == QK_MEAN) {
            double S = (double)(a[k].s + noise_draw(&nz[1], R->rng)) * u;
            double mean = C >= 1 ? fmin(fmax(S / C, lo), hi) : (lo + hi) / 2;
            double eb =
                C - b[0] >= 1 ? (b[1] * u + M * b[0]) / (C - b[0]) + (g > 1 ? u / 2 : 0) : hi - lo;
            json_object_set_new(o, "value", json_real(mean));
            json_object_set_new(
                o, "noise_scale",
                json_pack("{s:f, s:f}", "count", nz[0].scale, "sum", nz[1].scale * u));
            json_object_set_new(o, "error_bound_95", json_real(fmin(eb, hi - lo)));
        } else {
            double S = (double)(a[k].s + noise_draw(&nz[1], R->rng));
            double Q = (double)(a[k].s2 + noise_draw(&nz[2], R->rng));
            double vmax = (hi - lo) * (hi - lo) / 4, var = vmax / 2, eb = vmax;
            if (C >= 1)
                var = fmin(fmax(Q / C - (S / C) * (S / C), 0) * u * u, vmax);
            if (C - b[0] >= 1) {
                eb = 0;
                double cs[2] = {C - b[0], C + b[0]}, ss[3] = {S - b[1], S + b[1], 0};
                int ns = (S - b[1] < 0 && S + b[1] > 0) ? 3 : 2;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < ns; j++)
                        for (int l = 0; l < 2; l++) {
                            double qq = Q + (l ? b[2] : -b[2]);
                            double v = qq / cs[i] - (ss[j] / cs[i]) * (ss[j] / cs[i]);
                            v = fmin(fmax(v * u * u, 0), vmax);
                            eb = fmax(eb, fabs(v - var));
                        }
            }
            json_object_set_new(o, "value", json_real(var));
            json_object_set_new(o, "noise_scale",
                                json_pack("{s:f, s:f, s:f}", "count", nz[0].scale, "sum",
                                          nz[1].scale * u, "sum_of_squares", nz[2].scale * u * u));
            json_object_set_new(o, "error_bound_95", json_real(eb));
        }
    }
    free(a);
    return 0;
}

/* Histogram over declared categories or equal-width bins, and quantiles from a fine one. */
static int eval_binned(const struct run *R, const struct pquery *q, json_t *qo, coh_err *err)
{
    int c = coh_table_col_find(R->t, q->col);
    const coh_dp_column *d = decl_find(R->req, q->col);
    if (c < 0)
        return coh_err_set(err, COH_ERR_INVALID, "column '%s' not found", q->col);
    bool categorical = q->kind == QK_HIST && d && d->categories;
    struct numcol nc;
    int rc = categorical ? 0 : numcol_init(&nc, R->t, R->req, q->col, err);
    if (rc)
        return rc;
    size_t nb = categorical           ? d->n_categories
                : q->kind == QK_QUANT ? QUANT_BINS
                : d->bins             ? d->bins
                                      : 10;
    if (nb == 0 || nb > 100000)
        return coh_err_set(err, COH_ERR_INVALID, "query '%s': 1 to 100000 buckets", q->text);
    int32_t *bmap = NULL; /* categorical: code -> bucket */
    int64_t *cnt = calloc(R->ng * nb, sizeof *cnt);
    if (!cnt)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    const struct coh_col *col = &R->t->cols[c];
    if (categorical) {
        if (!(bmap = malloc(((size_t)col->dict.n + 1) * sizeof *bmap))) {
            free(cnt);
            return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        }
        for (uint32_t k = 0; k < col->dict.n; k++) {
            bmap[k] = -1;
            for (size_t i = 0; i < nb && bmap[k] < 0; i++)
                if (strcmp(coh_dict_str(&col->dict, k), d->categories[i]) == 0)
                    bmap[k] = (int32_t)i;
        }
    }
    for (size_t r = 0; r < R->t->nrows; r++) {
        int32_t k = group_of(R, r);
        if (k < 0)
            continue;
        int64_t b;
        if (categorical) {
            b = bmap[coh_table_code(R->t, r, (size_t)c)];
            if (b < 0)
                continue; /* outside the declared categories: in no bucket */
        } else {
            __int128 x = numcol_get(&nc, R->t, r) - nc.lo;
            b = (int64_t)(x * (__int128)nb / (nc.hi - nc.lo));
            b = b >= (int64_t)nb ? (int64_t)nb - 1 : b;
        }
        cnt[(size_t)k * nb + (size_t)b]++;
    }
    free(bmap);
    struct noise nz;
    if (noise_make(&nz, R->req->mechanism, R->eps, R->delta, 1, err) != 0) {
        free(cnt);
        return coh_err_set(err, COH_ERR_INVALID, "epsilon/delta too small for exact sampling");
    }
    double lo = categorical ? 0 : (double)nc.lo * nc.unit,
           hi = categorical ? 0 : (double)nc.hi * nc.unit;
    double w = (hi - lo) / (double)nb, b95 = noise_bound(&nz, 0.05);
    if (!categorical)
        json_object_set_new(qo, "bounds", json_pack("[f,f]", lo, hi));
    double *cum = malloc((nb + 1) * sizeof *cum);
    if (!cum) {
        free(cnt);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < R->ng; k++) {
        json_t *o = slot(R, qo, k);
        cum[0] = 0;
        json_t *arr = json_array();
        for (size_t i = 0; i < nb; i++) {
            double v = fmax((double)(cnt[k * nb + i] + noise_draw(&nz, R->rng)), 0);
            cum[i + 1] = cum[i] + v;
            if (q->kind == QK_HIST) {
                char label[96];
                if (categorical)
                    snprintf(label, sizeof label, "%s", d->categories[i]);
                else
                    snprintf(label, sizeof label, "[%.10g,%.10g%c", lo + w * (double)i,
                             i + 1 == nb ? hi : lo + w * (double)(i + 1), i + 1 == nb ? ']' : ')');
                json_array_append_new(
                    arr, json_pack("{s:s, s:I}", "bucket", label, "count", (json_int_t)v));
            }
        }
        put_noise(o, "noise_scale", &nz, 1);
        if (q->kind == QK_HIST) {
            json_object_set_new(o, "buckets", arr);
            json_object_set_new(o, "error_bound_95", json_real(b95));
            continue;
        }
        json_decref(arr);
        /* rank error of a prefix sum of up to nb noisy bins, normal approximation */
        double sd = nz.gauss ? nz.scale : nz.scale * sqrt(2.0);
        double rank_err = 1.96 * sd * sqrt((double)nb), T = cum[nb], worst = 0;
        json_t *qa = json_array();
        for (size_t j = 0; j < q->nq; j++) {
            double at[3],
                ranks[3] = {q->qs[j] * T, q->qs[j] * T - rank_err, q->qs[j] * T + rank_err};
            for (int e = 0; e < 3; e++) {
                double target = fmin(fmax(ranks[e], 0), T);
                size_t i = 0;
                while (i + 1 < nb && cum[i + 1] < target)
                    i++;
                double in = cum[i + 1] - cum[i];
                double frac = in > 0 ? fmin(fmax((target - cum[i]) / in, 0), 1) : 0.5;
                at[e] = T > 0 ? lo + w * ((double)i + frac) : (lo + hi) / 2;
            }
            worst = fmax(worst, fmax(at[0] - at[1], at[2] - at[0]) + w);
            json_array_append_new(qa, json_pack("{s:f, s:f}", "q", q->qs[j], "value", at[0]));
        }
        json_object_set_new(o, "quantiles", qa);
        json_object_set_new(o, "rank_error_95", json_real(rank_err));
        json_object_set_new(o, "error_bound_95", json_real(T > 0 ? worst : hi - lo));
    }
    free(cum);
    free(cnt);
    return 0;
}

int coh_dp_run(json_t **out, const coh_table *t, const coh_dp_request *req, coh_dp_budget *budget,
               coh_dp_rng *rng, coh_err *err)
{
    *out = NULL;
    if (!t->finished)
        return coh_err_set(err, COH_ERR_INVALID, "table is not finished");
    if (req->n_queries == 0 || req->n_queries > 64)
        return coh_err_set(err, COH_ERR_INVALID, "between 1 and 64 queries");
    bool gauss = req->mechanism == COH_DP_GAUSSIAN;
    if (gauss && !(req->delta > 0 && req->delta < 1))
        return coh_err_set(err, COH_ERR_INVALID, "the gaussian mechanism needs 0 < delta < 1");
    if (req->epsilon.num == 0 || req->epsilon.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "epsilon must be positive");
    struct run R = {.t = t, .req = req, .rng = rng, .gcol = -1, .ng = 1};
    R.eps = rdiv(req->epsilon, req->n_queries);
    R.delta = gauss ? req->delta / (double)req->n_queries : 0;
    if (R.eps.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "epsilon is too finely divided");
    struct pquery q[64];
    int rc;
    for (size_t i = 0; i < req->n_queries; i++) {
        rc = query_parse(&q[i], req->queries[i], err);
        if (rc)
            return rc;
        if (q[i].kind != QK_COUNT && coh_table_col_find(t, q[i].col) < 0)
            return coh_err_set(err, COH_ERR_INVALID, "query '%s': column '%s' not found", q[i].text,
                               q[i].col);
        /* validate columns now, so a bad column never costs budget */
        const coh_dp_column *d = decl_find(req, q[i].col);
        struct numcol nc;
        if (q[i].kind != QK_COUNT && !(q[i].kind == QK_HIST && d && d->categories) &&
            (rc = numcol_init(&nc, t, req, q[i].col, err)) != 0)
            return rc;
    }
    if (req->group_by) {
        const coh_dp_column *d = decl_find(req, req->group_by);
        R.gcol = coh_table_col_find(t, req->group_by);
        if (R.gcol < 0)
            return coh_err_set(err, COH_ERR_INVALID, "group-by column '%s' not found",
                               req->group_by);
        if (!d || !d->categories || d->n_categories == 0)
            return coh_err_set(err, COH_ERR_INVALID, "group-by column '%s': declare its categories",
                               req->group_by);
        const struct coh_dict *dict = &t->cols[R.gcol].dict;
        if (!(R.gmap = malloc(((size_t)dict->n + 1) * sizeof *R.gmap)))
            return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        for (uint32_t k = 0; k < dict->n; k++) {
            R.gmap[k] = -1;
            for (size_t i = 0; i < d->n_categories && R.gmap[k] < 0; i++)
                if (strcmp(coh_dict_str(dict, k), d->categories[i]) == 0)
                    R.gmap[k] = (int32_t)i;
        }
        R.ng = d->n_categories;
        R.gnames = d->categories;
    }
    /* spend first: nothing is computed if the budget refuses */
    rc = coh_dp_budget_spend(budget, req->epsilon, gauss ? req->delta : 0, err);
    json_t *res = rc ? NULL : json_array();
    for (size_t i = 0; !rc && i < req->n_queries; i++) {
        json_t *qo =
            json_pack("{s:s, s:o, s:f, s:s}", "query", q[i].text, "epsilon", rat_json(R.eps),
                      "delta", R.delta, "noise", gauss ? "discrete_gaussian" : "discrete_laplace");
        json_array_append_new(res, qo);
        rc = q[i].kind == QK_HIST || q[i].kind == QK_QUANT ? eval_binned(&R, &q[i], qo, err)
                                                           : eval_scalar(&R, &q[i], qo, err);
    }
    free(R.gmap);
    if (rc) {
        json_decref(res);
        return rc;
    }
    char acct[160];
    snprintf(acct, sizeof acct, "basic composition over %zu queries; %s", req->n_queries,
             gauss ? "discrete gaussian via rho-zCDP -> (epsilon, delta)"
                   : "discrete laplace, pure epsilon-DP");
    *out = json_pack("{s:s, s:o, s:f, s:s, s:{s:o, s:f}, s:o}", "mechanism",
                     gauss ? "gaussian" : "laplace", "epsilon", rat_json(req->epsilon), "delta",
                     gauss ? req->delta : 0.0, "accounting", acct, "spent", "epsilon",
                     rat_json(coh_dp_budget_spent_epsilon(budget)), "delta",
                     coh_dp_budget_spent_delta(budget), "results", res);
    return 0;
}
