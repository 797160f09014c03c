/*
 * hierarchy: generalization hierarchies for categorical quasi-identifiers.
 *
 * A hierarchy is a tree given by its leaf-to-root paths, one line per leaf (ARX format).
 * Invariants after parsing: every path has n_levels labels; level n_levels-1 is a single
 * common root; a label at level i has exactly one parent at level i+1 (otherwise the file is
 * rejected, naming the line); leaves are distinct. Nodes are identified by (level, label)
 * and numbered densely; anc[] gives each leaf's ancestor at every level so Mondrian can find
 * a partition's lowest common ancestor with array lookups only.
 * Hierarchies are configuration, not contributor data, so ordinary heap memory is used.
 */
#include "privacy/internal.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hparse {
    coh_hierarchy *h;
    char **fields; /* current line */
    size_t n_fields, cap_fields;
    uint32_t *parent; /* per node, UINT32_MAX for the root level */
    size_t cap_nodes;
    uint32_t *slots; /* hash: node id + 1 */
    size_t n_slots;
    size_t line, cap_leaves;
    int rc;
    coh_err *err;
};

static uint32_t hstr(const char *s, size_t level)
{
    uint32_t h = 2166136261u ^ (uint32_t)level;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int64_t node_lookup(struct hparse *x, const char *label, size_t level, bool add)
{
    coh_hierarchy *h = x->h;
    if (add && (h->n_nodes + 1) * 2 > x->n_slots) {
        size_t ns = x->n_slots ? x->n_slots * 2 : 256;
        uint32_t *s = calloc(ns, sizeof *s);
        if (!s)
            return -1;
        for (size_t n = 0; n < h->n_nodes; n++) {
            size_t i = hstr(h->labels[n], h->node_level[n]) & (ns - 1);
            while (s[i])
                i = (i + 1) & (ns - 1);
            s[i] = (uint32_t)n + 1;
        }
        free(x->slots);
        x->slots = s;
        x->n_slots = ns;
    }
    if (!x->n_slots)
        return -2;
    size_t i = hstr(label, level) & (x->n_slots - 1);
    while (x->slots[i]) {
        uint32_t n = x->slots[i] - 1;
        if (h->node_level[n] == level && strcmp(h->labels[n], label) == 0)
            return n;
        i = (i + 1) & (x->n_slots - 1);
    }
    if (!add)
        return -2;
    if (h->n_nodes == x->cap_nodes) {
        size_t c = x->cap_nodes ? x->cap_nodes * 2 : 64;
        char **l = realloc(h->labels, c * sizeof *l);
        if (l)
            h->labels = l;
        uint32_t *lv = realloc(h->node_level, c * sizeof *lv);
        if (lv)
            h->node_level = lv;
        uint32_t *p = realloc(x->parent, c * sizeof *p);
        if (p)
            x->parent = p;
        if (!l || !lv || !p)
            return -1;
        x->cap_nodes = c;
    }
    size_t n = h->n_nodes;
    if (!(h->labels[n] = strdup(label)))
        return -1;
    h->node_level[n] = (uint32_t)level;
    x->parent[n] = UINT32_MAX;
    h->n_nodes++;
    x->slots[i] = (uint32_t)n + 1;
    return (int64_t)n;
}

static void hp_field(void *data, size_t len, void *vx)
{
    struct hparse *x = vx;
    if (x->rc)
        return;
    if (x->n_fields == x->cap_fields) {
        size_t c = x->cap_fields ? x->cap_fields * 2 : 8;
        char **f = realloc(x->fields, c * sizeof *f);
        if (!f) {
            x->rc = coh_err_set(x->err, COH_ERR_NOMEM, "out of memory");
            return;
        }
        x->fields = f;
        x->cap_fields = c;
    }
    if (!(x->fields[x->n_fields] = strndup(data ? data : "", len))) {
        x->rc = coh_err_set(x->err, COH_ERR_NOMEM, "out of memory");
        return;
    }
    x->n_fields++;
}

static int hp_line(struct hparse *x)
{
    coh_hierarchy *h = x->h;
    size_t L = x->n_fields;
    if (L < 2)
        return coh_err_set(x->err, COH_ERR_INVALID,
                           "hierarchy line %zu: needs a value and at "
                           "least one ancestor",
                           x->line);
    if (h->n_levels == 0)
        h->n_levels = L;
    if (L != h->n_levels)
        return coh_err_set(x->err, COH_ERR_INVALID,
                           "hierarchy line %zu: %zu levels, the first line has %zu", x->line, L,
                           h->n_levels);
    if (node_lookup(x, x->fields[0], 0, false) >= 0)
        return coh_err_set(x->err, COH_ERR_INVALID, "hierarchy line %zu: duplicate leaf", x->line);
    if (h->n_leaves == x->cap_leaves) {
        size_t c = x->cap_leaves ? x->cap_leaves * 2 : 64;
        uint32_t *a = realloc(h->anc, c * L * sizeof *a);
        if (!a)
            return coh_err_set(x->err, COH_ERR_NOMEM, "out of memory");
        h->anc = a;
        x->cap_leaves = c;
    }
    uint32_t *anc = h->anc + h->n_leaves * L;
    for (size_t lv = 0; lv < L; lv++) {
        int64_t n = node_lookup(x, x->fields[lv], lv, true);
        if (n < 0)
            return coh_err_set(x->err, COH_ERR_NOMEM, "out of memory");
        anc[lv] = (uint32_t)n;
    }
    for (size_t lv = 0; lv + 1 < L; lv++) {
        uint32_t *p = &x->parent[anc[lv]];
        if (*p != UINT32_MAX && *p != anc[lv + 1])
            return coh_err_set(x->err, COH_ERR_INVALID,
                               "hierarchy line %zu: level %zu label has two different parents",
                               x->line, lv + 1);
        *p = anc[lv + 1];
    }
    if (anc[L - 1] != h->anc[L - 1])
        return coh_err_set(x->err, COH_ERR_INVALID,
                           "hierarchy line %zu: root differs from the first line", x->line);
    h->n_leaves++;
    return 0;
}

static void hp_row(int c, void *vx)
{
    (void)c;
    struct hparse *x = vx;
    if (!x->rc && x->n_fields > 0 && !(x->n_fields == 1 && x->fields[0][0] == 0))
        x->rc = hp_line(x);
    for (size_t i = 0; i < x->n_fields; i++)
        free(x->fields[i]);
    x->n_fields = 0;
    x->line++;
}

int coh_hierarchy_parse(coh_hierarchy **out, const char *text, size_t len, coh_err *err)
{
    *out = NULL;
    struct hparse x = {.line = 1, .err = err};
    if (!(x.h = calloc(1, sizeof *x.h)))
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    const char *nl = memchr(text, '\n', len);
    size_t first = nl ? (size_t)(nl - text) : len;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        free(x.h);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    if (memchr(text, ';', first))
        csv_set_delim(&p, ';');
    if (csv_parse(&p, text, len, hp_field, hp_row, &x) != len && !x.rc)
        x.rc = coh_err_set(err, COH_ERR_INVALID, "hierarchy line %zu: malformed", x.line);
    if (!x.rc && csv_fini(&p, hp_field, hp_row, &x) != 0 && !x.rc)
        x.rc = coh_err_set(err, COH_ERR_INVALID, "hierarchy line %zu: malformed", x.line);
    csv_free(&p);
    for (size_t i = 0; i < x.n_fields; i++)
        free(x.fields[i]);
    free(x.fields);
    free(x.slots);
    free(x.parent);
    if (!x.rc && x.h->n_leaves == 0)
        x.rc = coh_err_set(err, COH_ERR_INVALID, "hierarchy is empty");
    if (!x.rc && !(x.h->n_under = calloc(x.h->n_nodes, sizeof *x.h->n_under)))
        x.rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    if (x.rc) {
        coh_hierarchy_free(x.h);
        return x.rc;
    }
    for (size_t i = 0; i < x.h->n_leaves; i++)
        for (size_t lv = 0; lv < x.h->n_levels; lv++)
            x.h->n_under[x.h->anc[i * x.h->n_levels + lv]]++;
    *out = x.h;
    return 0;
}

int coh_hierarchy_load(coh_hierarchy **out, const char *path, coh_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return coh_err_set(err, COH_ERR_IO, "cannot open hierarchy '%s': %s", path,
                           strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[8192];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > cap) {
            cap = (len + n) * 2;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
            }
            buf = b;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    int rc = coh_hierarchy_parse(out, buf ? buf : "", len, err);
    free(buf);
    return rc;
}

void coh_hierarchy_free(coh_hierarchy *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_nodes; i++)
        free(h->labels[i]);
    free(h->labels);
    free(h->anc);
    free(h->n_under);
    free(h->node_level);
    free(h);
}

long coh_hierarchy_leaf_find(const coh_hierarchy *h, const char *s)
{
    /* a linear scan is fine: called once per distinct data value when Mondrian starts */
    for (size_t i = 0; i < h->n_leaves; i++)
        if (strcmp(h->labels[h->anc[i * h->n_levels]], s) == 0)
            return (long)i;
    return -1;
}
