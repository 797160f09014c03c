/*
 * kanon: the k-anonymity entry point around Mondrian (mondrian.c). Validates parameters,
 * encodes each QI as small integer keys (numeric: the value's cell on the QI's grid, in value
 * order, see grid.c; flat categorical: rank of the string; hierarchy: leaf index), runs the
 * partitioning, then renders each class's generalized cells (numeric: the grid points around
 * its cells) and lays out the released rows, shuffled within each class with the CSPRNG so a
 * row's position says nothing about its position in the input.
 *
 * Memory: records and scratch copies (2 * rows * (n_qi + n_sens + 1) * 4 bytes) plus one
 * key array per QI, all in sodium_malloc memory, freed (wiped) before returning.
 */
#include "privacy/mondrian.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_i64_idx(const void *x, const void *y, void *ctx)
{
    const int64_t *v = ctx;
    int64_t a = v[*(const uint32_t *)x], b = v[*(const uint32_t *)y];
    return (a > b) - (a < b);
}

static int cmp_str_idx(const void *x, const void *y, void *ctx)
{
    const struct coh_dict *d = ctx;
    return strcmp(coh_dict_str(d, *(const uint32_t *)x), coh_dict_str(d, *(const uint32_t *)y));
}

/* The first row holding dictionary code c of column col (for messages). */
static size_t row_of_code(const coh_table *t, int col, uint32_t c)
{
    size_t r = 0;
    while (r + 1 < t->nrows && coh_table_code(t, r, (size_t)col) != c)
        r++;
    return r;
}

/* Numeric QI j: keys are the grid cells of the values, in value order (grid.c). */
static int qdim_init_num(struct mctx *m, size_t j, uint32_t *order, coh_err *err)
{
    struct qdim *q = &m->q[j];
    const struct coh_col *col = &m->t->cols[q->col];
    const int64_t *v = (const int64_t *)col->val.p;
    uint32_t n = col->dict.n;
    int64_t dmin = n ? v[order[0]] : 0, dmax = n ? v[order[n - 1]] : 0;
    int rc = coh_grid_resolve(&q->grid, col, m->p->grids ? &m->p->grids[j] : NULL, dmin, dmax, err);
    if (rc)
        return rc;
    int S = q->grid.scale;
    if (!coh_grid_rescale(&dmin, dmin, col->scale, S) ||
        !coh_grid_rescale(&dmax, dmax, col->scale, S))
        return coh_err_set(err, COH_ERR_INVALID,
                           "column '%s': grid and values need more than 18 digits", col->name);
    size_t cap = n ? n : 1;
    if (!(q->cell_lo = coh_sec_alloc(cap * 8)) || !(q->cell_hi = coh_sec_alloc(cap * 8)) ||
        !(q->nlo = coh_sec_alloc(cap * sizeof(double))) ||
        !(q->nhi = coh_sec_alloc(cap * sizeof(double))))
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    uint32_t r = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t x, lo, hi;
        if (!coh_grid_rescale(&x, v[order[i]], col->scale, S))
            return coh_err_set(err, COH_ERR_INVALID,
                               "column '%s': grid and values need more than 18 digits", col->name);
        if (!coh_grid_cell(&q->grid, x, &lo, &hi))
            return coh_err_set(err, COH_ERR_INVALID,
                               "row %zu, column '%s': value outside the grid's bounds",
                               row_of_code(m->t, q->col, order[i]) + 2, col->name);
        if (i > 0 && (lo != q->cell_lo[r] || hi != q->cell_hi[r]))
            r++;
        q->cell_lo[r] = lo;
        q->cell_hi[r] = hi;
        q->key_of_code[order[i]] = r;
    }
    q->n_keys = n ? r + 1 : 0;
    /* NCP: cell ends clipped to the column's range [dmin, dmax], as the checker counts */
    double range = (double)(dmax - dmin);
    for (uint32_t k = 0; k < q->n_keys; k++) {
        int64_t lo = q->cell_lo[k] < dmin ? dmin : q->cell_lo[k];
        int64_t hi = q->cell_hi[k] > dmax ? dmax : q->cell_hi[k];
        q->nlo[k] = range > 0 ? (double)(lo - dmin) / range : 0;
        q->nhi[k] = range > 0 ? (double)(hi - dmin) / range : 0;
    }
    return 0;
}

/* Builds the code -> key maps of QI j. */
static int qdim_init(struct mctx *m, size_t j, const coh_hierarchy *h, coh_err *err)
{
    struct qdim *q = &m->q[j];
    const struct coh_col *col = &m->t->cols[q->col];
    uint32_t n = col->dict.n;
    q->h = h;
    q->kind = h ? Q_HIER : col->type == COH_COL_NUMERIC ? Q_NUM : Q_SET;
    if (!(q->key_of_code = coh_sec_alloc((size_t)(n ? n : 1) * 4)))
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    if (q->kind == Q_HIER) {
        q->n_keys = (uint32_t)h->n_leaves;
        for (uint32_t c = 0; c < n; c++) {
            long leaf = coh_hierarchy_leaf_find(h, coh_dict_str(&col->dict, c));
            if (leaf < 0)
                return coh_err_set(err, COH_ERR_INVALID,
                                   "row %zu, column '%s': value not in the hierarchy",
                                   row_of_code(m->t, q->col, c) + 2, col->name);
            q->key_of_code[c] = (uint32_t)leaf;
        }
        return 0;
    }
    uint32_t *order = coh_sec_alloc((size_t)(n ? n : 1) * 4);
    if (!order)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (uint32_t c = 0; c < n; c++)
        order[c] = c;
    if (q->kind == Q_NUM) {
        qsort_r(order, n, 4, cmp_i64_idx, col->val.p);
        int rc = qdim_init_num(m, j, order, err);
        coh_sec_free(order);
        return rc;
    }
    qsort_r(order, n, 4, cmp_str_idx, (void *)&col->dict);
    for (uint32_t i = 0; i < n; i++)
        q->key_of_code[order[i]] = i;
    q->key_code = order;
    q->n_keys = n;
    if (!(q->stamp = calloc(n ? n : 1, 4)))
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    return 0;
}

static void qdim_free(struct qdim *q)
{
    coh_sec_free(q->key_of_code);
    coh_sec_free(q->cell_lo);
    coh_sec_free(q->cell_hi);
    coh_sec_free(q->nlo);
    coh_sec_free(q->nhi);
    coh_sec_free(q->key_code);
    free(q->stamp);
}

static int arena_add(struct coh_svec *arena, struct coh_svec *offs, const char *s, size_t len)
{
    if (coh_svec_reserve(arena, len + 1) || coh_svec_reserve(offs, 8))
        return COH_ERR_NOMEM;
    uint64_t o = arena->len;
    memcpy(arena->p + arena->len, s, len);
    arena->p[arena->len + len] = 0;
    arena->len += len + 1;
    memcpy(offs->p + offs->len, &o, 8);
    offs->len += 8;
    return 0;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* Renders the generalized QI cells of class [a,b) and their NCP. */
static int render_class(struct mctx *m, struct coh_kanon_release *r, size_t cls, size_t a, size_t b,
                        struct coh_svec *scratch, uint32_t *keys)
{
    struct psum ps;
    coh_mondrian_summarize(m, a, b, &ps);
    for (size_t j = 0; j < m->d; j++) {
        struct qdim *q = &m->q[j];
        const struct coh_col *col = &m->t->cols[q->col];
        double ncp = 0;
        scratch->len = 0;
        char num[2][48];
        if (q->kind == Q_NUM) {
            /* grid points around the class's cells: never the class's own extremes */
            int64_t lo = q->cell_lo[ps.lo[j]], hi = q->cell_hi[ps.hi[j]];
            size_t n0 = coh_dec_format(num[0], lo, q->grid.scale);
            if (lo == hi) {
                if (coh_svec_reserve(scratch, n0))
                    return COH_ERR_NOMEM;
                memcpy(scratch->p, num[0], n0);
                scratch->len = n0;
            } else {
                size_t n1 = coh_dec_format(num[1], hi, q->grid.scale);
                if (coh_svec_reserve(scratch, n0 + n1 + 3))
                    return COH_ERR_NOMEM;
                scratch->len = (size_t)sprintf((char *)scratch->p, "[%s,%s]", num[0], num[1]);
            }
            /* Reported over the schema's bounds when it has them: a loss over the data's own
             * range would tell the researcher the smallest and largest contributed values,
             * suppressed rows included. */
            if (q->grid.bounded && q->grid.hi > q->grid.lo)
                ncp = (double)(hi - lo) / (double)(q->grid.hi - q->grid.lo);
            else
                ncp = q->nhi[ps.hi[j]] - q->nlo[ps.lo[j]];
        } else if (q->kind == Q_SET) {
            /* The declared categories, when there are, decide "*" and the loss: the values
             * present in the data (suppressed rows included) must not show through. */
            uint32_t dom = col->n_allowed ? (uint32_t)col->n_allowed : q->n_keys;
            uint32_t nk = 0, sid = ++m->stamp_id;
            for (size_t i = a; i < b; i++) {
                uint32_t x = REC(m, i)[j];
                if (q->stamp[x] != sid) {
                    q->stamp[x] = sid;
                    keys[nk++] = x;
                }
            }
            if (nk == 1 || nk < dom) {
                qsort(keys, nk, 4, cmp_u32);
                for (uint32_t i = 0; i < nk; i++) {
                    const char *s = coh_dict_str(&col->dict, q->key_code[keys[i]]);
                    size_t len = strlen(s);
                    if (coh_svec_reserve(scratch, len + 3))
                        return COH_ERR_NOMEM;
                    if (nk > 1)
                        scratch->p[scratch->len++] = i == 0 ? '{' : ',';
                    memcpy(scratch->p + scratch->len, s, len);
                    scratch->len += len;
                }
                if (nk > 1)
                    scratch->p[scratch->len++] = '}';
                /* one value in every row of the column: nothing generalized (no 0/0) */
                ncp = dom > 1 ? (double)(nk - 1) / (dom - 1) : 0;
            } else {
                if (coh_svec_reserve(scratch, 1))
                    return COH_ERR_NOMEM;
                scratch->p[scratch->len++] = '*';
                ncp = 1;
            }
        } else {
            const coh_hierarchy *h = q->h;
            uint32_t node = h->anc[ps.lo[j] * h->n_levels + ps.lv[j]];
            size_t len = strlen(h->labels[node]);
            if (coh_svec_reserve(scratch, len))
                return COH_ERR_NOMEM;
            memcpy(scratch->p, h->labels[node], len);
            scratch->len = len;
            ncp = h->n_leaves > 1 ? (double)(h->n_under[node] - 1) / (h->n_leaves - 1) : 0;
        }
        if (arena_add(&r->arena, &r->cell_off, (const char *)scratch->p, scratch->len))
            return COH_ERR_NOMEM;
        r->ncp_cell[cls * m->d + j] = ncp;
    }
    return 0;
}

static int build_release(struct mctx *m, struct coh_kanon_release *r, coh_err *err)
{
    size_t max_keys = 1;
    for (size_t j = 0; j < m->d; j++)
        max_keys = m->q[j].n_keys > max_keys ? m->q[j].n_keys : max_keys;
    uint32_t *keys = coh_sec_alloc(max_keys * 4);
    struct coh_svec scratch = {0};
    coh_dp_rng *rng = NULL;
    r->n_classes = m->n_classes;
    r->ncp_cell = calloc(m->n_classes * m->d + 1, sizeof *r->ncp_cell);
    r->class_size = calloc(m->n_classes + 1, sizeof *r->class_size);
    size_t released = m->n - m->suppressed;
    int rc = !keys || !r->ncp_cell || !r->class_size || coh_dp_rng_new(&rng) ||
                     coh_svec_alloc(&r->src, released * 4 + 4) ||
                     coh_svec_alloc(&r->cls, released * 4 + 4)
                 ? COH_ERR_NOMEM
                 : 0;
    uint32_t *src = rc ? NULL : (uint32_t *)r->src.p, *cls = rc ? NULL : (uint32_t *)r->cls.p;
    size_t o = 0, s = m->stride;
    for (size_t c = 0; c < m->n_classes && !rc; c++) {
        size_t a = m->classes[c].a, b = m->classes[c].b;
        rc = render_class(m, r, c, a, b, &scratch, keys);
        /* shuffle within the class: output position must say nothing about input order */
        for (size_t i = b - a; !rc && i > 1; i--) {
            size_t x = a + i - 1, y = a + coh_dp_rng_below(rng, i);
            uint32_t t = m->rec[x * s + s - 1];
            m->rec[x * s + s - 1] = m->rec[y * s + s - 1];
            m->rec[y * s + s - 1] = t;
        }
        for (size_t i = a; !rc && i < b; i++) {
            src[o] = m->rec[i * s + s - 1];
            cls[o++] = (uint32_t)c;
        }
        if (!rc)
            r->class_size[c] = (uint32_t)(b - a);
    }
    r->n_released = o;
    coh_dp_rng_free(rng);
    coh_sec_free(keys);
    coh_svec_free(&scratch);
    if (rc)
        return coh_err_set(err, rc, "out of memory");
    return coh_kanon_release_finish(r, err);
}

static void mctx_free(struct mctx *m)
{
    for (size_t j = 0; j < COH_KANON_MAX_QI; j++)
        qdim_free(&m->q[j]);
    for (size_t s = 0; s < COH_KANON_MAX_SENS; s++)
        free(m->scount[s]);
    coh_sec_free(m->rec);
    coh_sec_free(m->tmp);
    coh_sec_free(m->gid);
    coh_sec_free(m->hist);
    free(m->touched);
    free(m->off);
    free(m->hmap);
    free(m->stack);
    free(m->classes);
    coh_sec_free(m->gs);
    free(m->suf_w);
    free(m->suf_n);
}

static int check_params(const coh_table *t, const coh_kanon_params *p, coh_err *err)
{
    if (!t->finished)
        return coh_err_set(err, COH_ERR_INVALID, "table is not finished");
    if (p->k < 1)
        return coh_err_set(err, COH_ERR_INVALID, "k must be at least 1");
    if (p->n_qi < 1 || p->n_qi > COH_KANON_MAX_QI)
        return coh_err_set(err, COH_ERR_INVALID, "between 1 and %d quasi-identifiers needed",
                           COH_KANON_MAX_QI);
    if (p->n_sensitive > COH_KANON_MAX_SENS)
        return coh_err_set(err, COH_ERR_INVALID, "at most %d sensitive attributes",
                           COH_KANON_MAX_SENS);
    if (p->l_kind != COH_LDIV_NONE && (!(p->l >= 1) || p->n_sensitive == 0))
        return coh_err_set(err, COH_ERR_INVALID,
                           "l-diversity needs l >= 1 and at least one sensitive attribute");
    if (!(p->max_suppression >= 0 && p->max_suppression < 1))
        return coh_err_set(err, COH_ERR_INVALID, "max suppression must be in [0, 1)");
    for (size_t i = 0; i < p->n_qi + p->n_sensitive; i++) {
        const char *name = i < p->n_qi ? p->qi[i] : p->sensitive[i - p->n_qi];
        if (coh_table_col_find(t, name) < 0)
            return coh_err_set(err, COH_ERR_INVALID, "column '%s' not found", name);
        for (size_t j = 0; j < i; j++) {
            const char *o = j < p->n_qi ? p->qi[j] : p->sensitive[j - p->n_qi];
            if (strcmp(o, name) == 0)
                return coh_err_set(err, COH_ERR_INVALID, "column '%s' is listed twice", name);
        }
    }
    return 0;
}

static int mctx_init(struct mctx *m, const coh_table *t, const coh_kanon_params *p, coh_err *err)
{
    m->t = t;
    m->p = p;
    m->n = t->nrows;
    m->d = p->n_qi;
    m->ns = p->l_kind == COH_LDIV_NONE ? 0 : p->n_sensitive;
    m->stride = m->d + m->ns + 1;
    m->budget = (size_t)(p->max_suppression * (double)m->n + 1e-9);
    m->max_groups = 3;
    size_t max_nodes = 1, max_sdom = 1;
    for (size_t j = 0; j < m->d; j++) {
        m->q[j].col = coh_table_col_find(t, p->qi[j]);
        const coh_hierarchy *h = p->hierarchies ? p->hierarchies[j] : NULL;
        int rc = qdim_init(m, j, h, err);
        if (rc)
            return rc;
        if (h && h->n_nodes > max_nodes)
            max_nodes = h->n_nodes;
    }
    m->max_groups = max_nodes > COH_MONDRIAN_GROUPS ? max_nodes : COH_MONDRIAN_GROUPS;
    for (size_t s = 0; s < m->ns; s++) {
        m->scol[s] = coh_table_col_find(t, p->sensitive[s]);
        uint32_t dom = t->cols[m->scol[s]].dict.n;
        max_sdom = dom > max_sdom ? dom : max_sdom;
        if (!(m->scount[s] = calloc(dom ? dom : 1, 4)))
            return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    size_t n = m->n ? m->n : 1;
    m->rec = coh_sec_alloc(n * m->stride * 4);
    m->tmp = coh_sec_alloc(n * m->stride * 4);
    m->gid = coh_sec_alloc(n * 4);
    m->hist = coh_sec_alloc((n + 1) * 4);
    m->touched = calloc(max_sdom, 4);
    m->off = calloc(2 * (m->max_groups + 1), sizeof *m->off);
    m->hmap = malloc(max_nodes * 4);
    m->gs = coh_sec_alloc((COH_MONDRIAN_GROUPS + 2) * sizeof *m->gs);
    m->suf_w = calloc(COH_MONDRIAN_GROUPS + 1, sizeof *m->suf_w);
    m->suf_n = calloc(COH_MONDRIAN_GROUPS + 1, sizeof *m->suf_n);
    if (!m->rec || !m->tmp || !m->gid || !m->hist || !m->touched || !m->off || !m->hmap || !m->gs ||
        !m->suf_w || !m->suf_n)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    memset(m->hmap, 0xff, max_nodes * 4);
    for (size_t i = 0; i < m->n; i++) {
        uint32_t *r = REC(m, i);
        for (size_t j = 0; j < m->d; j++)
            r[j] = m->q[j].key_of_code[coh_table_code(t, i, (size_t)m->q[j].col)];
        for (size_t s = 0; s < m->ns; s++)
            r[m->d + s] = coh_table_code(t, i, (size_t)m->scol[s]);
        r[m->stride - 1] = (uint32_t)i;
    }
    return 0;
}

int coh_kanon_run(coh_kanon_release **out, const coh_table *t, const coh_kanon_params *p,
                  coh_privacy_progress_fn progress, void *progress_ctx, coh_err *err)
{
    *out = NULL;
    int rc = check_params(t, p, err);
    if (rc)
        return rc;
    struct mctx *m = calloc(1, sizeof *m);
    struct coh_kanon_release *r = calloc(1, sizeof *r);
    if (!m || !r || !(r->col_qi = malloc(t->ncols * sizeof *r->col_qi))) {
        free(m);
        coh_kanon_release_free(r);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    m->progress = progress;
    m->pctx = progress_ctx;
    rc = mctx_init(m, t, p, err);
    if (!rc && !coh_mondrian_side_ok(m, 0, m->n)) {
        if (m->fail_sens < 0)
            rc = coh_err_set(err, COH_ERR_LIMIT,
                             "k=%u cannot be met: the input has only %zu rows; nothing released",
                             p->k, m->n);
        else
            rc = coh_err_set(err, COH_ERR_LIMIT,
                             "%s l-diversity with l=%g cannot be met for column '%s' even by the "
                             "whole table; nothing released",
                             p->l_kind == COH_LDIV_DISTINCT ? "distinct" : "entropy", p->l,
                             p->sensitive[m->fail_sens]);
    }
    if (!rc && (rc = coh_mondrian_partition(m)) != 0)
        rc = coh_err_set(err, rc, "out of memory");
    if (!rc) {
        r->t = t;
        r->k = p->k;
        r->l = p->l;
        r->l_kind = p->l_kind;
        r->mode = p->mode;
        r->max_suppression = p->max_suppression;
        r->n_qi = p->n_qi;
        r->n_sens = p->n_sensitive;
        r->n_rows = m->n;
        for (size_t c = 0; c < t->ncols; c++)
            r->col_qi[c] = -1;
        for (size_t j = 0; j < p->n_qi; j++) {
            const struct qdim *q = &m->q[j];
            r->qi_col[j] = q->col;
            r->col_qi[q->col] = (int)j;
            r->qi_numeric[j] = q->kind == Q_NUM;
            if (q->kind == Q_NUM && !q->grid.none) {
                snprintf(r->grid_step[j], sizeof r->grid_step[j], "%s", q->grid.step_txt);
                snprintf(r->grid_lo[j], sizeof r->grid_lo[j], "%s", q->grid.lo_txt);
                snprintf(r->grid_hi[j], sizeof r->grid_hi[j], "%s", q->grid.hi_txt);
            }
        }
        for (size_t s = 0; s < p->n_sensitive; s++)
            r->sens_col[s] = coh_table_col_find(t, p->sensitive[s]);
        rc = build_release(m, r, err);
    }
    if (progress && !rc)
        progress(progress_ctx, "partitioning", m->n, m->n);
    mctx_free(m);
    free(m);
    if (rc) {
        coh_kanon_release_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
