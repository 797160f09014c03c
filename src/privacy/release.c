/*
 * release: what a k-anonymous release exposes once Mondrian has built it: metrics, the
 * released rows, CSV output and the JSON report.
 *
 * Metrics follow the definitions of the independent checker (tools/check_release.py):
 * NCP per cell is (hi - lo) / column range for numbers, the grid interval clipped to the
 * column's range first, (|set| - 1) / (|domain| - 1) for sets ('*' = 1), (leaves under the
 * label - 1) / (leaves - 1) for hierarchy labels, 0 for a column holding one value; `ncp`
 * averages over released rows and QIs, `ncp_incl_suppressed` over all rows with a suppressed
 * row counting 1 (as ARX reports loss); discernibility is sum |E|^2 + suppressed * rows; C_avg is
 * (released / classes) / k. Classes are counted after merging partitions whose generalized
 * tuples print identically (relaxed Mondrian can produce such twins), as a reader would.
 */
#include "privacy/internal.h"

#include <stdlib.h>
#include <string.h>

void coh_kanon_release_free(coh_kanon_release *r)
{
    if (!r)
        return;
    free(r->col_qi);
    coh_svec_free(&r->src);
    coh_svec_free(&r->cls);
    coh_svec_free(&r->cell_off);
    coh_svec_free(&r->arena);
    free(r->ncp_cell);
    free(r->class_size);
    free(r);
}

static int cmp_class(const void *x, const void *y, void *ctx)
{
    const struct coh_kanon_release *r = ctx;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    for (size_t q = 0; q < r->n_qi; q++) {
        int c = strcmp(coh_kanon_class_cell(r, a, q), coh_kanon_class_cell(r, b, q));
        if (c)
            return c;
    }
    return 0;
}

int coh_kanon_release_finish(struct coh_kanon_release *r, coh_err *err)
{
    size_t d = r->n_qi;
    double sum = 0;
    for (size_t q = 0; q < d; q++)
        r->ncp_qi[q] = 0;
    for (size_t c = 0; c < r->n_classes; c++)
        for (size_t q = 0; q < d; q++) {
            double v = r->ncp_cell[c * d + q] * r->class_size[c];
            r->ncp_qi[q] += v;
            sum += v;
        }
    for (size_t q = 0; q < d; q++)
        r->ncp_qi[q] = r->n_released ? r->ncp_qi[q] / (double)r->n_released : 0;
    uint32_t *idx = malloc((r->n_classes + 1) * sizeof *idx);
    if (!idx)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < r->n_classes; c++)
        idx[c] = (uint32_t)c;
    qsort_r(idx, r->n_classes, sizeof *idx, cmp_class, r);
    double dm = 0;
    size_t merged = 0;
    for (size_t i = 0; i < r->n_classes;) {
        double size = 0;
        size_t j = i;
        while (j < r->n_classes && (j == i || cmp_class(&idx[i], &idx[j], r) == 0))
            size += r->class_size[idx[j++]];
        dm += size * size;
        merged++;
        i = j;
    }
    free(idx);
    coh_kanon_metrics *m = &r->m;
    m->rows = r->n_rows;
    m->released = r->n_released;
    m->suppressed = r->n_rows - r->n_released;
    m->classes = merged;
    r->distinct_classes = merged;
    m->ncp = r->n_released ? sum / ((double)r->n_released * (double)d) : 0;
    m->ncp_incl_suppressed =
        r->n_rows ? (sum + (double)m->suppressed * (double)d) / ((double)r->n_rows * (double)d) : 0;
    m->discernibility = dm + (double)m->suppressed * (double)r->n_rows;
    m->c_avg = merged ? ((double)r->n_released / (double)merged) / r->k : 0;
    return 0;
}

void coh_kanon_release_metrics(const coh_kanon_release *r, coh_kanon_metrics *out)
{
    *out = r->m;
}

size_t coh_kanon_release_rows(const coh_kanon_release *r)
{
    return r->n_released;
}

const char *coh_kanon_release_cell(const coh_kanon_release *r, size_t i, size_t col)
{
    if (i >= r->n_released || col >= r->t->ncols)
        return NULL;
    uint32_t src = ((const uint32_t *)r->src.p)[i];
    int q = r->col_qi[col];
    if (q >= 0)
        return coh_kanon_class_cell(r, ((const uint32_t *)r->cls.p)[i], (size_t)q);
    return coh_table_cell(r->t, src, col);
}

size_t coh_kanon_release_source_row(const coh_kanon_release *r, size_t i)
{
    return ((const uint32_t *)r->src.p)[i];
}

int coh_kanon_release_csv_write(const coh_kanon_release *r, const char *path, coh_err *err)
{
    struct coh_csv_writer w;
    int rc = coh_csv_writer_open(&w, path, err);
    if (rc)
        return rc;
    const coh_table *t = r->t;
    for (size_t c = 0; c < t->ncols; c++)
        coh_csv_writer_field(&w, t->cols[c].name, strlen(t->cols[c].name), c == 0);
    coh_csv_writer_eol(&w);
    const uint32_t *src = (const uint32_t *)r->src.p, *cls = (const uint32_t *)r->cls.p;
    for (size_t i = 0; i < r->n_released && !w.failed; i++) {
        for (size_t c = 0; c < t->ncols; c++) {
            int q = r->col_qi[c];
            const char *s = q >= 0 ? coh_kanon_class_cell(r, cls[i], (size_t)q)
                                   : coh_dict_str(&t->cols[c].dict, coh_table_code(t, src[i], c));
            coh_csv_writer_field(&w, s, strlen(s), c == 0);
        }
        coh_csv_writer_eol(&w);
    }
    return coh_csv_writer_close(&w, err);
}

json_t *coh_kanon_release_report(const coh_kanon_release *r)
{
    const coh_table *t = r->t;
    json_t *qi = json_array(), *sens = json_array(), *per = json_object(), *grid = json_object();
    for (size_t q = 0; q < r->n_qi; q++) {
        const char *name = t->cols[r->qi_col[q]].name;
        json_array_append_new(qi, json_string(name));
        json_object_set_new(per, name, json_real(r->ncp_qi[q]));
        if (!r->qi_numeric[q])
            continue;
        json_t *g = json_null();
        if (r->grid_step[q][0]) {
            g = json_pack("{s:s}", "step", r->grid_step[q]);
            if (r->grid_lo[q][0]) {
                json_object_set_new(g, "lo", json_string(r->grid_lo[q]));
                json_object_set_new(g, "hi", json_string(r->grid_hi[q]));
            }
        }
        json_object_set_new(grid, name, g);
    }
    for (size_t s = 0; s < r->n_sens; s++)
        json_array_append_new(sens, json_string(t->cols[r->sens_col[s]].name));
    uint32_t mn = UINT32_MAX, mx = 0;
    for (size_t c = 0; c < r->n_classes; c++) {
        mn = r->class_size[c] < mn ? r->class_size[c] : mn;
        mx = r->class_size[c] > mx ? r->class_size[c] : mx;
    }
    const coh_kanon_metrics *m = &r->m;
    json_t *l = r->l_kind == COH_LDIV_NONE ? json_null() : json_real(r->l);
    json_t *lk = r->l_kind == COH_LDIV_NONE       ? json_null()
                 : r->l_kind == COH_LDIV_DISTINCT ? json_string("distinct")
                                                  : json_string("entropy");
    return json_pack(
        "{s:s, s:i, s:o, s:o, s:s, s:f, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o, s:f, "
        "s:f, s:{s:I, s:I, s:f}, s:o}",
        "algorithm", "mondrian", "k", (int)r->k, "l", l, "l_kind", lk, "mode",
        r->mode == COH_KANON_STRICT ? "strict" : "relaxed", "max_suppression", r->max_suppression,
        "qi", qi, "sensitive", sens, "rows", (json_int_t)m->rows, "released",
        (json_int_t)m->released, "suppressed", (json_int_t)m->suppressed, "classes",
        (json_int_t)m->classes, "partitions", (json_int_t)r->n_classes, "ncp", m->ncp,
        "ncp_incl_suppressed", m->ncp_incl_suppressed, "ncp_per_qi", per, "discernibility",
        m->discernibility, "c_avg", m->c_avg, "class_size", "min",
        (json_int_t)(r->n_classes ? mn : 0), "max", (json_int_t)mx, "mean",
        r->n_classes ? (double)m->released / (double)r->n_classes : 0.0, "grid", grid);
}
