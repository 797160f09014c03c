/*
 * privacy/mondrian.h: the Mondrian working state shared by mondrian.c (partitioning),
 * endgame.c (the last QI's exact segmentation, suppression), grid.c (numeric grids) and
 * kanon.c (set-up, rendering, the public entry point). Not installed.
 */
#ifndef COH_PRIVACY_MONDRIAN_H
#define COH_PRIVACY_MONDRIAN_H

#include "privacy/internal.h"

/* ---- numeric grids (grid.c) ------------------------------------------------------------ */
struct coh_grid {
    bool none;    /* no grid: cells are the values themselves */
    bool bounded; /* lo and hi are grid points and bound the values */
    int scale;    /* lo, hi, step and cell ends are value * 10^scale */
    int64_t lo, hi, step;
    char step_txt[32], lo_txt[48], hi_txt[48]; /* for the report */
};
/* Resolves a declaration (NULL: default) for numeric column col whose values span
 * [dmin, dmax] (at col->scale; used only for the default step without bounds). */
COH_WUR int coh_grid_resolve(struct coh_grid *g, const struct coh_col *col,
                             const coh_kanon_grid *decl, int64_t dmin, int64_t dmax, coh_err *err);
/* The smallest grid cell holding v (at g->scale): [lo,lo] for a grid point, else the open
 * cell (lo,hi) between grid points. false when v lies outside the grid's bounds. */
bool coh_grid_cell(const struct coh_grid *g, int64_t v, int64_t *lo, int64_t *hi);
/* v * 10^(to - from) with headroom for adding a step; false on overflow. */
bool coh_grid_rescale(int64_t *out, int64_t v, int from, int to);

/* ---- Mondrian ---------------------------------------------------------------------------- */
enum qkind { Q_NUM, Q_SET, Q_HIER };

struct qdim {
    int col;
    enum qkind kind;
    uint32_t *key_of_code; /* secure: dictionary code -> key */
    uint32_t n_keys;
    /* Q_NUM: keys are grid cells in value order; cell_lo/hi are their ends at grid.scale
       (equal for a point), nlo/nhi the ends clipped to the column's range and normalized
       to [0,1], so the NCP of keys [a,b] is nhi[b] - nlo[a] */
    int64_t *cell_lo, *cell_hi; /* secure */
    double *nlo, *nhi;          /* secure */
    struct coh_grid grid;
    uint32_t *key_code; /* secure, Q_SET: dictionary code of each key */
    uint32_t *stamp;    /* Q_SET: summary id that last saw each key */
    const coh_hierarchy *h;
};

struct range {
    size_t a, b;
};

/* Split search scratch: per group (a key, a run of keys or a hierarchy child) of the QI
   being cut, the summary of every QI over the group's rows. */
#define COH_MONDRIAN_GROUPS 1024
struct gstat {
    uint32_t n;
    uint32_t lo[COH_KANON_MAX_QI], hi[COH_KANON_MAX_QI]; /* ordered keys; Q_HIER: lo = a leaf */
    uint64_t mask[COH_KANON_MAX_QI]; /* Q_SET with <= 64 keys: the keys present */
    uint32_t lv[COH_KANON_MAX_QI];   /* Q_HIER: level of the lowest common ancestor */
};

struct mctx {
    const coh_table *t;
    const coh_kanon_params *p;
    size_t n, d, ns, stride;
    struct qdim q[COH_KANON_MAX_QI];
    int scol[COH_KANON_MAX_SENS];
    uint32_t *scount[COH_KANON_MAX_SENS]; /* per sensitive code, zero between uses */
    uint32_t *rec, *tmp;                  /* secure, n * stride */
    uint32_t *gid;                        /* secure, n: group of each record in a split */
    uint32_t *hist;                       /* secure, n + 1: key histogram / select scratch */
    uint32_t *touched;                    /* sensitive codes seen in a side */
    size_t *off;                          /* group offsets, max groups + 1 */
    uint32_t *hmap;                       /* hierarchy node -> dense group, UINT32_MAX unset */
    size_t max_groups;
    struct gstat *gs; /* secure, COH_MONDRIAN_GROUPS + 2 (the last two: running sides) */
    double *suf_w;    /* COH_MONDRIAN_GROUPS + 1: width sum of groups g.. */
    uint32_t *suf_n;  /* COH_MONDRIAN_GROUPS + 1: rows in groups g.. */
    size_t budget;    /* rows that may still be suppressed */
    size_t suppressed;
    uint32_t stamp_id;
    struct range *stack, *classes;
    size_t n_stack, cap_stack, n_classes, cap_classes;
    size_t done, next_report;
    coh_privacy_progress_fn progress;
    void *pctx;
    int fail_sens; /* sensitive index that failed the last side check, or -1 */
};

struct psum {
    uint32_t lo[COH_KANON_MAX_QI], hi[COH_KANON_MAX_QI];
    uint32_t lv[COH_KANON_MAX_QI]; /* Q_HIER: level of the lowest common ancestor */
    double w[COH_KANON_MAX_QI];    /* NCP of the QI over the partition */
    bool split[COH_KANON_MAX_QI];  /* more than one key: the QI can be cut */
    double wsum;                   /* sum of w */
};

static inline uint32_t *REC(struct mctx *m, size_t i)
{
    return m->rec + i * m->stride;
}

/* Is [a,b) a valid class (>= k rows, l-diverse)? Sets m->fail_sens on an l failure. */
bool coh_mondrian_side_ok(struct mctx *m, size_t a, size_t b);
/* Per-QI bounds, lowest common ancestors and NCP of [a,b). */
void coh_mondrian_summarize(struct mctx *m, size_t a, size_t b, struct psum *ps);
/* Partitions the whole record array into m->classes; 0 or COH_ERR_NOMEM. */
int coh_mondrian_partition(struct mctx *m);

/* ---- split search (mondrian.c) and end game (endgame.c) --------------------------------- */
#define NCAND 8 /* cheapest cuts kept per search */

/* The QIs a split search tracks: those with more than one key in the partition. */
struct active {
    size_t n;
    uint8_t dim[COH_KANON_MAX_QI];
    double w0; /* NCP sum of the other QIs: the same on both sides of any cut */
};

/* Sensitive columns with at most 64 values, whose l-diversity is checked on counts. */
struct scounts {
    size_t n;                       /* sensitive columns counted */
    size_t idx[COH_KANON_MAX_SENS]; /* which */
    size_t off[COH_KANON_MAX_SENS]; /* their offsets in a row of counts */
    size_t dom[COH_KANON_MAX_SENS];
    size_t width; /* counts per group */
};

/* A priced cut: a plain cut, a cut withholding the side below k, or a hierarchy split. */
enum ckind { C_CUT, C_SUPP_LEFT, C_SUPP_RIGHT, C_HIER };

struct cand {
    double cost;
    enum ckind kind;
    size_t j;
    uint32_t t; /* C_CUT / C_SUPP_*: left side = keys <= t */
};

struct cands {
    size_t n;
    struct cand c[NCAND];
};

/* The state of one split search (pricing scratch beside mctx's). */
struct search {
    struct active act;
    struct scounts sc;
    uint32_t *scnt;                         /* (COH_MONDRIAN_GROUPS + 2) * sc.width counts */
    size_t step;                            /* sample every step-th row */
    double scale;                           /* rows per sampled row */
    bool supp;                              /* pricing suppression cuts rather than valid cuts */
    double leaf;                            /* suppression: the loss of the partition kept whole */
    uint32_t from[COH_MONDRIAN_GROUPS + 1]; /* split_1d's back pointers */
};

/* Regroups [a,b) by m->gid (values < ng); group g ends up at [a+off[g], a+off[g+1]). */
void coh_mondrian_scatter(struct mctx *m, size_t a, size_t b, size_t ng);
/* Appends the range [a,b) to a growable array; 0 or COH_ERR_NOMEM. */
int coh_mondrian_push(struct range **v, size_t *n, size_t *cap, size_t a, size_t b);
/* Counts rows settled (classes or withheld) for the progress callback. */
void coh_mondrian_advance(struct mctx *m, size_t rows);
/* l-diversity of n rows with sensitive counts cnt (laid out as in sc). */
bool coh_mondrian_ldiv_ok(const struct mctx *m, const struct scounts *sc, const uint32_t *cnt,
                          double n);
/* Groups [a,b) by the child of hierarchy QI j's lowest common ancestor (into m->gid). */
size_t coh_mondrian_hier_groups(struct mctx *m, size_t a, size_t b, size_t j,
                                const struct psum *ps);
/* Sets se up for [a,b): active QIs, sampling; supp: price suppressions, not cuts. */
void coh_mondrian_search_init(struct mctx *m, size_t a, size_t b, const struct psum *ps,
                              struct search *se, bool supp);
/* Prices every cut of [a,b) on every active QI, keeping the cheapest in cs. */
void coh_mondrian_collect(struct mctx *m, size_t a, size_t b, const struct psum *ps,
                          struct search *se, struct cands *cs);
/* Applies a priced cut if its sides are valid (a suppression only if it lowers the loss);
 * 1 if taken (sides pushed on the stack; *withheld the rows withheld), 0 if not, < 0 error. */
int coh_mondrian_try_cand(struct mctx *m, size_t a, size_t b, const struct cand *c,
                          const struct psum *ps, struct range *withheld);
/* Splits everything on the stack down to classes. */
int coh_mondrian_drain(struct mctx *m, struct search *se);
/* The end game (endgame.c): exact segmentation when one QI is left to cut; 1 if it split
 * (the runs are appended to the classes), 0 if not, < 0 on error. */
int coh_mondrian_split_1d(struct mctx *m, size_t a, size_t b, const struct psum *ps,
                          struct search *se);
/* Suppression rounds over the classes (endgame.c); 0 or COH_ERR_NOMEM. */
int coh_mondrian_suppress(struct mctx *m, struct search *se);

#endif
