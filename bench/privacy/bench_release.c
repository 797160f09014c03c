/*
 * bench_release: the market's k-anonymous release (coh_market_release_compute, the code a
 * closed request runs) over a CSV data set, under the operator's default floors (k >= 5,
 * distinct l >= 2 on every sensitive field).
 *
 * usage: bench_release in.csv SCHEMA_JSON K MAX_SUPPRESSION [REPEAT]
 *   SCHEMA_JSON  the request schema {"fields":[...]}: one field per CSV column to release;
 *                a category field without "categories" gets the column's values (bench
 *                convenience; a real request declares them)
 * Prints one JSON line: rows, released, suppressed, classes, ncp (released rows),
 * ncp_incl_suppressed (a suppressed row counting 1), seconds (median of REPEAT runs of the
 * release computation alone; building the table is not timed).
 */
#include "market/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_release: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_release in.csv SCHEMA_JSON K MAX_SUPPRESSION [REPEAT]\n");
        return 2;
    }
    if (coh_process_harden() != 0)
        return 1;
    int repeat = argc > 5 ? atoi(argv[5]) : 3;
    coh_err err = {0};
    coh_table *csv = NULL;
    if (coh_table_csv_load(&csv, argv[1], NULL, NULL, NULL, &err) != 0)
        die(argv[1], err.msg);
    json_error_t je;
    json_t *sj = json_loads(argv[2], 0, &je);
    if (!sj)
        die("schema", je.text);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(sj, "fields"), i, f)
    {
        const char *type = json_string_value(json_object_get(f, "type"));
        if (!type || strcmp(type, "category") != 0 || json_object_get(f, "categories"))
            continue;
        int c = coh_table_col_find(csv, json_string_value(json_object_get(f, "name")));
        if (c < 0)
            die("schema", "a field names no column of the file");
        json_t *cats = json_array();
        for (size_t r = 0; r < coh_table_rows(csv); r++) {
            const char *v = coh_table_cell(csv, r, (size_t)c);
            size_t k = 0;
            while (k < json_array_size(cats) &&
                   strcmp(json_string_value(json_array_get(cats, k)), v) != 0)
                k++;
            if (k == json_array_size(cats))
                json_array_append_new(cats, json_string(v));
        }
        json_object_set_new(f, "categories", cats);
    }
    coh_market_schema *s = NULL;
    if (coh_market_schema_parse(&s, sj, &err) != 0)
        die("schema", err.msg);
    size_t nf = coh_market_schema_fields(s), nr = coh_table_rows(csv);
    int col[32];
    for (size_t k = 0; k < nf; k++)
        if ((col[k] = coh_table_col_find(csv, coh_market_schema_field_name(s, k))) < 0)
            die("schema", "a field names no column of the file");
    coh_table *t = NULL;
    if (coh_market_schema_table(&t, s, &err) != 0)
        die("table", err.msg);
    const char *cells[32];
    for (size_t r = 0; r < nr; r++) {
        for (size_t k = 0; k < nf; k++)
            cells[k] = coh_table_cell(csv, r, (size_t)col[k]);
        if (coh_table_row_append(t, cells, &err) != 0)
            die("row", err.msg);
    }
    if (coh_table_finish(t, &err) != 0)
        die("table", err.msg);
    json_t *privacy = json_pack("{s:s, s:i, s:f, s:s, s:f}", "mode", "k-anonymity", "k",
                                atoi(argv[3]), "l", 2.0, "l_kind", "distinct", "max_suppression",
                                atof(argv[4]));
    double secs[16];
    if (repeat < 1 || repeat > 16)
        repeat = 3;
    json_t *out = NULL;
    for (int rep = 0; rep < repeat; rep++) {
        size_t *rows = NULL, n = 0;
        json_decref(out);
        double t0 = now();
        if (coh_market_release_compute(&out, &rows, &n, t, s, privacy, NULL, NULL, &err) != 0)
            die("release", err.msg);
        secs[rep] = now() - t0;
        free(rows);
    }
    qsort(secs, (size_t)repeat, sizeof *secs, cmp_d);
    json_t *rep = json_object_get(out, "report");
    json_t *line = json_pack(
        "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:f}", "rows", json_object_get(rep, "rows"),
        "released", json_object_get(rep, "released"), "suppressed",
        json_object_get(rep, "suppressed"), "classes", json_object_get(rep, "classes"), "k",
        json_object_get(rep, "k"), "l", json_object_get(rep, "l"), "ncp",
        json_object_get(rep, "ncp"), "ncp_incl_suppressed",
        json_object_get(rep, "ncp_incl_suppressed"), "seconds", secs[repeat / 2]);
    char *text = json_dumps(line, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(line);
    json_decref(out);
    json_decref(privacy);
    json_decref(sj);
    coh_table_free(t);
    coh_table_free(csv);
    coh_market_schema_free(s);
    return 0;
}
