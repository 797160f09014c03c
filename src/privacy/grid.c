/*
 * grid: the interval grid of a numeric quasi-identifier (privacy.h, coh_kanon_grid).
 *
 * A generalized numeric cell is [a,b] with a and b grid points; it is widened outward from
 * the values it covers, so its ends are fixed by the declaration (bounds and step), never by
 * the smallest and largest values a class happens to hold. Each value maps to the smallest
 * grid cell that holds it: the point g itself when the value is a grid point, otherwise the
 * open cell (g, g') between the two grid points around it. Points and open cells, in value
 * order, are the keys Mondrian partitions (kanon.c), so every class is a run of whole cells
 * and its printed interval is exact arithmetic on the grid, never on the data.
 *
 * Everything is exact: values, bounds and step are scaled to one int64 scale (the most
 * decimals among them, at most 18); arithmetic that would overflow is refused.
 */
#include "privacy/mondrian.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GRID_MAX_CELLS 50 /* default step: at most this many cells over the range */


/* The smallest m * 10^e, m in {1,2,5}, e >= -decimals, with range / (m * 10^e) <= 50. */
static struct coh_dec nice_step(double range, int decimals)
{
    struct coh_dec s = {1, -decimals};
    if (!(range > 0) || !isfinite(range))
        return s;
    static const int ms[3] = {1, 2, 5};
    for (int e = -decimals; e <= 18; e++) {
        double unit = pow(10.0, e);
        for (int i = 0; i < 3; i++)
            if ((double)ms[i] * unit * GRID_MAX_CELLS >= range * (1 - 1e-12))
                return (struct coh_dec){ms[i], e};
    }
    return (struct coh_dec){1, 18};
}

static void dec_text(char *out, size_t n, struct coh_dec d)
{
    char buf[48];
    if (d.e >= 0 && d.e <= 18) {
        (void)coh_dec_format(buf, d.m * coh_pow10_i64[d.e], 0);
    } else if (d.e < 0 && d.e >= -18) {
        (void)coh_dec_format(buf, d.m, -d.e);
    } else {
        snprintf(buf, sizeof buf, "%lldE%d", (long long)d.m, d.e);
    }
    size_t len = strnlen(buf, sizeof buf);
    if (len >= n)
        len = n - 1; /* callers size out for any grid value; never reached */
    memcpy(out, buf, len);
    out[len] = '\0';
}

int coh_kanon_grid_step_default(char *out, size_t out_len, const char *lo, const char *hi,
                                int decimals, coh_err *err)
{
    struct coh_dec a, b;
    if (out_len)
        out[0] = 0;
    if (!lo || !hi || !coh_dec_parse(&a, lo, strlen(lo)) || !coh_dec_parse(&b, hi, strlen(hi)) ||
        coh_dec_cmp(a, b) >= 0)
        return coh_err_set(err, COH_ERR_INVALID, "grid bounds must be numbers with lo < hi");
    if (decimals < 0)
        decimals = 0;
    if (decimals > 18)
        decimals = 18;
    dec_text(out, out_len, nice_step(coh_dec_double(b) - coh_dec_double(a), decimals));
    return 0;
}

/* v * 10^(to - from), to >= from; false on overflow. */
bool coh_grid_rescale(int64_t *out, int64_t v, int from, int to)
{
    if (to < from || to - from > 18)
        return false;
    __int128 x = (__int128)v * coh_pow10_i64[to - from];
    if (x > INT64_MAX / 4 || x < -(INT64_MAX / 4)) /* headroom for v + step */
        return false;
    *out = (int64_t)x;
    return true;
}

static int dec_arg(struct coh_dec *d, const char *s, const char *what, const char *col,
                   coh_err *err)
{
    if (!coh_dec_parse(d, s, strlen(s)))
        return coh_err_set(err, COH_ERR_INVALID, "column '%s': grid %s is not a decimal number",
                           col, what);
    return 0;
}

int coh_grid_resolve(struct coh_grid *g, const struct coh_col *col, const coh_kanon_grid *decl,
                     int64_t dmin, int64_t dmax, coh_err *err)
{
    memset(g, 0, sizeof *g);
    g->scale = col->scale;
    if (decl && decl->none) {
        g->none = true;
        return 0;
    }
    struct coh_dec lo = {0, 0}, hi = {0, 0}, step;
    int rc = 0;
    if (decl && (!decl->lo != !decl->hi))
        return coh_err_set(err, COH_ERR_INVALID, "column '%s': grid needs both bounds or neither",
                           col->name);
    g->bounded = decl && decl->lo;
    if (g->bounded && ((rc = dec_arg(&lo, decl->lo, "minimum", col->name, err)) ||
                       (rc = dec_arg(&hi, decl->hi, "maximum", col->name, err))))
        return rc;
    if (g->bounded && coh_dec_cmp(lo, hi) >= 0)
        return coh_err_set(err, COH_ERR_INVALID, "column '%s': grid minimum must be below maximum",
                           col->name);
    if (decl && decl->step) {
        if ((rc = dec_arg(&step, decl->step, "step", col->name, err)))
            return rc;
        if (step.m <= 0)
            return coh_err_set(err, COH_ERR_INVALID, "column '%s': grid step must be > 0",
                               col->name);
    } else if (g->bounded) {
        step = nice_step(coh_dec_double(hi) - coh_dec_double(lo), col->scale);
    } else {
        /* only the order of magnitude of the column's range shapes the default step */
        step = nice_step((double)(dmax - dmin) / (double)coh_pow10_i64[col->scale], col->scale);
    }
    int s = col->scale;
    if (-step.e > s)
        s = -step.e;
    if (g->bounded && -lo.e > s)
        s = -lo.e;
    if (g->bounded && -hi.e > s)
        s = -hi.e;
    if (s > 18 || !coh_dec_scaled(&g->step, step, s) ||
        (g->bounded && (!coh_dec_scaled(&g->lo, lo, s) || !coh_dec_scaled(&g->hi, hi, s))) ||
        !coh_grid_rescale(&g->step, g->step, s, s) ||
        (g->bounded &&
         (!coh_grid_rescale(&g->lo, g->lo, s, s) || !coh_grid_rescale(&g->hi, g->hi, s, s))))
        return coh_err_set(err, COH_ERR_INVALID,
                           "column '%s': grid and values need more than 18 digits", col->name);
    g->scale = s;
    dec_text(g->step_txt, sizeof g->step_txt, step);
    if (g->bounded) {
        dec_text(g->lo_txt, sizeof g->lo_txt, lo);
        dec_text(g->hi_txt, sizeof g->hi_txt, hi);
    }
    return 0;
}

bool coh_grid_cell(const struct coh_grid *g, int64_t v, int64_t *lo, int64_t *hi)
{
    if (g->none) {
        *lo = *hi = v;
        return true;
    }
    if (g->bounded) {
        if (v < g->lo || v > g->hi)
            return false;
        if (v == g->lo || v == g->hi) {
            *lo = *hi = v;
            return true;
        }
    }
    int64_t m = v / g->step;
    if (v % g->step != 0 && v < 0)
        m--;
    int64_t p = m * g->step; /* no overflow: |p| <= |v| + step, both with headroom */
    if (p == v) {
        *lo = *hi = v;
        return true;
    }
    *lo = p;
    *hi = p + g->step;
    if (g->bounded) {
        if (*lo < g->lo)
            *lo = g->lo;
        if (*hi > g->hi)
            *hi = g->hi;
    }
    return true;
}
