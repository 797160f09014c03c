/*
 * dp_query: differentially private statistics over a table.
 *
 * Privacy unit: one row (add/remove neighbours). Every numeric value is clamped to the
 * declared bounds [lo,hi] (never bounds from the data) and mapped to an integer lattice whose
 * step u is a power of ten chosen from the bounds alone (the finest with half-width/u <= 2^20,
 * or 2^10 for variance, so sums of squares stay small), so nothing about the lattice depends
 * on the data; noise is drawn on that lattice by the exact discrete samplers. Rounding to the
 * lattice moves each value by at most u/2 and is reported as "lattice".
 *
 * Accounting: the request's epsilon (and delta, Gaussian only) is split evenly over its
 * queries, and within a query evenly over its own noisy components: basic composition. The
 * first `count` query's noisy count is reused (post-processing, no budget) by mean, variance
 * and sum in the same request, so a mean spends its whole share on its sum; without a count
 * query a mean is count + sum and a variance count + sum + sum of squares. Groups of a
 * group-by and bins of a histogram are disjoint, so each gets the query's full share
 * (parallel composition). Laplace: scale = sensitivity / epsilon (pure DP). Gaussian: the
 * discrete Gaussian with sigma^2 satisfies rho = Delta^2 / (2 sigma^2) zCDP (CKS 2020, Thm 4),
 * and rho-zCDP gives (rho + 2 sqrt(rho ln(1/delta)), delta)-DP (Bun and Steinke 2016,
 * Prop 1.3); we solve for the largest rho within (epsilon, delta) and round sigma^2 up.
 *
 * Centring: mean and variance sum values centred at the middle c of the bounds, whose
 * sensitivity (hi-lo)/2 is never above max(|lo|,|hi|) (mean = c + centred sum / count). A sum
 * is centred too when a count query is there to add back count * c and that lowers its
 * variance; otherwise it sums the raw values.
 *
 * Error bounds ("error_bound_95"): the 95% quantile of the error the drawn noise causes. A
 * count, a histogram bucket or an uncentred sum has one noise term: exact for the discrete
 * distribution. A centred sum's error is a linear combination of two noises: exact up to a
 * grid of 1/1024 of its support (rounded up). Mean and variance are ratios: their error is
 * linearised around the released values (mean: (Zs - m Zc) / C with m the released centred
 * mean and C the noisy count) and the combination's quantile computed the same way; they are
 * capped by the largest error the clamped value can have. Quantiles: a normal bound on the
 * rank error of the noisy CDF at the estimate, converted to values through the noisy CDF.
 * All of it is computed from released values and public parameters only.
 */
#include "privacy/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum qk { QK_COUNT, QK_SUM, QK_MEAN, QK_VAR, QK_HIST, QK_QUANT };
#define MAX_QUANT 16
#define QUANT_BINS 256      /* quantiles without a count query */
#define QUANT_MAX_BINS 4096 /* with one: from its noisy count */

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
    double b95;    /* smallest integer m with P(|Z| > m) <= 0.05 */
    double far;    /* the same for 1e-6: the support that matters in a sum of noises */
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

#define GRID 1024 /* cells over the support of a combination of noises */

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

/* Smallest integer m with P(|Z| > m) <= alpha. */
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
                      uint64_t sens)
{
    memset(nz, 0, sizeof *nz);
    if (mech == COH_DP_LAPLACE) {
        unsigned __int128 t = (unsigned __int128)sens * eps.den;
        if (t > (unsigned __int128)INT64_MAX)
            return 1;
        nz->t = (uint64_t)t;
        nz->s = eps.num;
        nz->scale = (double)nz->t / (double)nz->s;
    } else {
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
    }
    nz->b95 = noise_bound(nz, 0.05);
    nz->far = noise_bound(nz, 1e-6);
    return 0;
}

static int64_t noise_draw(const struct noise *nz, coh_dp_rng *rng)
{
    return nz->gauss ? coh_dp_gaussian_sample(rng, nz->p, nz->q)
                     : coh_dp_laplace_sample(rng, nz->s, nz->t);
}

/* P(Z <= k) for integer k, for a noise whose support is too wide to enumerate (scale > 1000:
 * the Gaussian's continuity-corrected normal CDF is then exact to far below 1e-9). */
static double noise_cdf_wide(const struct noise *nz, double k)
{
    if (nz->gauss)
        return 0.5 * erfc(-(k + 0.5) / (nz->scale * sqrt(2)));
    double r = exp(-1 / nz->scale); /* P(Z >= j) = r^j / (1 + r) for j >= 1 */
    return k >= 0 ? 1 - pow(r, k + 1) / (1 + r) : pow(r, -k) / (1 + r);
}

/*
 * Distribution of c Z (c > 0) on cells of width h centred on multiples of h: n cells, cell i
 * centred on (i - n/2) h. Mass beyond the outer cells goes to them.
 */
static void term_masses(const struct noise *nz, double c, double h, size_t n, double *out)
{
    long half = (long)(n / 2);
    double L = nz->far + 1;
    if (L <= 4096) { /* enumerate the support: the pmf is exp(-|x|/b) or exp(-x^2/2s^2) */
        double tot = 0;
        for (double x = -L; x <= L; x++) {
            double w =
                nz->gauss ? exp(-x * x / (2 * nz->scale * nz->scale)) : exp(-fabs(x) / nz->scale);
            long i = lround(c * x / h) + half;
            i = i < 0 ? 0 : i >= (long)n ? (long)n - 1 : i;
            out[i] += w;
            tot += w;
        }
        for (size_t i = 0; i < n; i++)
            out[i] /= tot;
        return;
    }
    double prev = 0;
    for (size_t i = 0; i < n; i++) {
        /* Z with c Z < (i - half + 0.5) h, i.e. Z <= ceil(that / c) - 1 */
        double cum =
            i + 1 == n ? 1 : noise_cdf_wide(nz, ceil(((double)i - (double)half + 0.5) * h / c) - 1);
        out[i] = cum - prev;
        prev = cum;
    }
}

/*
 * Smallest m with P(|sum_i coef_i Z_i| > m) <= alpha for independent noises (k <= 3), up to
 * the grid: exact for one term; otherwise the pmfs are binned on GRID cells of width h over
 * the sum's support, convolved, and the quantile rounded up by the binning error k h / 2.
 * INFINITY when out of memory (callers cap the bound).
 */
static double lincomb_bound(const struct noise *const *nz, const double *coef, size_t k,
                            double alpha)
{
    const struct noise *tn[3];
    double tc[3], W = 0;
    size_t m = 0;
    for (size_t i = 0; i < k && i < 3; i++) {
        double c = fabs(coef[i]);
        if (c > 0 && isfinite(c)) {
            tn[m] = nz[i];
            tc[m] = c;
            W += c * (nz[i]->far + 1);
            m++;
        }
    }
    if (m == 0)
        return 0;
    if (m == 1)
        return tc[0] * tn[0]->b95;
    double h = 2 * W / GRID, *acc = NULL;
    size_t na = 0;
    for (size_t j = 0; j < m; j++) {
        size_t n = 2 * (size_t)ceil(tc[j] * (tn[j]->far + 1) / h) + 1;
        double *t = calloc(n, sizeof *t);
        if (!t) {
            free(acc);
            return INFINITY;
        }
        term_masses(tn[j], tc[j], h, n, t);
        if (!acc) {
            acc = t;
            na = n;
            continue;
        }
        double *o = calloc(na + n - 1, sizeof *o);
        if (!o) {
            free(acc);
            free(t);
            return INFINITY;
        }
        for (size_t a = 0; a < na; a++)
            if (acc[a] != 0)
                for (size_t b = 0; b < n; b++)
                    o[a + b] += acc[a] * t[b];
        free(acc);
        free(t);
        acc = o;
        na += n - 1;
    }
    size_t ci = na / 2, j = ci;
    double tail = 0;
    for (; j > 0; j--) {
        double add = acc[ci + j] + acc[ci - j];
        if (tail + add > alpha)
            break;
        tail += add;
    }
    free(acc);
    return (double)j * h + (double)m * h / 2;
}

/* ---- columns ------------------------------------------------------------------------ */

struct numcol {
    int col;
    const int64_t *val; /* per code, scaled by 10^scale */
    int64_t mult;       /* 10^(sp - scale) */
    int sp;             /* scale of lo, hi and lattice arithmetic */
    int64_t lo, hi;
    double unit;          /* 10^-sp */
    int bscale;           /* fraction digits of the bounds (data-independent) */
    __int128 bhalf, bmax; /* (hi-lo)/2 rounded up and max(|lo|,|hi|) in units of 10^-bscale */
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

/* Binds a numeric column; its arithmetic scale is at least min_sp (fraction digits). */
static int numcol_init(struct numcol *nc, const coh_table *t, const coh_dp_request *req,
                       const char *name, int min_sp, coh_err *err)
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
    int bs = -lo.e > -hi.e ? -lo.e : -hi.e;
    bs = bs < 0 ? 0 : bs;
    int64_t blo, bhi;
    if (bs > 18 || !coh_dec_scaled(&blo, lo, bs) || !coh_dec_scaled(&bhi, hi, bs))
        return coh_err_set(err, COH_ERR_INVALID, "column '%s': bounds out of range", name);
    nc->bscale = bs;
    nc->bhalf = ((__int128)bhi - blo + 1) / 2;
    nc->bmax = bhi > -(__int128)blo ? (__int128)bhi : -(__int128)blo;
    int sp = col->scale > bs ? col->scale : bs;
    sp = min_sp > sp ? min_sp : sp;
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

/*
 * The lattice exponent: the smallest e with base / 10^e <= lim, base (units of 10^-bscale)
 * being the bounds' half-width or largest magnitude. From the declared bounds only.
 */
static int lattice_exp(__int128 base, int bscale, int64_t lim)
{
    int e = -bscale;
    if (base <= lim) {
        while (e > -18 && base * 10 <= lim) {
            base *= 10;
            e--;
        }
        return e;
    }
    __int128 l = lim;
    while (base > l) {
        l *= 10;
        e++;
    }
    return e;
}

/* ---- plans: the lattice and noise of each query, fixed before any data is read ------- */

enum comp {
    CP_COUNT, /* rows, sensitivity 1 */
    CP_SUM,   /* raw values, max(|lo|,|hi|) */
    CP_CSUM,  /* values minus the centre, (hi-lo)/2 */
    CP_CSQ,   /* squares of centred values, ((hi-lo)/2)^2 */
};

struct plan {
    const struct pquery *q;
    bool numeric; /* has nc */
    struct numcol nc;
    int64_t g;         /* lattice step in units of 10^-sp */
    int64_t cl;        /* centre on the lattice (0 when not centred) */
    double u;          /* value of one lattice step */
    double lo, hi, hl; /* bounds (values), half-width (lattice steps) */
    size_t ncomp;
    enum comp kind[3];
    struct noise nz[3];
    bool reuse; /* the count is the request's count query's */
    /* histogram and quantiles */
    const coh_dp_column *d;
    bool categorical;
    size_t nb;
};

struct run {
    const coh_table *t;
    const coh_dp_request *req;
    coh_dp_rng *rng;
    coh_rational eps; /* per query */
    double delta;     /* per query */
    int gcol;         /* group-by column or -1 */
    size_t ng;        /* groups (1 without group-by) */
    const char *const *gnames;
    int32_t *gmap;  /* per code of gcol: group index or -1 (value outside the categories) */
    bool has_count; /* a count query is planned: its noise is cnt_nz */
    struct noise cnt_nz;
    double *cnt; /* its noisy count per group, once drawn */
};

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

static const struct noise *comp_noise(const struct run *R, const struct plan *p, enum comp k)
{
    if (k == CP_COUNT && p->reuse)
        return &R->cnt_nz;
    for (size_t c = 0; c < p->ncomp; c++)
        if (p->kind[c] == k)
            return &p->nz[c];
    return NULL;
}

static bool centred(const struct plan *p)
{
    return comp_noise(NULL, p, CP_CSUM) != NULL;
}

/* Chooses the lattice (from the bounds) and the noise of p's components. */
static int setup(const struct run *R, struct plan *p, int64_t lim, coh_err *err)
{
    coh_rational e = rdiv(R->eps, p->ncomp);
    if (e.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "epsilon is too finely divided");
    double d = R->delta / (double)p->ncomp;
    p->g = 1;
    p->u = 1;
    int ex = 0;
    if (p->numeric) {
        bool c = false;
        for (size_t i = 0; i < p->ncomp; i++)
            c |= p->kind[i] == CP_CSUM;
        ex = lattice_exp(c ? p->nc.bhalf : p->nc.bmax, p->nc.bscale, lim);
        int rc = numcol_init(&p->nc, R->t, R->req, p->q->col, -ex, err);
        if (rc)
            return rc;
    }
    for (int tries = 0; tries < 19; tries++, ex++) {
        if (p->numeric) {
            if (p->nc.sp + ex > 18)
                break;
            p->g = 1;
            for (int i = 0; i < p->nc.sp + ex; i++)
                p->g *= 10;
            int64_t lo = lat_round(p->nc.lo, p->g), hi = lat_round(p->nc.hi, p->g);
            p->cl = centred(p) ? lo + (hi - lo) / 2 : 0;
            p->hl = (double)(hi - p->cl);
            p->u = p->nc.unit * (double)p->g;
            p->lo = (double)p->nc.lo * p->nc.unit;
            p->hi = (double)p->nc.hi * p->nc.unit;
        }
        int big = 0;
        for (size_t c = 0; c < p->ncomp && !big; c++) {
            uint64_t sens = 1;
            if (p->kind[c] != CP_COUNT) {
                int64_t lo = lat_round(p->nc.lo, p->g) - p->cl,
                        hi = lat_round(p->nc.hi, p->g) - p->cl;
                uint64_t m = (uint64_t)(llabs(lo) > llabs(hi) ? llabs(lo) : llabs(hi));
                sens = p->kind[c] == CP_CSQ ? m * m : m;
                sens = sens ? sens : 1;
            }
            big = noise_make(&p->nz[c], R->req->mechanism, e, d, sens);
        }
        if (!big)
            return 0;
        if (!p->numeric)
            break;
    }
    return coh_err_set(err, COH_ERR_INVALID, "epsilon/delta too small for exact sampling");
}

static double var_of(const struct noise *nz) /* up to the mechanism's constant factor */
{
    return nz->scale * nz->scale;
}

/* Plans query q; the count query (if any) must be planned first. */
static int plan_make(struct run *R, const struct pquery *q, struct plan *p, coh_err *err)
{
    memset(p, 0, sizeof *p);
    p->q = q;
    if (q->kind == QK_HIST || q->kind == QK_QUANT) {
        p->d = decl_find(R->req, q->col);
        if (coh_table_col_find(R->t, q->col) < 0)
            return coh_err_set(err, COH_ERR_INVALID, "column '%s' not found", q->col);
        p->categorical = q->kind == QK_HIST && p->d && p->d->categories;
        int rc = p->categorical ? 0 : numcol_init(&p->nc, R->t, R->req, q->col, 0, err);
        if (rc)
            return rc;
        p->nb = p->categorical        ? p->d->n_categories
                : q->kind == QK_QUANT ? QUANT_BINS
                : p->d->bins          ? p->d->bins
                                      : 10;
        if (p->nb == 0 || p->nb > 100000)
            return coh_err_set(err, COH_ERR_INVALID, "query '%s': 1 to 100000 buckets", q->text);
        if (!p->categorical) {
            p->lo = (double)p->nc.lo * p->nc.unit;
            p->hi = (double)p->nc.hi * p->nc.unit;
        }
        p->ncomp = 1;
        if (noise_make(&p->nz[0], R->req->mechanism, R->eps, R->delta, 1) != 0)
            return coh_err_set(err, COH_ERR_INVALID, "epsilon/delta too small for exact sampling");
        return 0;
    }
    if (q->kind != QK_COUNT) {
        p->numeric = true;
        int rc = numcol_init(&p->nc, R->t, R->req, q->col, 0, err);
        if (rc)
            return rc;
    }
    bool reuse = q->kind != QK_COUNT && R->has_count;
    switch (q->kind) {
    case QK_COUNT:
        p->ncomp = 1;
        p->kind[0] = CP_COUNT;
        return setup(R, p, 1, err);
    case QK_SUM: {
        p->ncomp = 1;
        p->kind[0] = CP_SUM;
        int rc = setup(R, p, 1 << 20, err);
        if (rc || !reuse)
            return rc;
        /* centred, with the released count adding back count * centre: if it is quieter */
        struct plan c = *p;
        c.kind[0] = CP_CSUM;
        c.reuse = true;
        if (setup(R, &c, 1 << 20, err) != 0)
            return 0;
        double vc = var_of(&c.nz[0]) * c.u * c.u +
                    var_of(&R->cnt_nz) * ((double)c.cl * c.u) * ((double)c.cl * c.u);
        if (vc < var_of(&p->nz[0]) * p->u * p->u)
            *p = c;
        return 0;
    }
    case QK_MEAN:
    case QK_VAR: {
        size_t n = 0;
        if (!reuse)
            p->kind[n++] = CP_COUNT;
        p->kind[n++] = CP_CSUM;
        if (q->kind == QK_VAR)
            p->kind[n++] = CP_CSQ;
        p->ncomp = n;
        p->reuse = reuse;
        return setup(R, p, q->kind == QK_VAR ? 1024 : 1 << 20, err);
    }
    default:
        return coh_err_set(err, COH_ERR_INVALID, "query '%s': unknown statistic", q->text);
    }
}

/* ---- bounds shared by releases and previews ----------------------------------------- */

/* Error of a sum (value units). */
static double sum_bound(const struct run *R, const struct plan *p)
{
    if (!centred(p))
        return p->nz[0].b95 * p->u;
    const struct noise *nz[2] = {&p->nz[0], &R->cnt_nz};
    double coef[2] = {p->u, (double)p->cl * p->u};
    return lincomb_bound(nz, coef, 2, 0.05);
}

/*
 * Error of a mean c + S/C: (Zs - m Zc) / C with m the centred mean (lattice steps), plus
 * lattice rounding; at most the largest error possible for value v in [lo, hi].
 */
static double mean_bound(const struct run *R, const struct plan *p, double C, double m, double v)
{
    double cap = fmax(v - p->lo, p->hi - v);
    if (C < 1)
        return cap;
    const struct noise *nz[2] = {comp_noise(R, p, CP_CSUM), comp_noise(R, p, CP_COUNT)};
    double coef[2] = {p->u / C, m * p->u / C};
    return fmin(lincomb_bound(nz, coef, 2, 0.05) + p->u / 2, cap);
}

/*
 * Error of a variance Q/C - (S/C)^2 linearised: (ZQ - 2m ZS + (2m^2 - q) ZC) / C with m and
 * q the centred mean and mean square (lattice), plus the lattice rounding's effect.
 */
static double var_bound(const struct run *R, const struct plan *p, double C, double m, double q,
                        double v)
{
    double vmax = (p->hi - p->lo) * (p->hi - p->lo) / 4, cap = fmax(v, vmax - v);
    if (C < 1)
        return cap;
    const struct noise *nz[3] = {comp_noise(R, p, CP_CSQ), comp_noise(R, p, CP_CSUM),
                                 comp_noise(R, p, CP_COUNT)};
    double u2 = p->u * p->u, coef[3] = {u2 / C, 2 * m * u2 / C, (2 * m * m - q) * u2 / C};
    /* rounding each value by at most u/2 moves the standard deviation by at most u/2 */
    double b = lincomb_bound(nz, coef, 3, 0.05) + p->u * sqrt(fmax(v, 0)) + u2 / 4;
    return fmin(b, cap);
}

/* Rank error at 95% of the noisy CDF at bin i of nb, quantile q: Var(N_i - q N_total). */
static double rank_bound(const struct plan *p, size_t i, double q, size_t nb)
{
    double sd = p->nz[0].gauss ? p->nz[0].scale : p->nz[0].scale * sqrt(2.0);
    double v = (double)i * (1 - q) * (1 - q) + (double)(nb - i) * q * q;
    return 1.96 * sd * sqrt(v);
}

/*
 * Bins of a quantile's histogram over about n rows: the rank error grows as sqrt(bins)
 * (0.98 sd sqrt(bins) at the median), the error within a bin as 1/bins (half a bin on
 * average); their sum over evenly spread values, in units of hi - lo, is smallest near
 * (n / (0.98 sd))^(2/3) bins (8 to 4096). n is the request's noisy count (post-processing of
 * a released statistic); without a count query the bins are a fixed QUANT_BINS.
 */
static size_t quant_bins(const struct run *R, const struct plan *p, double n)
{
    if (!R->has_count)
        return QUANT_BINS;
    double sd = p->nz[0].gauss ? p->nz[0].scale : p->nz[0].scale * sqrt(2.0);
    return (size_t)fmin(fmax(round(pow(fmax(n, 1) / (0.98 * sd), 2.0 / 3)), 8), QUANT_MAX_BINS);
}

/* ---- evaluation --------------------------------------------------------------------- */

/* x lattice steps as a value; dividing by 10^k (exact in a double) rather than multiplying by
 * 10^-k (inexact) prints 28 rather than 28.000000000000004 */
static double lat_value(const struct plan *p, double x)
{
    return p->u < 1 ? x / round(1 / p->u) : x * p->u;
}

struct acc {
    int64_t n;
    __int128 s, s2;
};

static inline int32_t group_of(const struct run *R, size_t r)
{
    return R->gcol < 0 ? 0 : R->gmap[coh_table_code(R->t, r, (size_t)R->gcol)];
}

/* Per-group count, lattice sum and sum of squares of a (clamped, centred) numeric column. */
static struct acc *accumulate(const struct run *R, const struct plan *p)
{
    struct acc *a = calloc(R->ng, sizeof *a);
    if (!a)
        return NULL;
    for (size_t r = 0; r < R->t->nrows; r++) {
        int32_t k = group_of(R, r);
        if (k < 0)
            continue;
        a[k].n++;
        if (p->numeric) {
            int64_t x = lat_round(numcol_get(&p->nc, R->t, r), p->g) - p->cl;
            a[k].s += x;
            a[k].s2 += (__int128)x * x;
        }
    }
    return a;
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

/* The noise scales of p's components, in the statistic's units before division. */
static json_t *scales_json(const struct run *R, const struct plan *p)
{
    if (p->q->kind == QK_COUNT)
        return json_real(p->nz[0].scale);
    if (p->q->kind == QK_SUM && !centred(p))
        return json_real(p->nz[0].scale * p->u);
    json_t *o = json_object();
    json_object_set_new(o, "count", json_real(comp_noise(R, p, CP_COUNT)->scale));
    json_object_set_new(o, "sum", json_real(comp_noise(R, p, CP_CSUM)->scale * p->u));
    if (p->q->kind == QK_VAR)
        json_object_set_new(o, "sum_of_squares",
                            json_real(comp_noise(R, p, CP_CSQ)->scale * p->u * p->u));
    return o;
}

static int eval_scalar(struct run *R, const struct plan *p, json_t *qo, coh_err *err)
{
    const struct pquery *q = p->q;
    struct acc *a = accumulate(R, p);
    if (!a)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    bool first_count = q->kind == QK_COUNT && !R->cnt;
    if (first_count && !(R->cnt = calloc(R->ng, sizeof *R->cnt))) {
        free(a);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    if (p->numeric) {
        json_object_set_new(qo, "bounds", json_pack("[f,f]", p->lo, p->hi));
        json_object_set_new(qo, "lattice", json_real(p->u));
        if (centred(p))
            json_object_set_new(qo, "centre", json_real(lat_value(p, (double)p->cl)));
    }
    if (p->reuse)
        json_object_set_new(qo, "count_from", json_string("count"));
    json_object_set_new(qo, "noise_scale", scales_json(R, p));
    double b_sum = q->kind == QK_SUM ? sum_bound(R, p) : 0;
    for (size_t k = 0; k < R->ng; k++) {
        json_t *o = slot(R, qo, k);
        if (o != qo) /* each group says its own, as it says its own bound */
            json_object_set_new(o, "noise_scale", scales_json(R, p));
        double C = 0, v, b;
        if (q->kind != QK_SUM || centred(p))
            C = p->reuse ? R->cnt[k]
                         : (double)(a[k].n + noise_draw(comp_noise(R, p, CP_COUNT), R->rng));
        if (q->kind == QK_COUNT) {
            if (first_count)
                R->cnt[k] = C;
            json_object_set_new(o, "value", json_integer((json_int_t)fmax(C, 0)));
            json_object_set_new(o, "error_bound_95", json_real(p->nz[0].b95));
            continue;
        }
        double S =
            (double)(a[k].s + noise_draw(comp_noise(R, p, centred(p) ? CP_CSUM : CP_SUM), R->rng));
        if (q->kind == QK_SUM) {
            /* a sum of values of one sign has that sign (clamping only lowers the error) */
            v = lat_value(p, S + (double)p->cl * C);
            v = p->lo >= 0 ? fmax(v, 0) : p->hi <= 0 ? fmin(v, 0) : v;
            b = b_sum;
        } else if (q->kind == QK_MEAN) {
            double m = C >= 1 ? fmin(fmax(S / C, -p->hl), p->hl) : 0;
            v = fmin(fmax(lat_value(p, (double)p->cl + m), p->lo), p->hi);
            b = mean_bound(R, p, C, m, v);
        } else {
            double Q = (double)(a[k].s2 + noise_draw(comp_noise(R, p, CP_CSQ), R->rng));
            double vmax = (p->hi - p->lo) * (p->hi - p->lo) / 4, m = 0, qq = 0;
            v = vmax / 2;
            if (C >= 1) {
                m = fmin(fmax(S / C, -p->hl), p->hl);
                qq = fmin(fmax(Q / C, m * m), p->hl * p->hl);
                v = fmin((qq - m * m) * p->u * p->u, vmax);
            }
            b = var_bound(R, p, C, m, qq, v);
        }
        json_object_set_new(o, "value", json_real(v));
        json_object_set_new(o, "error_bound_95", json_real(b));
    }
    free(a);
    return 0;
}

/* Bucket of row r for a binned plan, or -1 (categorical value outside the declared ones). */
static int64_t bucket_of(const struct run *R, const struct plan *p, const int32_t *bmap, int c,
                         size_t r, size_t nb)
{
    if (p->categorical)
        return bmap[coh_table_code(R->t, r, (size_t)c)];
    __int128 x = numcol_get(&p->nc, R->t, r) - p->nc.lo;
    int64_t b = (int64_t)(x * (__int128)nb / (p->nc.hi - p->nc.lo));
    return b >= (int64_t)nb ? (int64_t)nb - 1 : b;
}

/* Position (in bins, fractional) where the noisy CDF cum[0..nb] first reaches t. */
static double cdf_first(const double *cum, size_t nb, double t)
{
    size_t i = 0;
    while (i + 1 < nb && cum[i + 1] < t)
        i++;
    double in = cum[i + 1] - cum[i];
    return (double)i + (in > 0 ? fmin(fmax((t - cum[i]) / in, 0), 1) : 0.5);
}

/* Position where the noisy CDF is last below t (then reaches it within the bin). */
static double cdf_last(const double *cum, size_t nb, double t)
{
    size_t i = nb - 1;
    while (i > 0 && cum[i] >= t)
        i--;
    double in = cum[i + 1] - cum[i];
    return (double)i + (in > 0 ? fmin(fmax((t - cum[i]) / in, 0), 1) : 0.5);
}

/* Histogram over declared categories or equal-width bins, and quantiles from a fine one. */
static int eval_binned(const struct run *R, const struct plan *p, json_t *qo, coh_err *err)
{
    const struct pquery *q = p->q;
    int c = coh_table_col_find(R->t, q->col);
    bool quant = q->kind == QK_QUANT;
    size_t nb = p->nb, nbmax = quant && R->has_count ? QUANT_MAX_BINS : p->nb;
    int32_t *bmap = NULL; /* categorical: code -> bucket */
    int64_t *cnt = calloc(R->ng * nbmax, sizeof *cnt);
    double *cum = malloc((nbmax + 1) * sizeof *cum);
    size_t *nbk = malloc(R->ng * sizeof *nbk); /* bins of each group */
    const struct coh_col *col = &R->t->cols[c];
    if (!cnt || !cum || !nbk ||
        (p->categorical && !(bmap = malloc(((size_t)col->dict.n + 1) * sizeof *bmap)))) {
        free(cnt);
        free(cum);
        free(nbk);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < R->ng; k++)
        nbk[k] = quant ? quant_bins(R, p, R->has_count ? R->cnt[k] : 0) : nb;
    for (uint32_t k = 0; p->categorical && k < col->dict.n; k++) {
        bmap[k] = -1;
        for (size_t i = 0; i < nb && bmap[k] < 0; i++)
            if (strcmp(coh_dict_str(&col->dict, k), p->d->categories[i]) == 0)
                bmap[k] = (int32_t)i;
    }
    for (size_t r = 0; r < R->t->nrows; r++) {
        int32_t k = group_of(R, r);
        int64_t b = k < 0 ? -1 : bucket_of(R, p, bmap, c, r, nbk[k]);
        if (b >= 0)
            cnt[(size_t)k * nbmax + (size_t)b]++;
    }
    free(bmap);
    const struct noise *nz = &p->nz[0];
    double lo = p->lo, hi = p->hi, w = 0;
    if (!p->categorical)
        json_object_set_new(qo, "bounds", json_pack("[f,f]", lo, hi));
    json_object_set_new(qo, "noise_scale", json_real(nz->scale));
    for (size_t k = 0; k < R->ng; k++) {
        json_t *o = slot(R, qo, k);
        if (o != qo)
            json_object_set_new(o, "noise_scale", json_real(nz->scale));
        cum[0] = 0;
        nb = nbk[k];
        w = (hi - lo) / (double)nb;
        json_t *arr = q->kind == QK_HIST ? json_array() : NULL;
        for (size_t i = 0; i < nb; i++) {
            /* the CDF sums the raw noisy counts: clamping each at 0 would bias it upward */
            double raw = (double)(cnt[k * nbmax + i] + noise_draw(nz, R->rng)), v = fmax(raw, 0);
            cum[i + 1] = cum[i] + raw;
            if (arr) {
                char label[96];
                if (p->categorical)
                    snprintf(label, sizeof label, "%s", p->d->categories[i]);
                else
                    snprintf(label, sizeof label, "[%.10g,%.10g%c", lo + w * (double)i,
                             i + 1 == nb ? hi : lo + w * (double)(i + 1), i + 1 == nb ? ']' : ')');
                json_array_append_new(
                    arr, json_pack("{s:s, s:I}", "bucket", label, "count", (json_int_t)v));
            }
        }
        if (arr) {
            json_object_set_new(o, "buckets", arr);
            json_object_set_new(o, "error_bound_95", json_real(nz->b95));
            continue;
        }
        double T = cum[nb], worst = 0;
        json_t *qa = json_array();
        for (size_t j = 0; j < q->nq; j++) {
            /* the noisy CDF is not monotone: the estimate is midway between where it first
             * reaches q T and where it last is below it. The bound covers every bin where it
             * is within the rank error of q T, out to the bins' edges: the true quantile's bin
             * is among them when the rank error holds, and where in its bin it lies is
             * something only the data knows */
            double t = q->qs[j] * T, v = (lo + hi) / 2, b = (hi - lo) / 2;
            if (T > 0) {
                double a = cdf_first(cum, nb, t), z = cdf_last(cum, nb, t);
                v = lo + w * (a + z) / 2;
                double r = rank_bound(p, (size_t)((a + z) / 2) + 1, q->qs[j], nb);
                /* a band reaching past 0 or T reaches the ends */
                double l = t - r <= 0 ? lo : lo + w * floor(cdf_first(cum, nb, t - r)),
                       h = t + r >= T ? hi
                                      : fmin(lo + w * (floor(cdf_last(cum, nb, t + r)) + 1), hi);
                b = fmin(fmax(v - l, h - v), fmax(v - lo, hi - v));
            }
            worst = fmax(worst, b);
            json_array_append_new(
                qa, json_pack("{s:f, s:f, s:f}", "q", q->qs[j], "value", v, "error_bound_95", b));
        }
        json_object_set_new(o, "quantiles", qa);
        json_object_set_new(o, "bins", json_integer((json_int_t)nb));
        json_object_set_new(o, "error_bound_95", json_real(worst));
    }
    free(nbk);
    free(cum);
    free(cnt);
    return 0;
}

/* ---- requests ----------------------------------------------------------------------- */

/* Validates req against t's columns and plans every query (count first); spends nothing. */
static int run_prepare(struct run *R, const coh_table *t, const coh_dp_request *req,
                       struct pquery *q, struct plan *pl, coh_err *err)
{
    memset(R, 0, sizeof *R);
    R->t = t;
    R->req = req;
    R->gcol = -1;
    R->ng = 1;
    if (!t->finished)
        return coh_err_set(err, COH_ERR_INVALID, "table is not finished");
    if (req->n_queries == 0 || req->n_queries > 64)
        return coh_err_set(err, COH_ERR_INVALID, "between 1 and 64 queries");
    bool gauss = req->mechanism == COH_DP_GAUSSIAN;
    if (gauss && !(req->delta > 0 && req->delta < 1))
        return coh_err_set(err, COH_ERR_INVALID, "the gaussian mechanism needs 0 < delta < 1");
    if (req->epsilon.num == 0 || req->epsilon.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "epsilon must be positive");
    R->eps = rdiv(req->epsilon, req->n_queries);
    R->delta = gauss ? req->delta / (double)req->n_queries : 0;
    if (R->eps.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "epsilon is too finely divided");
    int rc;
    for (size_t i = 0; i < req->n_queries; i++) {
        rc = query_parse(&q[i], req->queries[i], err);
        if (rc)
            return rc;
        if (q[i].kind != QK_COUNT && coh_table_col_find(t, q[i].col) < 0)
            return coh_err_set(err, COH_ERR_INVALID, "query '%s': column '%s' not found", q[i].text,
                               q[i].col);
    }
    if (req->group_by) {
        const coh_dp_column *d = decl_find(req, req->group_by);
        R->gcol = coh_table_col_find(t, req->group_by);
        if (R->gcol < 0)
            return coh_err_set(err, COH_ERR_INVALID, "group-by column '%s' not found",
                               req->group_by);
        if (!d || !d->categories || d->n_categories == 0)
            return coh_err_set(err, COH_ERR_INVALID, "group-by column '%s': declare its categories",
                               req->group_by);
        const struct coh_dict *dict = &t->cols[R->gcol].dict;
        if (!(R->gmap = malloc(((size_t)dict->n + 1) * sizeof *R->gmap)))
            return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        for (uint32_t k = 0; k < dict->n; k++) {
            R->gmap[k] = -1;
            for (size_t i = 0; i < d->n_categories && R->gmap[k] < 0; i++)
                if (strcmp(coh_dict_str(dict, k), d->categories[i]) == 0)
                    R->gmap[k] = (int32_t)i;
        }
        R->ng = d->n_categories;
        R->gnames = d->categories;
    }
    /* the first count is planned first: the others reuse its noisy count */
    for (size_t i = 0; i < req->n_queries && !R->has_count; i++)
        if (q[i].kind == QK_COUNT) {
            if ((rc = plan_make(R, &q[i], &pl[i], err)) != 0)
                return rc;
            R->cnt_nz = pl[i].nz[0];
            R->has_count = true;
        }
    for (size_t i = 0; i < req->n_queries; i++)
        if (!(R->has_count && q[i].kind == QK_COUNT && pl[i].q) &&
            (rc = plan_make(R, &q[i], &pl[i], err)) != 0)
            return rc;
    return 0;
}

static void run_free(struct run *R)
{
    free(R->gmap);
    free(R->cnt);
}

int coh_dp_run(json_t **out, const coh_table *t, const coh_dp_request *req, coh_dp_budget *budget,
               coh_dp_rng *rng, coh_err *err)
{
    *out = NULL;
    struct run R;
    struct pquery q[64];
    struct plan pl[64];
    memset(pl, 0, sizeof pl);
    int rc = run_prepare(&R, t, req, q, pl, err);
    bool gauss = req->mechanism == COH_DP_GAUSSIAN;
    R.rng = rng;
    /* spend first: nothing is computed if the budget refuses */
    if (!rc)
        rc = coh_dp_budget_spend(budget, req->epsilon, gauss ? req->delta : 0, err);
    json_t *res = rc ? NULL : json_array();
    for (size_t i = 0; !rc && i < req->n_queries; i++)
        json_array_append_new(res, json_pack("{s:s, s:o, s:f, s:s}", "query", q[i].text, "epsilon",
                                             rat_json(R.eps), "delta", R.delta, "noise",
                                             gauss ? "discrete_gaussian" : "discrete_laplace"));
    /* the count first, so that the others can use it; results keep the request's order */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; !rc && i < req->n_queries; i++) {
            bool is_count = q[i].kind == QK_COUNT;
            if (pass == 0 ? !is_count : is_count)
                continue;
            json_t *qo = json_array_get(res, i);
            rc = q[i].kind == QK_HIST || q[i].kind == QK_QUANT ? eval_binned(&R, &pl[i], qo, err)
                                                               : eval_scalar(&R, &pl[i], qo, err);
        }
    run_free(&R);
    if (rc) {
        json_decref(res);
        return rc;
    }
    char acct[200];
    snprintf(acct, sizeof acct, "basic composition over %zu queries%s; %s", req->n_queries,
             R.has_count ? " (their statistics reuse the noisy count)" : "",
             gauss ? "discrete gaussian via rho-zCDP -> (epsilon, delta)"
                   : "discrete laplace, pure epsilon-DP");
    *out = json_pack("{s:s, s:o, s:f, s:s, s:{s:o, s:f}, s:o}", "mechanism",
                     gauss ? "gaussian" : "laplace", "epsilon", rat_json(req->epsilon), "delta",
                     gauss ? req->delta : 0.0, "accounting", acct, "spent", "epsilon",
                     rat_json(coh_dp_budget_spent_epsilon(budget)), "delta",
                     coh_dp_budget_spent_delta(budget), "results", res);
    return 0;
}

/*
 * What each statistic's 95% error would be over n rows, from the same plans (lattices, noise
 * scales, reuse of the count) and bound formulas as a release, with the data replaced by an
 * assumption stated in privacy.h.
 */
int coh_dp_expected_error(json_t **out, const coh_table *t, const coh_dp_request *req, size_t n,
                          coh_err *err)
{
    *out = NULL;
    struct run R;
    struct pquery q[64];
    struct plan pl[64];
    memset(pl, 0, sizeof pl);
    int rc = run_prepare(&R, t, req, q, pl, err);
    run_free(&R);
    if (rc)
        return rc;
    double ng = (double)n / (double)R.ng; /* rows per group */
    json_t *res = json_array();
    for (size_t i = 0; i < req->n_queries; i++) {
        const struct plan *p = &pl[i];
        double h = (p->hi - p->lo) / 2, e, mag;
        switch (q[i].kind) {
        case QK_COUNT:
            e = p->nz[0].b95;
            mag = ng;
            break;
        case QK_SUM:
            e = sum_bound(&R, p);
            mag = ng * fmax(fabs(p->lo + p->hi) / 2, h);
            break;
        case QK_MEAN: /* centred mean 0: the count's noise does not matter to first order */
            e = mean_bound(&R, p, ng, 0, (p->lo + p->hi) / 2);
            mag = h;
            break;
        case QK_VAR: /* evenly spread: mean square (hi-lo)^2/12 */
            mag = (p->hi - p->lo) * (p->hi - p->lo) / 12;
            e = var_bound(&R, p, ng, 0, p->hl * p->hl / 3, mag);
            break;
        case QK_HIST:
            e = p->nz[0].b95;
            mag = ng / (double)p->nb;
            break;
        default: /* quantiles of evenly spread values: rank error over the ranks per value */
            e = 0;
            size_t nb = quant_bins(&R, p, ng);
            for (size_t j = 0; j < q[i].nq; j++) {
                size_t b = (size_t)ceil(q[i].qs[j] * (double)nb);
                double r = rank_bound(p, b ? b : 1, q[i].qs[j], nb);
                e = fmax(e, fmin(r / fmax(ng, 1) * (p->hi - p->lo) + (p->hi - p->lo) / (double)nb,
                                 2 * h));
            }
            mag = h;
        }
        double rel = mag > 0 ? e / mag : INFINITY;
        json_array_append_new(
            res, json_pack("{s:s, s:f, s:f, s:b}", "query", q[i].text, "expected_error_95", e,
                           "relative", isfinite(rel) ? rel : 1e300, "mostly_noise", !(rel <= 0.5)));
    }
    *out = res;
    return 0;
}
