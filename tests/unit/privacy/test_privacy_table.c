/* Unit tests for privacy tables: exact decimals, schema validation, CSV loading, hierarchies.
 * Errors must name row and column and never echo the offending cell. */
#include "privacy/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/coh_privacy_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_dec(void **state)
{
    (void)state;
    struct coh_dec d, e;
    assert_true(coh_dec_parse(&d, "33.60", 5));
    assert_int_equal(d.m, 336);
    assert_int_equal(d.e, -1);
    assert_true(coh_dec_parse(&d, "-1e-3", 5));
    assert_int_equal(d.m, -1);
    assert_int_equal(d.e, -3);
    assert_true(coh_dec_parse(&d, "1200", 4));
    assert_int_equal(d.m, 12);
    assert_int_equal(d.e, 2);
    assert_true(coh_dec_parse(&d, "0.000", 5));
    assert_int_equal(d.m, 0);
    const char *bad[] = {"NaN", "nan", "inf",   "-Infinity", "",
                         "1e",  "--1", "1.2.3", "0x10",      "1234567890123456789012",
                         "abc", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(coh_dec_parse(&d, bad[i], strlen(bad[i])));
    assert_true(coh_dec_parse(&d, "2.5", 3));
    assert_true(coh_dec_parse(&e, "10", 2));
    assert_true(coh_dec_cmp(d, e) < 0 && coh_dec_cmp(e, d) > 0 && coh_dec_cmp(d, d) == 0);
    assert_true(coh_dec_parse(&e, "-300", 4));
    assert_true(coh_dec_cmp(e, d) < 0);
    int64_t v;
    assert_true(coh_dec_scaled(&v, d, 3));
    assert_int_equal(v, 2500);
    char buf[48];
    coh_dec_format(buf, 2500, 3);
    assert_string_equal(buf, "2.5");
    coh_dec_format(buf, -5, 2);
    assert_string_equal(buf, "-0.05");
    coh_dec_format(buf, 120, 0);
    assert_string_equal(buf, "120");
}

static void test_table_append_infer(void **state)
{
    (void)state;
    coh_col_decl decls[] = {{.name = "age"}, {.name = "sex"}, {.name = "w"}};
    coh_table *t;
    coh_err err = {0};
    assert_int_equal(coh_table_new(&t, decls, 3, &err), 0);
    const char *rows[][3] = {{"30", "f", "1.5"}, {"41", "m", "2"}, {"30", "m", "x"}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(coh_table_row_append(t, rows[i], &err), 0);
    assert_int_equal(coh_table_finish(t, &err), 0);
    assert_int_equal(coh_table_rows(t), 3);
    assert_int_equal(coh_table_col_type(t, 0), COH_COL_NUMERIC);
    assert_int_equal(coh_table_col_type(t, 1), COH_COL_CATEGORICAL);
    assert_int_equal(coh_table_col_type(t, 2), COH_COL_CATEGORICAL); /* "x" is text */
    assert_string_equal(coh_table_cell(t, 2, 1), "m");
    assert_int_equal(coh_table_col_find(t, "w"), 2);
    assert_int_equal(coh_table_col_find(t, "nope"), -1);
    coh_table_free(t);
    coh_table_free(NULL);
}

static void test_table_schema_rejects(void **state)
{
    (void)state;
    const char *cats[] = {"f", "m"};
    coh_col_decl decls[] = {
        {.name = "age", .type = COH_COL_NUMERIC, .min = "0", .max = "120"},
        {.name = "sex", .type = COH_COL_CATEGORICAL, .categories = cats, .n_categories = 2}};
    coh_table *t;
    coh_err err = {0};
    assert_int_equal(coh_table_new(&t, decls, 2, &err), 0);
    const char *ok[] = {"30", "f"}, *nan[] = {"NaN", "f"}, *inf[] = {"inf", "m"},
               *big[] = {"121", "m"}, *cat[] = {"40", "SECRETX"};
    assert_int_equal(coh_table_row_append(t, ok, &err), 0);
    assert_int_equal(coh_table_row_append(t, nan, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "row 3"));
    assert_non_null(strstr(err.msg, "'age'"));
    assert_null(strstr(err.msg, "NaN"));
    assert_int_equal(coh_table_row_append(t, inf, &err), COH_ERR_INVALID);
    assert_null(strstr(err.msg, "inf"));
    assert_int_equal(coh_table_row_append(t, big, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "domain"));
    assert_null(strstr(err.msg, "121"));
    assert_int_equal(coh_table_row_append(t, cat, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "'sex'"));
    assert_null(strstr(err.msg, "SECRETX"));
    /* A rejected value must be rejected again: it may not linger in the column dictionary. */
    assert_int_equal(coh_table_row_append(t, big, &err), COH_ERR_INVALID);
    assert_int_equal(coh_table_row_append(t, cat, &err), COH_ERR_INVALID);
    assert_int_equal(coh_table_row_append(t, nan, &err), COH_ERR_INVALID);
    const char *ok2[] = {"31", "m"};
    assert_int_equal(coh_table_row_append(t, ok2, &err), 0);
    assert_int_equal(coh_table_rows(t), 2); /* rejected rows are rolled back */
    coh_table_free(t);
}

static void test_csv_load(void **state)
{
    (void)state;
    const char *csv = "name,\"note, with comma\",n\n"
                      "\"a \"\"quoted\"\" one\",\"multi\nline\",1\n"
                      " b ,plain,2.50\n"
                      ",,3\n";
    coh_table *t;
    coh_err err = {0};
    assert_int_equal(coh_table_csv_load(&t, write_tmp(csv), NULL, NULL, NULL, &err), 0);
    assert_int_equal(coh_table_rows(t), 3);
    assert_string_equal(coh_table_col_name(t, 1), "note, with comma");
    assert_string_equal(coh_table_cell(t, 0, 0), "a \"quoted\" one");
    assert_string_equal(coh_table_cell(t, 0, 1), "multi\nline");
    assert_string_equal(coh_table_cell(t, 1, 0), " b "); /* whitespace kept exactly */
    assert_string_equal(coh_table_cell(t, 2, 0), "");
    assert_int_equal(coh_table_col_type(t, 2), COH_COL_NUMERIC);
    coh_table_free(t);

    /* wrong field count names the row */
    assert_int_equal(coh_table_csv_load(&t, write_tmp("a,b\n1,2\n3\n"), NULL, NULL, NULL, &err),
                     COH_ERR_INVALID);
    assert_null(t);
    assert_non_null(strstr(err.msg, "row 3"));
    /* malformed quoting */
    assert_int_equal(coh_table_csv_load(&t, write_tmp("a,b\n1,\"x\"y\n"), NULL, NULL, NULL, &err),
                     COH_ERR_INVALID);
    /* declared numeric column with NaN, via the schema */
    coh_col_decl d = {.name = "v", .type = COH_COL_NUMERIC};
    coh_table_schema s = {.cols = &d, .n_cols = 1, .only_declared = 1};
    assert_int_equal(
        coh_table_csv_load(&t, write_tmp("k,v\nz,1\nz,-Infinity\n"), &s, NULL, NULL, &err),
        COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "row 3, column 'v'"));
    assert_null(strstr(err.msg, "Infinity"));
    /* only_declared skips the other columns */
    assert_int_equal(coh_table_csv_load(&t, write_tmp("k,v\nz,1\ny,2\n"), &s, NULL, NULL, &err), 0);
    assert_int_equal(coh_table_cols(t), 1);
    coh_table_free(t);
    d.name = "missing";
    assert_int_equal(coh_table_csv_load(&t, write_tmp("k,v\n"), &s, NULL, NULL, &err),
                     COH_ERR_INVALID);
    assert_int_equal(coh_table_csv_load(&t, "/nonexistent/x.csv", NULL, NULL, NULL, &err),
                     COH_ERR_IO);
    /* duplicate header names */
    assert_int_equal(coh_table_csv_load(&t, write_tmp("a,a\n1,2\n"), NULL, NULL, NULL, &err),
                     COH_ERR_INVALID);
}

static void test_hierarchy(void **state)
{
    (void)state;
    coh_hierarchy *h;
    coh_err err = {0};
    const char *txt = "21;21-25;*\n22;21-25;*\n26;26-30;*\n27;26-30;*\n";
    assert_int_equal(coh_hierarchy_parse(&h, txt, strlen(txt), &err), 0);
    assert_int_equal(h->n_leaves, 4);
    assert_int_equal(h->n_levels, 3);
    long leaf = coh_hierarchy_leaf_find(h, "26");
    assert_true(leaf >= 0);
    assert_string_equal(h->labels[h->anc[leaf * 3 + 1]], "26-30");
    assert_int_equal(h->n_under[h->anc[leaf * 3 + 2]], 4);
    coh_hierarchy_free(h);
    const char *bad1 = "a,x,*\nb,*\n", *bad2 = "a;x;*\nb;y;*\nc;x;ROOT2\n",
               *bad3 = "a;x;*\nb;x;*\nc;x;*\nd;x;*\ne;e1;*\na;x;*\n",
               *bad4 = "a;x;r\nb;y;r\nc;x;r\n"
                       "d;y;s\n";
    assert_int_equal(coh_hierarchy_parse(&h, bad1, strlen(bad1), &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_int_equal(coh_hierarchy_parse(&h, bad2, strlen(bad2), &err), COH_ERR_INVALID);
    assert_int_equal(coh_hierarchy_parse(&h, bad3, strlen(bad3), &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "duplicate"));
    assert_int_equal(coh_hierarchy_parse(&h, bad4, strlen(bad4), &err), COH_ERR_INVALID);
    coh_hierarchy_free(NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dec),
        cmocka_unit_test(test_table_append_infer),
        cmocka_unit_test(test_table_schema_rejects),
        cmocka_unit_test(test_csv_load),
        cmocka_unit_test(test_hierarchy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
