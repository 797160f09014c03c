/* Unit tests of a DP release as the market computes it (src/market/release.c dp()) and of the
 * preview's expected errors (src/market/preview.c): the operator's floors held at release
 * for requests stored before them, refusals that name the floor and no contributor fact, no
 * exact row count in the release, and expected errors from the release's own noise. */
#include "market/market.h"

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

static const char *const schema_json =
    "{\"fields\":[{\"name\":\"steps\",\"type\":\"integer\",\"min\":0,\"max\":20000,"
    "\"role\":\"measure\"},{\"name\":\"sex\",\"type\":\"category\",\"categories\":[\"f\",\"m\"],"
    "\"role\":\"quasi-identifier\"}]}";

static coh_market_schema *schema(void)
{
    json_t *j = json_loads(schema_json, 0, NULL);
    coh_market_schema *s;
    coh_err err;
    assert_int_equal(coh_market_schema_parse(&s, j, &err), 0);
    json_decref(j);
    return s;
}

static coh_table *table(const coh_market_schema *s, int n)
{
    coh_table *t;
    coh_err err;
    assert_int_equal(coh_market_schema_table(&t, s, &err), 0);
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", (i * 7919) % 20001);
        const char *row[] = {v, i % 2 ? "m" : "f"};
        assert_int_equal(coh_table_row_append(t, row, &err), 0);
    }
    assert_int_equal(coh_table_finish(t, &err), 0);
    return t;
}

/* A normalized DP privacy object as spec.c stores it. */
static json_t *privacy(const char *eps, double delta, const char *mech)
{
    return json_pack("{s:s, s:s, s:f, s:s, s:[s,s,s]}", "mode", "dp", "epsilon", eps, "delta",
                     delta, "mechanism", mech, "queries", "count", "mean(steps)", "histogram(sex)");
}

static int release(const coh_market_schema *s, int n, json_t *p, const coh_market_floors *f,
                   json_t **out, coh_err *err)
{
    coh_table *t = table(s, n);
    coh_rational *rem = calloc((size_t)n + 1, sizeof *rem);
    assert_non_null(rem);
    for (int i = 0; i < n; i++)
        rem[i] = (coh_rational){10, 1};
    size_t *rows = NULL, nr = 0;
    int rc = coh_market_release_compute(out, &rows, &nr, t, s, p, f, rem, err);
    if (rc == 0)
        assert_int_equal(nr, (size_t)n); /* every row is in the statistics (and paid) */
    free(rows);
    free(rem);
    coh_table_free(t);
    return rc;
}

/* Fewer rows than privacy_min_dp_contributors: refused, naming the floor, not the count. */
static void test_floor_contributors(void **state)
{
    (void)state;
    coh_market_schema *s = schema();
    json_t *p = privacy("1", 0, "laplace"), *out = NULL;
    coh_err err;
    assert_int_equal(release(s, 49, p, NULL, &out, &err), COH_ERR_LIMIT);
    assert_null(out);
    assert_non_null(strstr(err.msg, "privacy_min_dp_contributors"));
    assert_null(strstr(err.msg, "49"));
    assert_int_equal(release(s, 50, p, NULL, &out, &err), 0);
    json_decref(out);
    /* an operator's own floor */
    coh_market_floors f;
    coh_market_floors_default(&f);
    f.min_dp_contributors = 80;
    assert_int_equal(release(s, 79, p, &f, &out, &err), COH_ERR_LIMIT);
    assert_int_equal(release(s, 80, p, &f, &out, &err), 0);
    json_decref(out);
    /* the check at creation runs over no rows and is not held to the cohort floor */
    assert_int_equal(coh_market_release_check(s, p, NULL, &err), 0);
    json_decref(p);
    coh_market_schema_free(s);
}

/* A request stored before the floors (epsilon 10, delta 1e-3) is held to them at release. */
static void test_floor_epsilon_delta(void **state)
{
    (void)state;
    coh_market_schema *s = schema();
    json_t *out = NULL, *p = privacy("10", 0, "laplace");
    coh_err err;
    assert_int_equal(release(s, 200, p, NULL, &out, &err), COH_ERR_LIMIT);
    assert_null(out);
    assert_non_null(strstr(err.msg, "privacy_max_epsilon"));
    json_decref(p);
    p = privacy("1.000001", 0, "laplace"); /* exact comparison: just above 1 */
    assert_int_equal(release(s, 200, p, NULL, &out, &err), COH_ERR_LIMIT);
    json_decref(p);
    p = privacy("1", 0.001, "gaussian");
    assert_int_equal(release(s, 200, p, NULL, &out, &err), COH_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "privacy_max_delta"));
    json_decref(p);
    p = privacy("1", 1e-6, "gaussian"); /* at the floors: released */
    assert_int_equal(release(s, 200, p, NULL, &out, &err), 0);
    json_decref(out);
    json_decref(p);
    /* raised floors hold too */
    coh_market_floors f;
    coh_market_floors_default(&f);
    f.max_epsilon = (coh_rational){1, 2};
    p = privacy("1", 0, "laplace");
    assert_int_equal(release(s, 200, p, &f, &out, &err), COH_ERR_LIMIT);
    json_decref(p);
    coh_market_schema_free(s);
}

/* Objects anywhere in the document with a member that is an exact row count. */
static int has_count_member(json_t *j)
{
    static const char *names[] = {"rows", "n", "included", "contributors", "n_rows", "size"};
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            for (size_t m = 0; m < sizeof names / sizeof names[0]; m++)
                if (strcmp(k, names[m]) == 0)
                    return 1;
            if (has_count_member(v))
                return 1;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) if (has_count_member(v)) return 1;
    }
    return 0;
}

static void test_release_says_less(void **state)
{
    (void)state;
    coh_market_schema *s = schema();
    json_t *p = privacy("1", 0, "laplace"), *out = NULL;
    coh_err err;
    assert_int_equal(release(s, 137, p, NULL, &out, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "mode")), "dp");
    assert_false(has_count_member(out));
    json_t *content = json_loads(json_string_value(json_object_get(out, "content")), 0, NULL);
    assert_non_null(content);
    assert_false(has_count_member(content));
    /* the mean reuses the released noisy count */
    json_t *mean = json_array_get(json_object_get(content, "results"), 1);
    assert_string_equal(json_string_value(json_object_get(mean, "count_from")), "count");
    json_decref(content);
    json_decref(out);
    /* a contributor whose lifetime budget is short: refused without saying how short */
    coh_table *t = table(s, 60);
    coh_rational rem[60];
    for (int i = 0; i < 60; i++)
        rem[i] = (coh_rational){i == 17 ? 3 : 10, 10};
    size_t *rows = NULL, nr = 0;
    assert_int_equal(coh_market_release_compute(&out, &rows, &nr, t, s, p, NULL, rem, &err),
                     COH_ERR_LIMIT);
    assert_null(strstr(err.msg, "0.3"));
    assert_null(strpbrk(err.msg, "0123456789"));
    free(rows);
    coh_table_free(t);
    json_decref(p);
    coh_market_schema_free(s);
}

static void test_expected_error(void **state)
{
    (void)state;
    coh_market_schema *s = schema();
    json_t *p = privacy("1", 0, "laplace"), *lo = NULL, *hi = NULL;
    coh_err err;
    assert_int_equal(coh_market_dp_expected_error(&lo, s, p, 50, &err), 0);
    assert_int_equal(coh_market_dp_expected_error(&hi, s, p, 5000, &err), 0);
    assert_int_equal(json_array_size(lo), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *a = json_array_get(lo, i), *b = json_array_get(hi, i);
        assert_string_equal(json_string_value(json_object_get(a, "query")),
                            json_string_value(json_array_get(json_object_get(p, "queries"), i)));
        double ea = json_number_value(json_object_get(a, "expected_error_95")),
               eb = json_number_value(json_object_get(b, "expected_error_95"));
        double ra = json_number_value(json_object_get(a, "relative")),
               rb = json_number_value(json_object_get(b, "relative"));
        assert_true(ea > 0 && eb > 0 && ra > rb);
        assert_true(json_is_boolean(json_object_get(a, "mostly_noise")));
        assert_false(json_is_true(json_object_get(b, "mostly_noise")));
    }
    /* count: the noise does not grow with the cohort; mean: it shrinks as 1/n */
    assert_true(json_number_value(json_object_get(json_array_get(lo, 0), "expected_error_95")) ==
                json_number_value(json_object_get(json_array_get(hi, 0), "expected_error_95")));
    double m50 = json_number_value(json_object_get(json_array_get(lo, 1), "expected_error_95")),
           m5000 = json_number_value(json_object_get(json_array_get(hi, 1), "expected_error_95"));
    assert_true(fabs(m50 / m5000 - 100) < 2);
    /* the same as the release's count bound (same noise) */
    json_t *out = NULL;
    assert_int_equal(release(s, 50, p, NULL, &out, &err), 0);
    json_t *c = json_array_get(json_object_get(json_object_get(out, "report"), "results"), 0);
    assert_true(json_number_value(json_object_get(c, "error_bound_95")) ==
                json_number_value(json_object_get(json_array_get(lo, 0), "expected_error_95")));
    json_decref(out);
    json_decref(lo);
    json_decref(hi);
    /* not DP, or a query the schema cannot answer: invalid, as creation */
    json_t *k = json_pack("{s:s, s:i}", "mode", "k-anonymity", "k", 5);
    assert_int_equal(coh_market_dp_expected_error(&lo, s, k, 50, &err), COH_ERR_INVALID);
    assert_null(lo);
    json_decref(k);
    json_array_set_new(json_object_get(p, "queries"), 1, json_string("mean(nothing)"));
    assert_int_equal(coh_market_dp_expected_error(&lo, s, p, 50, &err), COH_ERR_INVALID);
    json_decref(p);
    coh_market_schema_free(s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor_contributors),
        cmocka_unit_test(test_floor_epsilon_delta),
        cmocka_unit_test(test_release_says_less),
        cmocka_unit_test(test_expected_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
