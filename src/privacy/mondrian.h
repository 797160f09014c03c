/*
 * privacy/mondrian.h: the Mondrian working state shared by mondrian.c (partitioning) and
 * kanon.c (set-up, rendering, the public entry point). Not installed.
 */
#ifndef COH_PRIVACY_MONDRIAN_H
#define COH_PRIVACY_MONDRIAN_H

#include "privacy/internal.h"

enum qkind { Q_NUM, Q_SET, Q_HIER };

struct qdim {
    int col;
    enum qkind kind;
    uint32_t *key_of_code; /* secure: dictionary code -> key */
    uint32_t n_keys;
    int64_t *rank_val;  /* secure, Q_NUM: scaled value of each rank */
    uint32_t *key_code; /* secure, Q_SET: dictionary code of each key */
    uint32_t *stamp;    /* Q_SET: summary id that last saw each key */
    const coh_hierarchy *h;
    double range; /* Q_NUM: column max - min as a double, for widths only */
};

struct range {
    size_t a, b;
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
    size_t budget; /* rows that may still be suppressed */
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
    double w[COH_KANON_MAX_QI];
};

static inline uint32_t *REC(struct mctx *m, size_t i)
{
    return m->rec + i * m->stride;
}

/* Is [a,b) a valid class (>= k rows, l-diverse)? Sets m->fail_sens on an l failure. */
bool coh_mondrian_side_ok(struct mctx *m, size_t a, size_t b);
/* Per-QI bounds, lowest common ancestors and normalized widths of [a,b). */
void coh_mondrian_summarize(struct mctx *m, size_t a, size_t b, struct psum *ps);
/* Partitions the whole record array into m->classes; 0 or COH_ERR_NOMEM. */
int coh_mondrian_partition(struct mctx *m);

#endif
