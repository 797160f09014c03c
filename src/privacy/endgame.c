/*
 * endgame: the two phases of Mondrian (mondrian.c) that work on whole classes rather than
 * on cuts.
 *
 * The last QI (coh_mondrian_split_1d): once a single QI is left to cut, binary cuts are not
 * enough; they may cut a run of sparse keys badly. Its keys (strict) or its rows in key order
 * (relaxed) are segmented into valid classes by dynamic programming, which finds the
 * segmentation of least loss exactly.
 *
 * Suppression (coh_mondrian_suppress): once no partition can be split, each class's best cut
 * that withholds fewer than k rows on one side is priced: rows withheld * n_qi (a withheld
 * row counts NCP 1 per QI, as ARX counts it) plus the loss of what is kept, against the
 * class's loss. Only cuts that lower the loss are taken, in order of gain per row withheld,
 * while the allowance lasts; what each class keeps goes back to the partitioner, and rounds
 * repeat until nothing gains. So an allowance is spent only where it buys utility, and a
 * release with an allowance never has a higher loss than the same release without one.
 */
#include "privacy/mondrian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUPP_ROUNDS 32 /* suppression rounds, at most */

/*
 * Relaxed mode: rows of one key may go to different classes, so the runs are runs of rows in
 * key order. A run never needs 2k rows or more without l-diversity (it could be cut in two
 * runs of >= k at no cost), nor, with it, more than 4k or the whole partition (maxw). When
 * rows * maxw would be too much work, the runs of keys of strict mode are used instead.
 */
static int split_1d_rows(struct mctx *m, size_t a, size_t b, size_t j, uint32_t lo, size_t span,
                         size_t maxw, struct search *se)
{
    const struct qdim *q = &m->q[j];
    size_t n = b - a, W = se->sc.width, k = m->p->k;
    /* rows in key order; dense[key - lo]: rank among the keys present (Q_SET widths) */
    uint32_t *dense = m->suf_n;
    memset(dense, 0, span * sizeof *dense);
    for (size_t i = a; i < b; i++) {
        m->gid[i - a] = REC(m, i)[j] - lo;
        dense[m->gid[i - a]] = 1;
    }
    for (size_t g = 0, r = 0; g < span; g++)
        if (dense[g])
            dense[g] = (uint32_t)r++;
    coh_mondrian_scatter(m, a, b, span);
    double *best = malloc((n + 1) * sizeof *best);
    uint32_t *from = m->hist;
    uint32_t *run = se->scnt;
    if (!best)
        return COH_ERR_NOMEM;
    best[0] = 0;
    double w0 = se->act.w0;
    for (size_t e = 1; e <= n; e++) {
        best[e] = INFINITY;
        if (W)
            memset(run, 0, W * 4);
        uint32_t hi = REC(m, a + e - 1)[j];
        size_t smin = e > maxw ? e - maxw : 0;
        for (size_t s0 = e; s0-- > smin;) {
            const uint32_t *r = REC(m, a + s0);
            for (size_t x = 0; x < se->sc.n; x++)
                run[se->sc.off[x] + r[m->d + se->sc.idx[x]]]++;
            size_t len = e - s0;
            if (len < k || !(best[s0] < INFINITY) ||
                !coh_mondrian_ldiv_ok(m, &se->sc, run, (double)len))
                continue;
            double w = q->kind == Q_NUM
                           ? q->nhi[hi] - q->nlo[r[j]]
                           : (double)(dense[hi - lo] - dense[r[j] - lo]) / (q->n_keys - 1);
            double c = best[s0] + (double)len * (w + w0);
            if (c < best[e] - 1e-12) {
                best[e] = c;
                from[e] = (uint32_t)s0;
            }
        }
    }
    bool split = best[n] < INFINITY && from[n] != 0;
    free(best);
    if (!split)
        return 0;
    for (size_t e = n; e > 0; e = from[e]) {
        if (coh_mondrian_push(&m->classes, &m->n_classes, &m->cap_classes, a + from[e], a + e))
            return COH_ERR_NOMEM;
        coh_mondrian_advance(m, e - from[e]);
    }
    return 1;
}

/*
 * The end game: when one QI is left to cut (every other one holds a single key), the best
 * segmentation of that QI's keys into runs that are valid classes is found exactly by dynamic
 * programming over the runs (cost of a run: rows * (NCP of its keys + the other QIs' NCP)),
 * which no sequence of binary cuts can beat. Used when l-diversity, if any, can be checked on
 * counts; the runs become classes at once. Returns 1 if it split, 0 if not, < 0 on error.
 */
int coh_mondrian_split_1d(struct mctx *m, size_t a, size_t b, const struct psum *ps,
                          struct search *se)
{
    if (se->act.n != 1 || se->sc.n != m->ns)
        return 0;
    size_t j = se->act.dim[0];
    const struct qdim *q = &m->q[j];
    uint32_t lo = ps->lo[j];
    size_t span = (size_t)(ps->hi[j] - lo) + 1, W = se->sc.width;
    if (q->kind == Q_HIER || span > COH_MONDRIAN_GROUPS)
        return 0;
    size_t k = m->p->k, maxw = m->p->l_kind == COH_LDIV_NONE ? 2 * k - 1 : 4 * k;
    if (m->p->mode == COH_KANON_RELAXED && (double)(b - a) * (double)maxw * (double)(W + 1) <= 1e8)
        return split_1d_rows(m, a, b, j, lo, span, maxw, se);
    if (span * span * (W + 1) > (1u << 26)) /* a bound on the work; binary cuts then */
        return 0;
    /* rows and sensitive counts per key; keys present, densely numbered */
    uint32_t *cnt = m->suf_n, *from = se->from; /* from[g]: start of the last run of best[g] */
    memset(cnt, 0, span * sizeof *cnt);
    if (W)
        memset(se->scnt, 0, (span + 1) * W * 4);
    for (size_t i = a; i < b; i++) {
        const uint32_t *r = REC(m, i);
        size_t g = r[j] - lo;
        cnt[g]++;
        for (size_t x = 0; x < se->sc.n; x++)
            se->scnt[g * W + se->sc.off[x] + r[m->d + se->sc.idx[x]]]++;
    }
    size_t G = 0;
    uint32_t gkey[COH_MONDRIAN_GROUPS], gn[COH_MONDRIAN_GROUPS];
    for (size_t g = 0; g < span; g++)
        if (cnt[g]) {
            if (W && G != g)
                memcpy(se->scnt + G * W, se->scnt + g * W, W * 4);
            gkey[G] = lo + (uint32_t)g;
            gn[G++] = cnt[g];
        }
    double *best = m->suf_w; /* best[g]: loss of the best segmentation of runs 0..g-1 */
    uint32_t *run = se->scnt + (span)*W;
    best[0] = 0;
    double kq = (double)m->p->k, w0 = se->act.w0;
    for (size_t e = 1; e <= G; e++) {
        best[e] = INFINITY;
        double n = 0;
        if (W)
            memset(run, 0, W * 4);
        for (size_t s0 = e; s0-- > 0;) {
            n += gn[s0];
            for (size_t v = 0; v < W; v++)
                run[v] += se->scnt[s0 * W + v];
            if (n < kq || !(best[s0] < INFINITY) || !coh_mondrian_ldiv_ok(m, &se->sc, run, n))
                continue;
            double w = q->kind == Q_NUM ? q->nhi[gkey[e - 1]] - q->nlo[gkey[s0]]
                                        : (double)(e - 1 - s0) / (q->n_keys - 1);
            double c = best[s0] + n * (w + w0);
            if (c < best[e] - 1e-12) {
                best[e] = c;
                from[e] = (uint32_t)s0;
            }
        }
    }
    if (!(best[G] < INFINITY) || from[G] == 0)
        return 0; /* the whole partition is the best (or only) class */
    /* number the runs from the right, then regroup the rows by run */
    size_t nruns = 0;
    for (size_t e = G; e > 0; e = from[e])
        nruns++;
    if (nruns > m->max_groups)
        return 0;
    size_t r = nruns;
    for (size_t e = G; e > 0; e = from[e]) {
        r--;
        for (size_t g = from[e]; g < e; g++)
            cnt[gkey[g] - lo] = (uint32_t)r;
    }
    for (size_t i = a; i < b; i++)
        m->gid[i - a] = cnt[REC(m, i)[j] - lo];
    coh_mondrian_scatter(m, a, b, nruns);
    for (size_t g = 0; g < nruns; g++) {
        if (coh_mondrian_push(&m->classes, &m->n_classes, &m->cap_classes, a + m->off[g],
                              a + m->off[g + 1]))
            return COH_ERR_NOMEM;
        coh_mondrian_advance(m, m->off[g + 1] - m->off[g]);
    }
    return 1;
}

/* A priced suppression for class c, for the ranking of one suppression round. */
struct supp_pick {
    double gain_per_row;
    size_t cls;
    struct cand c;
    size_t bad;
};

static int cmp_pick(const void *x, const void *y)
{
    const struct supp_pick *a = x, *b = y;
    return (a->gain_per_row < b->gain_per_row) - (a->gain_per_row > b->gain_per_row);
}

/* The best suppression of one class: its cheapest priced cut that lowers the loss. */
static bool supp_price(struct mctx *m, struct search *se, size_t a, size_t b, struct supp_pick *out)
{
    struct psum ps;
    coh_mondrian_summarize(m, a, b, &ps);
    if (ps.wsum <= 0)
        return false;
    coh_mondrian_search_init(m, a, b, &ps, se, true);
    struct cands cs = {0};
    coh_mondrian_collect(m, a, b, &ps, se, &cs);
    if (!cs.n)
        return false;
    /* rows withheld by the cheapest, counted on the keys */
    const struct cand *c = &cs.c[0];
    size_t bad = 0;
    if (c->kind == C_HIER) {
        size_t ng = coh_mondrian_hier_groups(m, a, b, c->j, &ps);
        memset(m->hist, 0, (ng + 1) * 4);
        for (size_t i = a; i < b; i++)
            m->hist[m->gid[i - a]]++;
        for (size_t g = 0; g < ng; g++)
            if (m->hist[g] < m->p->k)
                bad += m->hist[g];
    } else {
        for (size_t i = a; i < b; i++) {
            bool left = REC(m, i)[c->j] <= c->t;
            bad += c->kind == C_SUPP_LEFT ? left : !left;
        }
    }
    if (!bad)
        return false;
    out->gain_per_row = (se->leaf - c->cost) / (double)bad;
    out->c = *c;
    out->bad = bad;
    return true;
}

/* Suppression rounds: the cuts that lower the loss most per row withheld, while the
 * allowance lasts; what is kept goes back to the partitioner. */
int coh_mondrian_suppress(struct mctx *m, struct search *se)
{
    for (int round = 0; round < SUPP_ROUNDS && m->budget > 0; round++) {
        struct supp_pick *picks = malloc((m->n_classes + 1) * sizeof *picks);
        if (!picks)
            return COH_ERR_NOMEM;
        size_t np = 0;
        for (size_t c = 0; c < m->n_classes; c++) {
            struct range r = m->classes[c];
            if (supp_price(m, se, r.a, r.b, &picks[np])) {
                picks[np].cls = c;
                np++;
            }
        }
        qsort(picks, np, sizeof *picks, cmp_pick);
        size_t taken = 0;
        for (size_t i = 0; i < np && m->budget > 0; i++) {
            if (picks[i].bad > m->budget)
                continue;
            struct range r = m->classes[picks[i].cls], w;
            struct psum ps;
            coh_mondrian_summarize(m, r.a, r.b, &ps);
            int rc = coh_mondrian_try_cand(m, r.a, r.b, &picks[i].c, &ps, &w);
            if (rc < 0) {
                free(picks);
                return rc;
            }
            if (rc == 1) {
                m->classes[picks[i].cls].b = m->classes[picks[i].cls].a; /* emptied */
                taken++;
            }
        }
        free(picks);
        /* drop emptied classes, then split what was kept */
        size_t o = 0;
        for (size_t c = 0; c < m->n_classes; c++)
            if (m->classes[c].b > m->classes[c].a)
                m->classes[o++] = m->classes[c];
        m->n_classes = o;
        if (!taken)
            break;
        int rc = coh_mondrian_drain(m, se);
        if (rc)
            return rc;
    }
    return 0;
}
