/* Unit tests of the k-anonymous release as the market computes it (src/market/release.c) and
 * of the schema's grid granularity: no column leaves unprotected (a legacy `measure` field is
 * generalized as a quasi-identifier), the operator's floors hold whatever the stored request
 * says (k >= min_k, l-diversity >= min_l on every sensitive field), every numeric interval end
 * is a grid point, a constant categorical quasi-identifier releases (it used to divide 0 by 0),
 * and suppression never makes the loss worse. Every release is checked from its CSV text. */
#include "market/market.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building tables ----------------------------------------------------------------- */

static coh_market_schema *schema(const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    if (!j)
        fail_msg("bad test schema: %s", je.text);
    coh_market_schema *s = NULL;
    coh_err err = {0};
    if (coh_market_schema_parse(&s, j, &err) != 0)
        fail_msg("schema refused: %s", err.msg);
    json_decref(j);
    return s;
}

static void append(coh_table *t, const coh_market_schema *s, const char *text)
{
    coh_err err = {0};
    coh_secbuf *b = coh_secbuf_new(strlen(text));
    memcpy(coh_secbuf_data(b), text, strlen(text));
    if (coh_market_record_append(t, s, b, &err) != 0)
        fail_msg("record refused: %s", err.msg);
    coh_secbuf_free(b);
}

static uint64_t rnd_state = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (unsigned)(rnd_state % n);
}

/* ---- reading the release back --------------------------------------------------------- */

#define MAXC 8
struct csv {
    size_t rows, cols;
    char *cell[400][MAXC];
    char *head[MAXC];
};

/* Parses RFC 4180 text (CRLF rows, quoted cells) into c; strings are malloc'd. */
static void csv_parse(struct csv *c, const char *p)
{
    memset(c, 0, sizeof *c);
    size_t row = 0, col = 0;
    char buf[256];
    while (*p) {
        size_t n = 0;
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"')
                    p++;
                buf[n++] = *p;
            }
            p++;
        } else {
            while (*p && *p != ',' && *p != '\r')
                buf[n++] = *p++;
        }
        buf[n] = 0;
        assert_true(col < MAXC && row < 401);
        if (row == 0)
            c->head[col] = strdup(buf);
        else
            c->cell[row - 1][col] = strdup(buf);
        col++;
        if (*p == ',') {
            p++;
        } else {
            if (row == 0)
                c->cols = col;
            else
                assert_int_equal(col, c->cols);
            col = 0;
            row++;
            if (*p == '\r')
                p += 2;
        }
    }
    c->rows = row ? row - 1 : 0;
}

static void csv_free(struct csv *c)
{
    for (size_t i = 0; i < c->cols; i++)
        free(c->head[i]);
    for (size_t r = 0; r < c->rows; r++)
        for (size_t i = 0; i < c->cols; i++)
            free(c->cell[r][i]);
}

static int col_of(const struct csv *c, const char *name)
{
    for (size_t i = 0; i < c->cols; i++)
        if (strcmp(c->head[i], name) == 0)
            return (int)i;
    fail_msg("column %s missing from the release", name);
    return -1;
}

/* Is x a point of the grid lo, hi and the multiples of step between them? */
static bool on_grid(double x, double lo, double hi, double step)
{
    if (fabs(x - lo) < 1e-9 || fabs(x - hi) < 1e-9)
        return x >= lo - 1e-9 && x <= hi + 1e-9;
    double m = x / step;
    return fabs(m - round(m)) < 1e-9 && x > lo && x < hi;
}

/* Checks the numeric cell g of column `name` against the grid and the source value v. */
static void check_numeric_cell(const char *g, double v, double lo, double hi, double step)
{
    double a, b;
    if (g[0] == '[') {
        assert_int_equal(sscanf(g, "[%lf,%lf]", &a, &b), 2);
        assert_true(a < b);
    } else {
        a = b = strtod(g, NULL);
    }
    if (!on_grid(a, lo, hi, step) || !on_grid(b, lo, hi, step))
        fail_msg("cell %s: an end is not a grid point (lo %g hi %g step %g)", g, lo, hi, step);
    if (!(a <= v && v <= b))
        fail_msg("cell %s does not hold its row's value", g);
}

/* Classes by the tuple of QI cells: every one has >= k rows and >= l distinct values in each
 * sensitive column. */
static void check_classes(const struct csv *c, const int *qcol, size_t nq, const int *scol,
                          size_t ns, size_t k, size_t l)
{
    bool *seen = calloc(c->rows, 1);
    for (size_t r = 0; r < c->rows; r++) {
        if (seen[r])
            continue;
        size_t n = 0, distinct[4] = {0};
        const char *vals[4][400];
        for (size_t o = r; o < c->rows; o++) {
            size_t q = 0;
            while (q < nq && strcmp(c->cell[r][qcol[q]], c->cell[o][qcol[q]]) == 0)
                q++;
            if (q < nq)
                continue;
            seen[o] = true;
            n++;
            for (size_t s = 0; s < ns; s++) {
                const char *v = c->cell[o][scol[s]];
                size_t x = 0;
                while (x < distinct[s] && strcmp(vals[s][x], v) != 0)
                    x++;
                if (x == distinct[s])
                    vals[s][distinct[s]++] = v;
            }
        }
        if (n < k)
            fail_msg("a class of %zu rows (k = %zu)", n, k);
        for (size_t s = 0; s < ns; s++)
            if (distinct[s] < l)
                fail_msg("a class with %zu distinct sensitive values (l = %zu)", distinct[s], l);
    }
    free(seen);
}

static int release(json_t **out, size_t **rows, size_t *n, const coh_table *t,
                   const coh_market_schema *s, const char *privacy, coh_err *err)
{
    json_t *p = json_loads(privacy, 0, NULL);
    assert_non_null(p);
    int rc = coh_market_release_compute(out, rows, n, t, s, p, NULL, NULL, err);
    json_decref(p);
    return rc;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* eligibility sex:[female] with sex a quasi-identifier: every row holds the same category.
 * The loss metric divided 0 by 0, the report could not be built and the release failed as
 * "out of memory", forever. */
static void test_constant_categorical_qi(void **state)
{
    (void)state;
    coh_market_schema *s =
        schema("{\"fields\":[{\"name\":\"sex\",\"type\":\"category\",\"categories\":[\"female\","
               "\"male\"],\"role\":\"quasi-identifier\"},{\"name\":\"age\",\"type\":\"integer\","
               "\"min\":18,\"max\":100,\"role\":\"quasi-identifier\"},{\"name\":\"hiv\",\"type\":"
               "\"category\",\"categories\":[\"yes\",\"no\"],\"role\":\"sensitive\"}]}");
    coh_table *t;
    coh_err err = {0};
    assert_int_equal(coh_market_schema_table(&t, s, &err), 0);
    char rec[128];
    for (int i = 0; i < 30; i++) {
        snprintf(rec, sizeof rec, "{\"sex\":\"female\",\"age\":%d,\"hiv\":\"%s\"}", 20 + i * 2,
                 i % 3 ? "no" : "yes");
        append(t, s, rec);
    }
    assert_int_equal(coh_table_finish(t, &err), 0);
    json_t *out = NULL;
    size_t *rows = NULL, n = 0;
    int rc = release(&out, &rows, &n, t, s, "{\"mode\":\"k-anonymity\",\"k\":5}", &err);
    if (rc)
        fail_msg("release failed: %s", err.msg);
    json_t *rep = json_object_get(out, "report");
    double ncp = json_number_value(json_object_get(rep, "ncp"));
    assert_true(isfinite(ncp) && ncp >= 0 && ncp <= 1);
    assert_true(json_is_number(json_object_get(json_object_get(rep, "ncp_per_qi"), "sex")));
    assert_int_equal(n, 30);
    struct csv c;
    csv_parse(&c, json_string_value(json_object_get(out, "content")));
    int sx = col_of(&c, "sex");
    for (size_t r = 0; r < c.rows; r++)
        assert_string_equal(c.cell[r][sx], "female");
    csv_free(&c);
    free(rows);
    json_decref(out);
    coh_table_free(t);
    coh_market_schema_free(s);
}

/* A request stored before `measure` was refused in k-anonymity mode, with k = 2 and no
 * l-diversity: the measures are generalized on their grids as quasi-identifiers, k is raised
 * to the floor (5) and the sensitive field is 2-diverse in every class. */
static void test_legacy_measure_and_floors(void **state)
{
    (void)state;
    coh_market_schema *s = schema(
        "{\"fields\":[{\"name\":\"dummy\",\"type\":\"category\",\"categories\":[\"x\"],"
        "\"role\":\"quasi-identifier\"},{\"name\":\"zip\",\"type\":\"integer\",\"min\":1000,"
        "\"max\":99999,\"role\":\"measure\"},{\"name\":\"birth\",\"type\":\"integer\",\"min\":"
        "19000101,\"max\":20101231,\"role\":\"measure\"},{\"name\":\"cd4\",\"type\":\"decimal\","
        "\"min\":0,\"max\":2000,\"decimals\":1,\"granularity\":\"250\",\"role\":\"measure\"},"
        "{\"name\":\"status\",\"type\":\"category\",\"categories\":[\"hiv\",\"none\",\"other\"],"
        "\"role\":\"sensitive\"}]}");
    coh_table *t;
    coh_err err = {0};
    assert_int_equal(coh_market_schema_table(&t, s, &err), 0);
    static const char *st[] = {"hiv", "none", "other"};
    double zip[60], birth[60], cd4[60];
    char rec[256];
    for (int i = 0; i < 60; i++) {
        zip[i] = 1000 + rnd(98999);
        birth[i] = 19400101 + rnd(60) * 10000 + rnd(12) * 100 + 1 + rnd(28);
        cd4[i] = rnd(15000) / 10.0;
        snprintf(rec, sizeof rec,
                 "{\"dummy\":\"x\",\"zip\":%.0f,\"birth\":%.0f,\"cd4\":%.1f,\"status\":\"%s\"}",
                 zip[i], birth[i], cd4[i], st[i < 40 ? (unsigned)i % 2 : rnd(3)]);
        append(t, s, rec);
    }
    assert_int_equal(coh_table_finish(t, &err), 0);
    json_t *out = NULL;
    size_t *rows = NULL, n = 0;
    int rc = release(&out, &rows, &n, t, s,
                     "{\"mode\":\"k-anonymity\",\"k\":2,\"l_kind\":\"none\"}", &err);
    if (rc)
        fail_msg("release failed: %s", err.msg);
    assert_int_equal(n, 60);
    json_t *rep = json_object_get(out, "report");
    assert_int_equal(json_integer_value(json_object_get(rep, "k")), 5);
    assert_true(json_number_value(json_object_get(rep, "l")) >= 2);
    assert_int_equal(json_array_size(json_object_get(rep, "measures_generalized")), 3);
    assert_int_equal(json_array_size(json_object_get(rep, "qi")), 4);
    /* the grids come from the schema: declared 250 for cd4, defaults for the others */
    json_t *grid = json_object_get(rep, "grid");
    assert_string_equal(json_string_value(json_object_get(json_object_get(grid, "cd4"), "step")),
                        "250");
    assert_string_equal(json_string_value(json_object_get(json_object_get(grid, "zip"), "step")),
                        "2000");
    struct csv c;
    csv_parse(&c, json_string_value(json_object_get(out, "content")));
    assert_int_equal(c.rows, 60);
    int zc = col_of(&c, "zip"), bc = col_of(&c, "birth"), cc = col_of(&c, "cd4"),
        sc = col_of(&c, "status"), dc = col_of(&c, "dummy");
    for (size_t r = 0; r < c.rows; r++) {
        size_t src = rows[r];
        assert_true(src < 60);
        check_numeric_cell(c.cell[r][zc], zip[src], 1000, 99999, 2000);
        check_numeric_cell(c.cell[r][bc], birth[src], 19000101, 20101231, 50000);
        check_numeric_cell(c.cell[r][cc], cd4[src], 0, 2000, 250);
        /* nothing raw: a measure's own value is never printed unless it is a grid point */
        char raw[32];
        snprintf(raw, sizeof raw, "%.0f", zip[src]);
        if (strcmp(c.cell[r][zc], raw) == 0)
            assert_true(on_grid(zip[src], 1000, 99999, 2000));
    }
    int qcol[] = {dc, zc, bc, cc}, scol[] = {sc};
    check_classes(&c, qcol, 4, scol, 1, 5, 2);
    csv_free(&c);
    free(rows);
    json_decref(out);
    coh_table_free(t);
    coh_market_schema_free(s);
}

/* The attack: two rows, one of them the researcher's, k = 2. The floor makes it k = 5
 * and the interval ends are grid points, not the other person's age. */
static void test_grid_hides_extremes(void **state)
{
    (void)state;
    coh_market_schema *s = schema(
        "{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,\"role\":"
        "\"quasi-identifier\"},{\"name\":\"dx\",\"type\":\"category\",\"categories\":[\"hiv\","
        "\"flu\"],\"role\":\"sensitive\"}]}");
    coh_table *t;
    coh_err err = {0};
    assert_int_equal(coh_market_schema_table(&t, s, &err), 0);
    static const int ages[] = {70, 83, 71, 77, 79, 73, 81, 75, 74, 72};
    char rec[96];
    for (int i = 0; i < 10; i++) {
        snprintf(rec, sizeof rec, "{\"age\":%d,\"dx\":\"%s\"}", ages[i], i % 2 ? "hiv" : "flu");
        append(t, s, rec);
    }
    assert_int_equal(coh_table_finish(t, &err), 0);
    json_t *out = NULL;
    size_t *rows = NULL, n = 0;
    assert_int_equal(release(&out, &rows, &n, t, s, "{\"mode\":\"k-anonymity\",\"k\":2}", &err), 0);
    struct csv c;
    csv_parse(&c, json_string_value(json_object_get(out, "content")));
    int ac = col_of(&c, "age"), dc = col_of(&c, "dx");
    for (size_t r = 0; r < c.rows; r++) {
        /* default step over [18,100]: 2; 83 and 71 (odd) can never be an end */
        check_numeric_cell(c.cell[r][ac], ages[rows[r]], 18, 100, 2);
        assert_null(strstr(c.cell[r][ac], "83"));
        assert_null(strstr(c.cell[r][ac], "71"));
    }
    int qcol[] = {ac}, scol[] = {dc};
    check_classes(&c, qcol, 1, scol, 1, 5, 2);
    csv_free(&c);
    free(rows);
    json_decref(out);
    coh_table_free(t);
    coh_market_schema_free(s);
}

/* The report's loss is measured over the schema, not the data: a per-field NCP over the data's
 * own range would give away its smallest and largest values (a researcher's own row at one end
 * reveals the other), and "*" for a category must mean every declared category. */
static void test_report_speaks_of_the_schema(void **state)
{
    (void)state;
    coh_market_schema *s = schema(
        "{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,\"role\":"
        "\"quasi-identifier\"},{\"name\":\"sex\",\"type\":\"category\",\"categories\":[\"f\","
        "\"m\",\"x\"],\"role\":\"quasi-identifier\"},{\"name\":\"dx\",\"type\":\"category\","
        "\"categories\":[\"hiv\",\"flu\"],\"role\":\"sensitive\"}]}");
    coh_table *t;
    coh_err err = {0};
    assert_int_equal(coh_market_schema_table(&t, s, &err), 0);
    char rec[96];
    for (int i = 0; i < 12; i++) {
        snprintf(rec, sizeof rec, "{\"age\":%d,\"sex\":\"%s\",\"dx\":\"%s\"}", 50 + i % 6,
                 i % 2 ? "f" : "m", i % 3 ? "hiv" : "flu");
        append(t, s, rec);
    }
    assert_int_equal(coh_table_finish(t, &err), 0);
    json_t *out = NULL;
    size_t *rows = NULL, n = 0;
    assert_int_equal(release(&out, &rows, &n, t, s, "{\"mode\":\"k-anonymity\",\"k\":5}", &err), 0);
    struct csv c;
    csv_parse(&c, json_string_value(json_object_get(out, "content")));
    int ac = col_of(&c, "age"), sc = col_of(&c, "sex");
    double age = 0, sex = 0;
    for (size_t r = 0; r < c.rows; r++) {
        double lo, hi;
        if (sscanf(c.cell[r][ac], "[%lf,%lf]", &lo, &hi) != 2)
            lo = hi = atof(c.cell[r][ac]);
        age += (hi - lo) / (100 - 18);
        /* only f and m occur: never "*", which would mean all three declared */
        assert_string_not_equal(c.cell[r][sc], "*");
        sex += strchr(c.cell[r][sc], ',') ? 1.0 / 2 : 0;
    }
    json_t *per = json_object_get(json_object_get(out, "report"), "ncp_per_qi");
    assert_true(fabs(json_number_value(json_object_get(per, "age")) - age / (double)c.rows) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(per, "sex")) - sex / (double)c.rows) < 1e-9);
    csv_free(&c);
    free(rows);
    json_decref(out);
    coh_table_free(t);
    coh_market_schema_free(s);
}

/* The 40 rows at k = 5, l = 2: an allowance of 10% suppression never releases a worse
 * loss (a withheld row counting 1) than no suppression at all, and *rows lists exactly the
 * released rows. */
static void test_suppression_only_where_it_helps(void **state)
{
    (void)state;
    coh_market_schema *s = schema(
        "{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,\"role\":"
        "\"quasi-identifier\"},{\"name\":\"bmi\",\"type\":\"decimal\",\"min\":10,\"max\":60,"
        "\"decimals\":1,\"role\":\"quasi-identifier\"},{\"name\":\"dx\",\"type\":\"category\","
        "\"categories\":[\"a\",\"b\",\"c\"],\"role\":\"sensitive\"}]}");
    static const char *dx[] = {"a", "b", "c"};
    for (int trial = 0; trial < 20; trial++) {
        coh_table *t;
        coh_err err = {0};
        assert_int_equal(coh_market_schema_table(&t, s, &err), 0);
        char rec[96];
        for (int i = 0; i < 40; i++) {
            unsigned age = trial % 2 ? 18 + rnd(83) : 30 + rnd(20) + (i == 0 ? 50 : 0);
            snprintf(rec, sizeof rec, "{\"age\":%u,\"bmi\":%.1f,\"dx\":\"%s\"}", age,
                     10 + rnd(500) / 10.0, dx[rnd(3)]);
            append(t, s, rec);
        }
        assert_int_equal(coh_table_finish(t, &err), 0);
        double incl[2];
        for (int v = 0; v < 2; v++) {
            json_t *out = NULL;
            size_t *rows = NULL, n = 0;
            const char *p = v ? "{\"mode\":\"k-anonymity\",\"k\":5,\"l\":2,\"l_kind\":"
                                "\"distinct\",\"max_suppression\":0.1}"
                              : "{\"mode\":\"k-anonymity\",\"k\":5,\"l\":2,\"l_kind\":"
                                "\"distinct\"}";
            if (release(&out, &rows, &n, t, s, p, &err) != 0)
                fail_msg("trial %d: %s", trial, err.msg);
            json_t *rep = json_object_get(out, "report");
            incl[v] = json_number_value(json_object_get(rep, "ncp_incl_suppressed"));
            size_t supp = (size_t)json_integer_value(json_object_get(rep, "suppressed"));
            assert_int_equal(n + supp, 40);
            assert_true(supp <= 4);
            if (supp == 0)
                assert_true(fabs(incl[v] - json_number_value(json_object_get(rep, "ncp"))) < 1e-12);
            struct csv c;
            csv_parse(&c, json_string_value(json_object_get(out, "content")));
            assert_int_equal(c.rows, n);
            csv_free(&c);
            for (size_t i = 0; i < n; i++)
                for (size_t o = 0; o < i; o++)
                    assert_true(rows[i] != rows[o] && rows[i] < 40);
            free(rows);
            json_decref(out);
        }
        if (incl[1] > incl[0] + 1e-12)
            fail_msg("trial %d: suppression raised the loss from %g to %g", trial, incl[0],
                     incl[1]);
        coh_table_free(t);
    }
    coh_market_schema_free(s);
}

/* granularity: validation and defaults. */
static void test_granularity(void **state)
{
    (void)state;
    struct {
        const char *field, *expect; /* expect NULL: accepted */
        const char *step;           /* the step then reported */
    } cases[] = {
        {"\"type\":\"integer\",\"min\":18,\"max\":100", NULL, "2"},
        {"\"type\":\"integer\",\"min\":0,\"max\":20", NULL, "1"},
        {"\"type\":\"integer\",\"min\":0,\"max\":300", NULL, "10"},
        {"\"type\":\"decimal\",\"min\":0,\"max\":2.5,\"decimals\":3", NULL, "0.05"},
        {"\"type\":\"decimal\",\"min\":0,\"max\":1,\"decimals\":0", NULL, "1"},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":5", NULL, "5"},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":\"10\"", NULL, "10"},
        {"\"type\":\"decimal\",\"min\":10,\"max\":60,\"decimals\":1,\"granularity\":2.5", NULL,
         "2.5"},
        {"\"type\":\"decimal\",\"min\":10,\"max\":60,\"decimals\":1,\"granularity\":\"1.0\"", NULL,
         "1.0"},
        /* finer than the default step: interval ends would be contributed values again */
        {"\"type\":\"decimal\",\"min\":10,\"max\":60,\"decimals\":1,\"granularity\":\"0.50\"",
         "at least 1", NULL},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":1", "at least 2", NULL},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":0", "granularity", NULL},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":-5", "granularity", NULL},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":2.5", "granularity", NULL},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":\"1e1\"", "granularity",
         NULL},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":true", "granularity", NULL},
        {"\"type\":\"integer\",\"min\":18,\"max\":100,\"granularity\":500", "max - min", NULL},
        {"\"type\":\"decimal\",\"min\":10,\"max\":60,\"decimals\":1,\"granularity\":0.25",
         "at most 1 decimals", NULL},
        {"\"type\":\"category\",\"categories\":[\"a\"],\"granularity\":1", "granularity", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char js[512];
        snprintf(js, sizeof js, "{\"fields\":[{\"name\":\"f\",%s,\"role\":\"quasi-identifier\"}]}",
                 cases[i].field);
        json_t *j = json_loads(js, 0, NULL);
        assert_non_null(j);
        coh_market_schema *s = NULL;
        coh_err err = {0};
        int rc = coh_market_schema_parse(&s, j, &err);
        json_decref(j);
        if (!cases[i].expect) {
            if (rc)
                fail_msg("case %zu refused: %s", i, err.msg);
            assert_string_equal(coh_market_schema_field_granularity(s, 0), cases[i].step);
        } else if (rc != COH_ERR_INVALID || !strstr(err.msg, cases[i].expect) ||
                   !strstr(err.msg, "schema.fields[0]")) {
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", i, rc, err.msg,
                     cases[i].expect);
        }
        coh_market_schema_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_categorical_qi),
        cmocka_unit_test(test_legacy_measure_and_floors),
        cmocka_unit_test(test_report_speaks_of_the_schema),
        cmocka_unit_test(test_grid_hides_extremes),
        cmocka_unit_test(test_suppression_only_where_it_helps),
        cmocka_unit_test(test_granularity),
    };
    if (coh_process_harden() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
