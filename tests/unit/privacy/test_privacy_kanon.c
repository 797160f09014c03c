/* Unit tests for k-anonymity on the real data sets in tests/data. Every release is checked
 * independently of the algorithm: k-anonymity and l-diversity over the printed QI tuples,
 * the suppression limit, and truthfulness through the release's witness matching (each
 * released row maps to a distinct input row whose QI values lie inside the printed cells and
 * whose other cells are identical). Unsatisfiable k or l must yield no release at all. */
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
#include <unistd.h>

static coh_table *load(const char *name)
{
    char path[512];
    const char *dir = getenv("COH_TEST_DATA");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/data", name);
    coh_table *t = NULL;
    coh_err err = {0};
    if (coh_table_csv_load(&t, path, NULL, NULL, NULL, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    return t;
}

/* Does printed cell `g` generalize original text `v` of column c (QI index q)? */
static bool covers(const coh_table *t, size_t c, const coh_hierarchy *h, const char *g,
                   const char *v)
{
    if (strcmp(g, "*") == 0 || strcmp(g, v) == 0)
        return true;
    if (h) {
        long leaf = coh_hierarchy_leaf_find(h, v);
        for (size_t lv = 0; leaf >= 0 && lv < h->n_levels; lv++)
            if (strcmp(h->labels[h->anc[(size_t)leaf * h->n_levels + lv]], g) == 0)
                return true;
        return false;
    }
    if (coh_table_col_type(t, c) == COH_COL_NUMERIC) {
        struct coh_dec x, lo, hi;
        if (!coh_dec_parse(&x, v, strlen(v)))
            return false;
        if (g[0] != '[')
            return coh_dec_parse(&lo, g, strlen(g)) && coh_dec_cmp(lo, x) == 0;
        const char *comma = strchr(g, ','), *end = strchr(g, ']');
        return comma && end && coh_dec_parse(&lo, g + 1, (size_t)(comma - g - 1)) &&
               coh_dec_parse(&hi, comma + 1, (size_t)(end - comma - 1)) &&
               coh_dec_cmp(lo, x) <= 0 && coh_dec_cmp(x, hi) <= 0 && coh_dec_cmp(lo, hi) < 0;
    }
    size_t n = strlen(g), lv = strlen(v);
    if (n < 2 || g[0] != '{' || g[n - 1] != '}')
        return false;
    for (const char *p = g + 1; p < g + n - 1;) { /* members are separated by ',' */
        const char *e = strchr(p, ',');
        if (!e || e > g + n - 1)
            e = g + n - 1;
        if ((size_t)(e - p) == lv && memcmp(p, v, lv) == 0)
            return true;
        p = e + 1;
    }
    return false;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

struct verify_ctx {
    const coh_kanon_release *r;
    const coh_kanon_params *p;
    const int *qcol;
};

static int cmp_rows(const void *x, const void *y, void *vc)
{
    const struct verify_ctx *v = vc;
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    for (size_t q = 0; q < v->p->n_qi; q++) {
        int c = strcmp(coh_kanon_release_cell(v->r, a, (size_t)v->qcol[q]),
                       coh_kanon_release_cell(v->r, b, (size_t)v->qcol[q]));
        if (c)
            return c;
    }
    return 0;
}

/* Checks every property of a release; returns the number of classes. */
static size_t verify(const coh_table *t, const coh_kanon_release *r, const coh_kanon_params *p)
{
    size_t n = coh_table_rows(t), nr = coh_kanon_release_rows(r), nc = coh_table_cols(t);
    int qcol[COH_KANON_MAX_QI], scol[COH_KANON_MAX_SENS];
    for (size_t q = 0; q < p->n_qi; q++)
        qcol[q] = coh_table_col_find(t, p->qi[q]);
    for (size_t s = 0; s < p->n_sensitive; s++)
        scol[s] = coh_table_col_find(t, p->sensitive[s]);
    /* suppression limit */
    assert_true(nr <= n);
    assert_true((double)(n - nr) <= p->max_suppression * (double)n + 1e-9);
    /* truthfulness via the witness: distinct sources, generalized QIs, identical others */
    uint8_t *used = calloc(n, 1);
    for (size_t i = 0; i < nr; i++) {
        size_t src = coh_kanon_release_source_row(r, i);
        assert_true(src < n);
        assert_false(used[src]);
        used[src] = 1;
        for (size_t c = 0; c < nc; c++) {
            int q = -1;
            for (size_t j = 0; j < p->n_qi; j++)
                if ((int)c == qcol[j])
                    q = (int)j;
            const char *g = coh_kanon_release_cell(r, i, c), *v = coh_table_cell(t, src, c);
            if (q < 0)
                assert_string_equal(g, v);
            else if (!covers(t, c, p->hierarchies ? p->hierarchies[q] : NULL, g, v))
                fail_msg("row %zu column %zu: cell does not generalize its source", i, c);
        }
    }
    free(used);
    /* classes by printed QI tuple: size >= k, l-diverse */
    size_t *idx = malloc((nr + 1) * sizeof *idx);
    for (size_t i = 0; i < nr; i++)
        idx[i] = i;
    struct verify_ctx vc = {r, p, qcol};
    qsort_r(idx, nr, sizeof *idx, cmp_rows, &vc);
    size_t classes = 0;
    for (size_t i = 0; i < nr;) {
        size_t j = i + 1;
        while (j < nr && cmp_rows(&idx[i], &idx[j], &vc) == 0)
            j++;
        assert_true(j - i >= p->k);
        for (size_t s = 0; p->l_kind != COH_LDIV_NONE && s < p->n_sensitive; s++) {
            /* sort the class's sensitive values, then count runs */
            size_t m = j - i, distinct = 0;
            const char **vals = malloc(m * sizeof *vals);
            for (size_t a = i; a < j; a++)
                vals[a - i] = coh_kanon_release_cell(r, idx[a], (size_t)scol[s]);
            qsort(vals, m, sizeof *vals, cmp_str);
            double h = 0;
            for (size_t a = 0; a < m;) {
                size_t b = a + 1;
                while (b < m && strcmp(vals[a], vals[b]) == 0)
                    b++;
                distinct++;
                h -= (double)(b - a) / (double)m * log((double)(b - a) / (double)m);
                a = b;
            }
            free(vals);
            if (p->l_kind == COH_LDIV_DISTINCT)
                assert_true((double)distinct >= p->l);
            else
                assert_true(h >= log(p->l) - 1e-9);
        }
        classes++;
        i = j;
    }
    free(idx);
    coh_kanon_metrics m;
    coh_kanon_release_metrics(r, &m);
    assert_int_equal(m.released, nr);
    assert_int_equal(m.classes, classes);
    assert_true(m.ncp >= 0 && m.ncp <= 1);
    return classes;
}

static void run_case(const char *file, const char *qi_list, const char *sens, unsigned k, double l,
                     enum coh_ldiv_kind lk, double supp, enum coh_kanon_mode mode)
{
    coh_table *t = load(file);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", qi_list);
    const char *qi[16];
    size_t nq = 0;
    for (char *s = strtok(buf, ","); s; s = strtok(NULL, ","))
        qi[nq++] = s;
    coh_kanon_params p = {.qi = qi,
                          .n_qi = nq,
                          .sensitive = &sens,
                          .n_sensitive = 1,
                          .k = k,
                          .l = l,
                          .l_kind = lk,
                          .max_suppression = supp,
                          .mode = mode};
    coh_kanon_release *r = NULL;
    coh_err err = {0};
    if (coh_kanon_run(&r, t, &p, NULL, NULL, &err) != 0)
        fail_msg("%s k=%u: %s", file, k, err.msg);
    verify(t, r, &p);
    coh_kanon_release_free(r);
    coh_table_free(t);
}

static void test_diabetes(void **state)
{
    (void)state;
    const char *qi = "age,preg,mass,plas";
    run_case("diabetes.csv", qi, "class", 5, 0, COH_LDIV_NONE, 0, COH_KANON_STRICT);
    run_case("diabetes.csv", qi, "class", 10, 2, COH_LDIV_DISTINCT, 0, COH_KANON_RELAXED);
    run_case("diabetes.csv", qi, "class", 5, 1.8, COH_LDIV_ENTROPY, 0.05, COH_KANON_STRICT);
}

static void test_healthinsurance(void **state)
{
    (void)state;
    const char *qi = "age,gender,married,family,region,ethnicity,education";
    run_case("healthinsurance.csv", qi, "health", 10, 0, COH_LDIV_NONE, 0, COH_KANON_RELAXED);
    run_case("healthinsurance.csv", qi, "health", 5, 2, COH_LDIV_DISTINCT, 0.05, COH_KANON_STRICT);
}

static void test_cpssw8(void **state)
{
    (void)state;
    /* numeric sensitive attribute: distinct earnings values */
    run_case("cpssw8.csv", "age,gender,region,education", "earnings", 5, 3, COH_LDIV_DISTINCT, 0.02,
             COH_KANON_RELAXED);
}

static void test_fertility(void **state)
{
    (void)state;
    run_case("fertility.csv", "age,gender1,gender2,afam,hispanic,other", "morekids", 10, 1.5,
             COH_LDIV_ENTROPY, 0.01, COH_KANON_STRICT);
}

static void test_hierarchy_release(void **state)
{
    (void)state;
    coh_table *t = load("healthinsurance.csv");
    /* an age hierarchy 18..65 in 5-year bands, then 18-42 / 43-65, then * */
    char txt[4096];
    size_t o = 0;
    for (int a = 18; a <= 65; a++) {
        int b = 18 + (a - 18) / 5 * 5;
        o += (size_t)snprintf(txt + o, sizeof txt - o, "%d;%d-%d;%s;*\n", a, b, b + 4,
                              b <= 38 ? "18-42" : "43-65");
    }
    coh_hierarchy *h;
    coh_err err = {0};
    assert_int_equal(coh_hierarchy_parse(&h, txt, o, &err), 0);
    const char *qi[] = {"age", "gender", "region"}, *sens = "health";
    const coh_hierarchy *hs[] = {h, NULL, NULL};
    coh_kanon_params p = {
        .qi = qi, .n_qi = 3, .hierarchies = hs, .sensitive = &sens, .n_sensitive = 1, .k = 20};
    coh_kanon_release *r;
    /* age is numeric in the file, but with a hierarchy it is matched by its text */
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), 0);
    verify(t, r, &p);
    coh_kanon_release_free(r);
    /* a value missing from the hierarchy is rejected, naming row and column */
    const char *txt2 = "18;*\n19;*\n";
    coh_hierarchy *h2;
    assert_int_equal(coh_hierarchy_parse(&h2, txt2, strlen(txt2), &err), 0);
    hs[0] = h2;
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "column 'age'"));
    assert_non_null(strstr(err.msg, "row "));
    coh_hierarchy_free(h2);
    coh_hierarchy_free(h);
    coh_table_free(t);
}

static void test_unsatisfiable(void **state)
{
    (void)state;
    coh_table *t = load("diabetes.csv");
    const char *qi[] = {"age", "preg"}, *sens = "class";
    coh_kanon_params p = {.qi = qi, .n_qi = 2, .sensitive = &sens, .n_sensitive = 1, .k = 769};
    coh_kanon_release *r = (coh_kanon_release *)1;
    coh_err err = {0};
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_LIMIT);
    assert_null(r);
    assert_non_null(strstr(err.msg, "cannot be met"));
    /* suppression never rescues an unsatisfiable k */
    p.max_suppression = 0.5;
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_LIMIT);
    assert_null(r);
    /* class is binary: distinct l=3 impossible; entropy l=2 impossible with 500/268 */
    p.k = 5;
    p.l = 3;
    p.l_kind = COH_LDIV_DISTINCT;
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_LIMIT);
    assert_null(r);
    assert_non_null(strstr(err.msg, "'class'"));
    p.l = 2;
    p.l_kind = COH_LDIV_ENTROPY;
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_LIMIT);
    assert_null(r);
    /* misuse */
    p.l_kind = COH_LDIV_NONE;
    p.k = 0;
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_INVALID);
    p.k = 2;
    qi[1] = "nope";
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_INVALID);
    qi[1] = "class";
    p.l = 2;
    p.l_kind = COH_LDIV_DISTINCT; /* sensitive listed as QI too */
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), COH_ERR_INVALID);
    coh_table_free(t);
    coh_kanon_release_free(NULL);
}

static void test_csv_roundtrip(void **state)
{
    (void)state;
    coh_table *t = load("healthinsurance.csv");
    const char *qi[] = {"age", "region", "education"};
    coh_kanon_params p = {.qi = qi, .n_qi = 3, .k = 8};
    coh_kanon_release *r;
    coh_err err = {0};
    assert_int_equal(coh_kanon_run(&r, t, &p, NULL, NULL, &err), 0);
    char path[] = "/tmp/coh_release_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(coh_kanon_release_csv_write(r, path, &err), 0);
    coh_table *back = NULL;
    assert_int_equal(coh_table_csv_load(&back, path, NULL, NULL, NULL, &err), 0);
    assert_int_equal(coh_table_rows(back), coh_kanon_release_rows(r));
    assert_int_equal(coh_table_cols(back), coh_table_cols(t));
    for (size_t i = 0; i < coh_table_rows(back); i += 97)
        for (size_t c = 0; c < coh_table_cols(t); c++)
            assert_string_equal(coh_table_cell(back, i, c), coh_kanon_release_cell(r, i, c));
    json_t *rep = coh_kanon_release_report(r);
    assert_non_null(json_object_get(rep, "ncp"));
    assert_int_equal(json_integer_value(json_object_get(rep, "rows")), 8802);
    json_decref(rep);
    unlink(path);
    coh_table_free(back);
    coh_kanon_release_free(r);
    coh_table_free(t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diabetes),
        cmocka_unit_test(test_healthinsurance),
        cmocka_unit_test(test_cpssw8),
        cmocka_unit_test(test_fertility),
        cmocka_unit_test(test_hierarchy_release),
        cmocka_unit_test(test_unsatisfiable),
        cmocka_unit_test(test_csv_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
