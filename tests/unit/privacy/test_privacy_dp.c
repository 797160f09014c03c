/* Unit tests for differential privacy: exact rationals and budgets, statistical tests of the
 * samplers against their exact pmfs, clamping, rejection of NaN/inf/text, budget refusals,
 * and the coverage of reported 95% error bounds.
 *
 * Statistical tolerances: every empirical mean, variance or tail frequency must lie within
 * 5 standard errors of the exact value computed from the pmf (variance SE from the 4th
 * moment, tail SE binomial): a correct sampler fails one check with probability < 6e-7.
 * Seeds are fixed, so the run is reproducible anyway. */
#include "privacy/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static coh_dp_rng *seeded(uint8_t tag)
{
    uint8_t seed[32] = {0};
    seed[0] = tag;
    coh_dp_rng *r;
    assert_int_equal(coh_dp_rng_new_seeded(&r, seed), 0);
    return r;
}

static void test_rational(void **state)
{
    (void)state;
    coh_rational r;
    coh_err err;
    assert_int_equal(coh_rational_parse(&r, "0.5", &err), 0);
    assert_true(r.num == 1 && r.den == 2);
    assert_int_equal(coh_rational_parse(&r, "1/3", &err), 0);
    assert_true(r.num == 1 && r.den == 3);
    assert_int_equal(coh_rational_parse(&r, "1e-1", &err), 0);
    assert_true(r.num == 1 && r.den == 10);
    assert_int_equal(coh_rational_parse(&r, "2.50", &err), 0);
    assert_true(r.num == 5 && r.den == 2);
    const char *bad[] = {"0", "-1", "abc", "NaN", "inf", "1/0", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(coh_rational_parse(&r, bad[i], &err), COH_ERR_INVALID);
}

static void test_budget(void **state)
{
    (void)state;
    coh_dp_budget *b;
    coh_err err;
    coh_rational one = {1, 1}, tenth;
    assert_int_equal(coh_rational_parse(&tenth, "0.1", &err), 0);
    assert_int_equal(coh_dp_budget_new(&b, one, 1e-6, &err), 0);
    for (int i = 0; i < 10; i++) /* exact: ten tenths are one, no rounding overrun */
        assert_int_equal(coh_dp_budget_spend(b, tenth, 0, &err), 0);
    assert_int_equal(coh_dp_budget_spend(b, tenth, 0, &err), COH_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "refused"));
    coh_rational s = coh_dp_budget_spent_epsilon(b);
    assert_true(s.num == 1 && s.den == 1);
    coh_dp_budget_free(b);
    /* a contributor's remaining lifetime budget caps the request */
    assert_int_equal(coh_dp_budget_new(&b, (coh_rational){5, 1}, 0, &err), 0);
    assert_int_equal(coh_dp_budget_contributor_add(b, (coh_rational){3, 1}, &err), 0);
    assert_int_equal(coh_dp_budget_contributor_add(b, (coh_rational){1, 2}, &err), 0);
    assert_int_equal(coh_dp_budget_spend(b, one, 0, &err), COH_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "lifetime"));
    assert_int_equal(coh_dp_budget_spend(b, (coh_rational){1, 2}, 0, &err), 0);
    assert_int_equal(coh_dp_budget_spend(b, (coh_rational){1, 1000}, 0, &err), COH_ERR_LIMIT);
    /* delta overrun */
    assert_int_equal(coh_dp_budget_spend(b, (coh_rational){0, 1}, 1e-9, &err), COH_ERR_LIMIT);
    coh_dp_budget_free(b);
    coh_dp_budget_free(NULL);
    assert_int_equal(coh_dp_budget_new(&b, (coh_rational){0, 1}, 0, &err), COH_ERR_INVALID);
}

static void test_rng(void **state)
{
    (void)state;
    coh_dp_rng *a = seeded(1), *b = seeded(1), *c = seeded(2);
    int same = 1, diff = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t x = coh_dp_rng_u64(a), y = coh_dp_rng_u64(b), z = coh_dp_rng_u64(c);
        same &= x == y;
        diff += x != z;
    }
    assert_true(same && diff > 1990);
    size_t cnt[6] = {0}, n = 600000;
    for (size_t i = 0; i < n; i++)
        cnt[coh_dp_rng_below(a, 6)]++;
    for (int i = 0; i < 6; i++) /* binomial(n, 1/6): SE ~ 289 */
        assert_true(fabs((double)cnt[i] - n / 6.0) < 5 * sqrt(n * (1 / 6.0) * (5 / 6.0)));
    coh_dp_rng_free(a);
    coh_dp_rng_free(b);
    coh_dp_rng_free(c);
    coh_dp_rng_free(NULL);
}

static void check_freq(size_t hits, size_t n, double p, const char *what)
{
    double se = sqrt(p * (1 - p) / (double)n), f = (double)hits / (double)n;
    if (fabs(f - p) > 5 * se + 1e-12)
        fail_msg("%s: frequency %.6f, expected %.6f (5 SE = %.6f)", what, f, p, 5 * se);
}

static void test_bernoulli_exp(void **state)
{
    (void)state;
    coh_dp_rng *r = seeded(3);
    const uint64_t g[][2] = {{0, 1}, {1, 2}, {1, 1}, {5, 2}, {7, 3}};
    for (size_t i = 0; i < 5; i++) {
        size_t n = 200000, hits = 0;
        for (size_t j = 0; j < n; j++)
            hits += (size_t)coh_dp_bernoulli_exp(r, g[i][0], g[i][1]);
        check_freq(hits, n, exp(-(double)g[i][0] / (double)g[i][1]), "bernoulli(exp(-g))");
    }
    coh_dp_rng_free(r);
}

/* Exact moments and tails of a symmetric pmf on the integers given by weight(x). */
struct dist {
    double var, mu4, tail[4]; /* tail[i] = P(|X| >= m[i]) */
};

static void dist_exact(struct dist *d, double (*w)(double, const double *), const double *par,
                       const int *m, int lim)
{
    double z = 0, v = 0, v4 = 0;
    for (int x = -lim; x <= lim; x++)
        z += w(x, par);
    memset(d, 0, sizeof *d);
    for (int x = -lim; x <= lim; x++) {
        double p = w(x, par) / z;
        v += p * x * (double)x;
        v4 += p * pow(x, 4);
        for (int i = 0; i < 4; i++)
            if (abs(x) >= m[i])
                d->tail[i] += p;
    }
    d->var = v;
    d->mu4 = v4;
}

static double w_lap(double x, const double *par) /* par: s/t */
{
    return exp(-fabs(x) * par[0]);
}

static double w_gauss(double x, const double *par) /* par: sigma^2 */
{
    return exp(-x * x / (2 * par[0]));
}

static void check_sampler(coh_dp_rng *r, bool gauss, uint64_t a, uint64_t b, size_t n, const int *m)
{
    double par = gauss ? (double)a / (double)b : (double)a / (double)b; /* s/t or p/q */
    struct dist d;
    dist_exact(&d, gauss ? w_gauss : w_lap, &par, m, 4000);
    double sum = 0, sum2 = 0;
    size_t tails[4] = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t x = gauss ? coh_dp_gaussian_sample(r, a, b) : coh_dp_laplace_sample(r, a, b);
        sum += (double)x;
        sum2 += (double)x * (double)x;
        for (int j = 0; j < 4; j++)
            tails[j] += (size_t)(llabs(x) >= m[j]);
    }
    double mean = sum / (double)n, var = sum2 / (double)n - mean * mean;
    double se_mean = sqrt(d.var / (double)n), se_var = sqrt((d.mu4 - d.var * d.var) / (double)n);
    if (fabs(mean) > 5 * se_mean)
        fail_msg("%s(%llu,%llu): mean %.5f, 5 SE %.5f", gauss ? "gauss" : "laplace",
                 (unsigned long long)a, (unsigned long long)b, mean, 5 * se_mean);
    if (fabs(var - d.var) > 5 * se_var)
        fail_msg("%s(%llu,%llu): variance %.5f, exact %.5f, 5 SE %.5f", gauss ? "gauss" : "laplace",
                 (unsigned long long)a, (unsigned long long)b, var, d.var, 5 * se_var);
    for (int j = 0; j < 4; j++)
        check_freq(tails[j], n, d.tail[j], gauss ? "gaussian tail" : "laplace tail");
}

static void test_laplace(void **state)
{
    (void)state;
    coh_dp_rng *r = seeded(4);
    const int m1[] = {1, 5, 10, 20}, m2[] = {1, 3, 6, 12};
    check_sampler(r, false, 1, 3, 1000000, m1); /* scale 3: the 10^6-draw test */
    check_sampler(r, false, 3, 7, 200000, m2);  /* scale 7/3, rational */
    check_sampler(r, false, 1, 1, 200000, m2);  /* scale 1 */
    coh_dp_rng_free(r);
}

static void test_gaussian(void **state)
{
    (void)state;
    coh_dp_rng *r = seeded(5);
    const int m1[] = {1, 3, 5, 8}, m2[] = {1, 2, 4, 6}, m3[] = {1, 300, 1500, 2500};
    check_sampler(r, true, 4, 1, 1000000, m1);      /* sigma^2 = 4: the 10^6-draw test */
    check_sampler(r, true, 5, 2, 200000, m2);       /* sigma^2 = 5/2 */
    check_sampler(r, true, 1000000, 1, 100000, m3); /* sigma = 1000 */
    coh_dp_rng_free(r);
}

/* A table: x = 0..99, then 1000 and -50 (outside the bounds below); g alternates a/b. */
static coh_table *make_table(const char *bad)
{
    coh_col_decl decls[] = {{.name = "x"}, {.name = "g"}};
    coh_table *t;
    coh_err err;
    assert_int_equal(coh_table_new(&t, decls, 2, &err), 0);
    for (int i = 0; i < 102; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i < 100 ? i : i == 100 ? 1000 : -50);
        const char *row[] = {bad && i == 2 ? bad : v, i % 2 ? "b" : "a"};
        assert_int_equal(coh_table_row_append(t, row, &err), 0);
    }
    assert_int_equal(coh_table_finish(t, &err), 0);
    return t;
}

static json_t *run_q(coh_table *t, const char *q, const char *eps, enum coh_dp_mechanism mech,
                     const char *group, coh_dp_rng *rng, int expect, coh_err *err)
{
    static const char *cats[] = {"a", "b"};
    coh_dp_column cols[] = {{.name = "x", .lo = "0", .hi = "10", .bins = 5},
                            {.name = "g", .categories = cats, .n_categories = 2}};
    coh_dp_request req = {.queries = &q,
                          .n_queries = 1,
                          .columns = cols,
                          .n_columns = 2,
                          .group_by = group,
                          .mechanism = mech,
                          .delta = 1e-6};
    assert_int_equal(coh_rational_parse(&req.epsilon, eps, err), 0);
    coh_dp_budget *b;
    assert_int_equal(coh_dp_budget_new(&b, req.epsilon, 1e-6, err), 0);
    json_t *out = NULL;
    assert_int_equal(coh_dp_run(&out, t, &req, b, rng, err), expect);
    coh_dp_budget_free(b);
    return out;
}

static double first_value(json_t *out)
{
    json_t *q = json_array_get(json_object_get(out, "results"), 0);
    return json_number_value(json_object_get(q, "value"));
}

static void test_queries_clamp(void **state)
{
    (void)state;
    coh_table *t = make_table(NULL);
    coh_dp_rng *rng = seeded(6);
    coh_err err;
    /* epsilon 10^6: noise of scale 1e-5 (sensitivity 10 / epsilon) on a lattice as fine */
    json_t *o = run_q(t, "sum(x)", "1000000", COH_DP_LAPLACE, NULL, rng, 0, &err);
    /* 0+..+10 + 89*10 + clamp(1000)=10 + clamp(-50)=0 */
    assert_true(fabs(first_value(o) - 955.0) < 1e-3);
    json_decref(o);
    o = run_q(t, "count", "1000000", COH_DP_GAUSSIAN, NULL, rng, 0, &err);
    assert_true(first_value(o) == 102.0);
    json_decref(o);
    o = run_q(t, "mean(x)", "1000000", COH_DP_LAPLACE, NULL, rng, 0, &err);
    assert_true(fabs(first_value(o) - 955.0 / 102) < 1e-4);
    json_decref(o);
    o = run_q(t, "variance(x)", "1000000", COH_DP_LAPLACE, NULL, rng, 0, &err);
    double m = 955.0 / 102, ss = 0;
    for (int i = 0; i < 102; i++) {
        double v = i < 100 ? fmin(i, 10) : i == 100 ? 10 : 0;
        ss += (v - m) * (v - m);
    }
    assert_true(fabs(first_value(o) - ss / 102) < 1e-4);
    json_decref(o);
    /* group-by: a = even x, b = odd x */
    o = run_q(t, "count", "1000000", COH_DP_LAPLACE, "g", rng, 0, &err);
    json_t *groups = json_object_get(json_array_get(json_object_get(o, "results"), 0), "groups");
    assert_int_equal(json_array_size(groups), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(groups, 0), "value")), 51);
    json_decref(o);
    /* histograms: categorical and 5 equal bins over [0,10] */
    o = run_q(t, "histogram(g)", "1000000", COH_DP_LAPLACE, NULL, rng, 0, &err);
    json_t *bk = json_object_get(json_array_get(json_object_get(o, "results"), 0), "buckets");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(bk, 1), "count")), 51);
    json_decref(o);
    o = run_q(t, "histogram(x)", "1000000", COH_DP_LAPLACE, NULL, rng, 0, &err);
    bk = json_object_get(json_array_get(json_object_get(o, "results"), 0), "buckets");
    assert_int_equal(json_array_size(bk), 5);
    /* [8,10] holds 8, 9, 10, the 89 values above 10 and the clamped 1000 */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(bk, 4), "count")), 93);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(bk, 0), "count")), 3);
    json_decref(o);
    o = run_q(t, "quantiles(x,0.5)", "1000000", COH_DP_LAPLACE, NULL, rng, 0, &err);
    json_t *qs = json_object_get(json_array_get(json_object_get(o, "results"), 0), "quantiles");
    assert_true(json_number_value(json_object_get(json_array_get(qs, 0), "value")) >= 9.9);
    json_decref(o);
    /* misuse: unknown statistic, missing bounds, undeclared group categories */
    assert_null(run_q(t, "max(x)", "1", COH_DP_LAPLACE, NULL, rng, COH_ERR_INVALID, &err));
    assert_null(run_q(t, "sum(g)", "1", COH_DP_LAPLACE, NULL, rng, COH_ERR_INVALID, &err));
    assert_null(run_q(t, "count", "1", COH_DP_LAPLACE, "x", rng, COH_ERR_INVALID, &err));
    coh_dp_rng_free(rng);
    coh_table_free(t);
}

static void test_queries_reject(void **state)
{
    (void)state;
    const char *bad[] = {"NaN", "inf", "-Infinity", "abc", ""};
    coh_dp_rng *rng = seeded(7);
    coh_err err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        coh_table *t = make_table(bad[i]);
        assert_null(run_q(t, "sum(x)", "1", COH_DP_LAPLACE, NULL, rng, COH_ERR_INVALID, &err));
        assert_non_null(strstr(err.msg, "row 4, column 'x'"));
        if (bad[i][0])
            assert_null(strstr(err.msg, bad[i]));
        coh_table_free(t);
    }
    coh_dp_rng_free(rng);
}

static void test_budget_refusal(void **state)
{
    (void)state;
    coh_table *t = make_table(NULL);
    coh_dp_rng *rng = seeded(8);
    coh_err err;
    const char *q[] = {"count", "sum(x)"};
    coh_dp_column col = {.name = "x", .lo = "0", .hi = "10"};
    coh_dp_request req = {
        .queries = q, .n_queries = 2, .columns = &col, .n_columns = 1, .epsilon = {2, 1}};
    coh_dp_budget *b;
    assert_int_equal(coh_dp_budget_new(&b, (coh_rational){1, 1}, 0, &err), 0);
    json_t *out = (json_t *)1;
    assert_int_equal(coh_dp_run(&out, t, &req, b, rng, &err), COH_ERR_LIMIT);
    assert_null(out);
    assert_int_equal(coh_dp_budget_spent_epsilon(b).num, 0); /* nothing spent */
    req.epsilon = (coh_rational){1, 2};
    assert_int_equal(coh_dp_run(&out, t, &req, b, rng, &err), 0);
    json_decref(out);
    assert_int_equal(coh_dp_run(&out, t, &req, b, rng, &err), 0); /* exactly 1 in total */
    json_decref(out);
    assert_int_equal(coh_dp_run(&out, t, &req, b, rng, &err), COH_ERR_LIMIT);
    coh_dp_budget_free(b);
    /* lifetime: a contributor with 1/4 left refuses a 1/2 request */
    assert_int_equal(coh_dp_budget_new(&b, (coh_rational){1, 1}, 0, &err), 0);
    assert_int_equal(coh_dp_budget_contributor_add(b, (coh_rational){1, 4}, &err), 0);
    assert_int_equal(coh_dp_run(&out, t, &req, b, rng, &err), COH_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "lifetime"));
    coh_dp_budget_free(b);
    /* gaussian needs delta */
    req.mechanism = COH_DP_GAUSSIAN;
    assert_int_equal(coh_dp_budget_new(&b, (coh_rational){1, 1}, 0, &err), 0);
    assert_int_equal(coh_dp_run(&out, t, &req, b, rng, &err), COH_ERR_INVALID);
    coh_dp_budget_free(b);
    coh_dp_rng_free(rng);
    coh_table_free(t);
}

/* The reported 95% bound must cover the true value in at least ~95% of releases. */
static void test_error_bound_coverage(void **state)
{
    (void)state;
    coh_table *t = make_table(NULL);
    coh_dp_rng *rng = seeded(9);
    coh_err err;
    for (int mech = 0; mech < 2; mech++) {
        const char *qs[] = {"count", "sum(x)"};
        double truth[] = {102, 955};
        for (int k = 0; k < 2; k++) {
            int covered = 0, n = 2000;
            for (int i = 0; i < n; i++) {
                json_t *o = run_q(t, qs[k], "0.5", (enum coh_dp_mechanism)mech, NULL, rng, 0, &err);
                json_t *r = json_array_get(json_object_get(o, "results"), 0);
                double v = json_number_value(json_object_get(r, "value"));
                double b = json_number_value(json_object_get(r, "error_bound_95"));
                covered += fabs(v - truth[k]) <= b;
                json_decref(o);
            }
            /* coverage >= 95%: binomial(2000, 0.95) SE ~ 0.0049; allow 4 SE below */
            if ((double)covered / n < 0.95 - 4 * 0.0049)
                fail_msg("%s %s: coverage %d/%d", mech ? "gaussian" : "laplace", qs[k], covered, n);
        }
    }
    coh_dp_rng_free(rng);
    coh_table_free(t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rational),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_bernoulli_exp),
        cmocka_unit_test(test_laplace),
        cmocka_unit_test(test_gaussian),
        cmocka_unit_test(test_queries_clamp),
        cmocka_unit_test(test_queries_reject),
        cmocka_unit_test(test_budget_refusal),
        cmocka_unit_test(test_error_bound_coverage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
