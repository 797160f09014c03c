/* bench_dp_bounds: how honest and how tight the DP error bounds are, and what computing them
 * costs. Part 1: over 2,000 seeded releases of 1,000 rows (values in [0,100], mean off the
 * middle), each statistic's median stated 95% bound beside its empirical 95% error and the
 * share of releases the bound covered. Part 2: time of one release over 100,000 rows, grouped
 * by 4 categories, of count + mean + variance (bounds by convolution of two or three noises)
 * beside count + sum on the same table in the same run (one-term bounds: the baseline).
 * Prints markdown. */
#include "privacy/privacy.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 2000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int xval(int i)
{
    int x = (i * 37) % 101;
    return i % 4 == 0 ? x / 3 + 60 : x;
}

static coh_table *make(int n)
{
    static const char *g[] = {"a", "b", "c", "d"};
    coh_col_decl d[] = {{.name = "x", .type = COH_COL_NUMERIC},
                        {.name = "g", .type = COH_COL_CATEGORICAL}};
    coh_table *t;
    coh_err err;
    if (coh_table_new(&t, d, 2, &err) != 0)
        return NULL;
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", xval(i));
        const char *row[] = {v, g[i % 4]};
        if (coh_table_row_append(t, row, &err) != 0)
            return NULL;
    }
    if (coh_table_finish(t, &err) != 0)
        return NULL;
    return t;
}

static const char *gcats[] = {"a", "b", "c", "d"};
static coh_dp_column cols[] = {{.name = "x", .lo = "0", .hi = "100"},
                               {.name = "g", .categories = gcats, .n_categories = 4}};

static json_t *release(coh_table *t, const char *const *q, size_t nq, const char *group,
                       enum coh_dp_mechanism mech, coh_dp_rng *rng)
{
    coh_dp_request req = {.queries = q,
                          .n_queries = nq,
                          .columns = cols,
                          .n_columns = 2,
                          .group_by = group,
                          .mechanism = mech,
                          .epsilon = {1, 1},
                          .delta = 1e-6};
    coh_dp_budget *b;
    coh_err err;
    json_t *out = NULL;
    if (coh_dp_budget_new(&b, req.epsilon, 1e-6, &err) != 0 ||
        coh_dp_run(&out, t, &req, b, rng, &err) != 0)
        fprintf(stderr, "release: %s\n", err.msg);
    coh_dp_budget_free(b);
    return out;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    uint8_t seed[32] = {42};
    coh_dp_rng *rng;
    if (coh_dp_rng_new_seeded(&rng, seed) != 0)
        return 1;
    const int n = 1000;
    coh_table *t = make(n);
    if (!t)
        return 1;
    double truth[5] = {n, 0, 0, 0, 0}, *xs = malloc(n * sizeof *xs);
    if (!xs)
        return 1;
    for (int i = 0; i < n; i++)
        xs[i] = xval(i);
    qsort(xs, (size_t)n, sizeof *xs, dcmp);
    truth[4] = xs[n / 2 - 1]; /* the lower median: the smallest with half the rows at or below */
    free(xs);
    for (int i = 0; i < n; i++)
        truth[1] += xval(i);
    truth[2] = truth[1] / n;
    for (int i = 0; i < n; i++)
        truth[3] += (xval(i) - truth[2]) * (xval(i) - truth[2]) / n;
    static const char *q[] = {"count", "sum(x)", "mean(x)", "variance(x)", "median(x)"};
    printf("1,000 rows in [0,100], epsilon 1 over the 5 queries (delta 1e-6 for gaussian), "
           "%d seeded releases:\n\n",
           RUNS);
    printf("| mechanism | statistic | median stated 95%% bound | empirical 95%% error | bound / "
           "empirical | coverage |\n|---|---|---:|---:|---:|---:|\n");
    for (int mech = 0; mech < 2; mech++) {
        static double err[5][RUNS], bnd[5][RUNS];
        int cov[5] = {0};
        for (int r = 0; r < RUNS; r++) {
            json_t *o = release(t, q, 5, NULL, (enum coh_dp_mechanism)mech, rng);
            if (!o)
                return 1;
            for (int k = 0; k < 5; k++) {
                json_t *s = json_array_get(json_object_get(o, "results"), (size_t)k);
                if (k == 4)
                    s = json_array_get(json_object_get(s, "quantiles"), 0);
                err[k][r] = fabs(json_number_value(json_object_get(s, "value")) - truth[k]);
                bnd[k][r] = json_number_value(json_object_get(s, "error_bound_95"));
                cov[k] += err[k][r] <= bnd[k][r];
            }
            json_decref(o);
        }
        for (int k = 0; k < 5; k++) {
            qsort(err[k], RUNS, sizeof(double), dcmp);
            qsort(bnd[k], RUNS, sizeof(double), dcmp);
            double e = err[k][RUNS * 95 / 100], b = bnd[k][RUNS / 2];
            printf("| %s | %s | %.4g | %.4g | %.2f | %.1f%% |\n", mech ? "gaussian" : "laplace",
                   q[k], b, e, e > 0 ? b / e : 0, 100.0 * cov[k] / RUNS);
        }
    }
    coh_table_free(t);

    /* cost of the bounds: one release over 100,000 rows, 4 groups */
    if (!(t = make(100000)))
        return 1;
    static const char *qa[] = {"count", "mean(x)", "variance(x)"}, *qb[] = {"count", "sum(x)"};
    printf("\nOne release over 100,000 rows grouped by 4 categories (median of 21, ms):\n\n");
    printf("| mechanism | count, sum (baseline) | count, mean, variance |\n|---|---:|---:|\n");
    for (int mech = 0; mech < 2; mech++) {
        double ta[21], tb[21];
        for (int r = 0; r < 21; r++) {
            double t0 = now();
            json_decref(release(t, qb, 2, "g", (enum coh_dp_mechanism)mech, rng));
            double t1 = now();
            json_decref(release(t, qa, 3, "g", (enum coh_dp_mechanism)mech, rng));
            tb[r] = (t1 - t0) * 1e3;
            ta[r] = (now() - t1) * 1e3;
        }
        qsort(ta, 21, sizeof(double), dcmp);
        qsort(tb, 21, sizeof(double), dcmp);
        printf("| %s | %.2f | %.2f |\n", mech ? "gaussian" : "laplace", tb[10], ta[10]);
    }
    coh_table_free(t);
    coh_dp_rng_free(rng);
    return 0;
}
