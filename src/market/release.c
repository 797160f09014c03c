/*
 * release: runs a request's privacy mode over the decrypted table and renders what the
 * researcher receives: k-anonymous microdata as CSV with its report, or DP statistics as JSON.
 * The released content is protected output, safe for the ordinary heap; the table it comes
 * from lives in secure memory and is freed by the caller.
 */
#include "market/market.h"
#include "market/dp_request.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
    char *p;
    size_t n, cap;
};

static int sb_put(struct sbuf *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + len;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
    return 0;
}

/* RFC 4180: quote cells holding a comma, quote, CR, LF or a set's braces. */
static int sb_cell(struct sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n{}"))
        return sb_put(b, s, strlen(s));
    int rc = sb_put(b, "\"", 1);
    for (const char *q = s; !rc && *q; q++)
        rc = *q == '"' ? sb_put(b, "\"\"", 2) : sb_put(b, q, 1);
    return rc || sb_put(b, "\"", 1);
}

/*
 * k-anonymity over the request's schema, never below the operator's floors.
 *
 * No column leaves unprotected (DESIGN, "Privacy engine"): every field is a quasi-identifier,
 * generalized, or sensitive, protected by l-diversity. Creation refuses `measure` outside DP
 * (spec.c), but a request stored before that rule may still hold measure fields: they are
 * released as quasi-identifiers, generalized like any other, never copied as given (the
 * report lists them under "measures_generalized"); so is a stored "sensitive" field that is
 * not a category of at most COH_MARKET_SENSITIVE_MAX_CATEGORIES values, since a sensitive value
 * is released as given.
 *
 * The stored privacy terms are raised to the floors, never lowered: k to floors->min_k; every
 * sensitive field gets l-diversity with l >= floors->min_l (distinct when the request asked
 * for none). Numeric quasi-identifiers are released on the grid of their schema bounds and
 * granularity. Suppression, up to the request's max_suppression, is used only where it lowers
 * the loss (privacy.h); every row is paid whether released or not, and *rows lists the
 * released ones.
 */
static int kanon(json_t **out, size_t **rows, size_t *n_rows, const coh_table *t,
                 const coh_market_schema *s, const json_t *privacy,
                 const coh_market_floors *floors, coh_err *err)
{
    coh_market_floors dflt;
    if (!floors) {
        coh_market_floors_default(&dflt);
        floors = &dflt;
    }
    const char *qi[32], *sens[32];
    coh_kanon_grid grids[32];
    json_t *measures = json_array();
    if (!measures)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    size_t n_qi = 0, n_sens = 0, nf = coh_market_schema_fields(s);
    for (size_t i = 0; i < nf && i < 32; i++) {
        enum coh_market_field_role role = coh_market_schema_field_role(s, i);
        const char *name = coh_market_schema_field_name(s, i);
        /* A sensitive value is released as given: only a category of few values may be (a
         * stored request's numeric or many-valued "sensitive" field is generalized instead). */
        const char *const *cats = NULL;
        int small_category = coh_market_schema_field_type(s, i) == COH_FIELD_CATEGORY &&
                             coh_market_schema_field_categories(s, i, &cats) <=
                                 COH_MARKET_SENSITIVE_MAX_CATEGORIES;
        if (role == COH_ROLE_SENSITIVE && small_category) {
            sens[n_sens++] = name;
            continue;
        }
        if (role != COH_ROLE_QUASI) /* a legacy request's measure or wide sensitive field */
            json_array_append_new(measures, json_string(name));
        grids[n_qi] = (coh_kanon_grid){0};
        if (coh_market_schema_field_type(s, i) != COH_FIELD_CATEGORY)
            grids[n_qi] = (coh_kanon_grid){.lo = coh_market_schema_field_min(s, i),
                                           .hi = coh_market_schema_field_max(s, i),
                                           .step = coh_market_schema_field_granularity(s, i)};
        qi[n_qi++] = name;
    }
    /* l_kind none or absent (a legacy request): distinct l-diversity at the floor */
    const char *lk = json_string_value(json_object_get(privacy, "l_kind"));
    bool asked = lk && (strcmp(lk, "distinct") == 0 || strcmp(lk, "entropy") == 0);
    enum coh_ldiv_kind kind = asked && strcmp(lk, "entropy") == 0 ? COH_LDIV_ENTROPY
                                                                   : COH_LDIV_DISTINCT;
    double l = asked ? json_number_value(json_object_get(privacy, "l")) : 0;
    if (!(l >= floors->min_l))
        l = floors->min_l;
    if (!(l >= 1))
        l = 1;
    json_int_t k = json_integer_value(json_object_get(privacy, "k"));
    if (k < (json_int_t)floors->min_k)
        k = (json_int_t)floors->min_k;
    double supp = json_number_value(json_object_get(privacy, "max_suppression"));
    coh_kanon_params kp = {
        .qi = qi,
        .n_qi = n_qi,
        .grids = grids,
        .sensitive = sens,
        .n_sensitive = n_sens,
        .k = k > 1000000000 ? 1000000000u : (unsigned)k,
        .l = l,
        .l_kind = n_sens ? kind : COH_LDIV_NONE,
        .max_suppression = supp >= 0 && supp < 1 ? supp : 0,
        .mode = COH_KANON_STRICT,
    };
    coh_kanon_release *r;
    int rc = coh_kanon_run(&r, t, &kp, NULL, NULL, err);
    if (rc) {
        json_decref(measures);
        return rc;
    }
    size_t nr = coh_kanon_release_rows(r), nc = coh_table_cols(t);
    struct sbuf b = {0};
    for (size_t c = 0; c < nc && !rc; c++)
        rc = (c && sb_put(&b, ",", 1)) || sb_cell(&b, coh_table_col_name(t, c));
    rc = rc || sb_put(&b, "\r\n", 2);
    *rows = malloc((nr ? nr : 1) * sizeof **rows);
    if (!*rows)
        rc = -1;
    for (size_t i = 0; i < nr && !rc; i++) {
        for (size_t c = 0; c < nc && !rc; c++)
            rc = (c && sb_put(&b, ",", 1)) || sb_cell(&b, coh_kanon_release_cell(r, i, c));
        rc = rc || sb_put(&b, "\r\n", 2);
        (*rows)[i] = coh_kanon_release_source_row(r, i);
    }
    *n_rows = nr;
    json_t *report = coh_kanon_release_report(r);
    coh_kanon_release_free(r);
    if (report && json_array_size(measures))
        json_object_set(report, "measures_generalized", measures);
    json_decref(measures);
    if (rc || !report) {
        free(b.p);
        free(*rows);
        *rows = NULL;
        json_decref(report);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory rendering the release");
    }
    *out = json_pack("{s:s,s:s,s:s%,s:o}", "mode", "k-anonymity", "content_type", "text/csv",
                     "content", b.p, b.n, "report", report);
    free(b.p);
    return *out ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}

/* a <= b exactly */
static bool rat_le(coh_rational a, coh_rational b)
{
    return (unsigned __int128)a.num * b.den <= (unsigned __int128)b.num * a.den;
}

/*
 * Differential privacy over the request's schema, never beyond the operator's floors: a
 * request stored before a floor was lowered or raised is held to today's (epsilon, delta and
 * the smallest cohort). The refusals name the floor, never a fact about the contributors. The
 * release holds the noisy statistics and public parameters only: no exact count of the rows
 * (a count is a query like any other). check_only (at creation, over an empty table) skips the
 * cohort floor.
 */
static int dp(json_t **out, size_t **rows, size_t *n_rows, const coh_table *t,
              const coh_market_schema *s, const json_t *privacy, const coh_market_floors *floors,
              const coh_rational *remaining, bool check_only, coh_err *err)
{
    coh_market_floors dflt;
    if (!floors) {
        coh_market_floors_default(&dflt);
        floors = &dflt;
    }
    struct coh_market_dp_req R;
    int rc = coh_market_dp_req_init(&R, s, privacy, err);
    if (rc)
        return rc;
    const coh_dp_request *req = &R.req;
    size_t nr = coh_table_rows(t);
    if (!rat_le(req->epsilon, floors->max_epsilon))
        return coh_err_set(err, COH_ERR_LIMIT,
                           "refused: epsilon is above the operator's floor (privacy_max_epsilon)");
    if (!(req->delta * (double)floors->max_delta.den <=
          (double)floors->max_delta.num * (1 + 1e-12)))
        return coh_err_set(err, COH_ERR_LIMIT,
                           "refused: delta is above the operator's floor (privacy_max_delta)");
    if (!check_only && nr < floors->min_dp_contributors)
        return coh_err_set(err, COH_ERR_LIMIT,
                           "refused: a DP release needs at least %u contributors, the operator's "
                           "floor (privacy_min_dp_contributors)",
                           floors->min_dp_contributors);
    coh_dp_budget *budget = NULL;
    coh_dp_rng *rng = NULL;
    json_t *result = NULL;
    rc = coh_dp_budget_new(&budget, req->epsilon, req->delta, err);
    for (size_t r = 0; !rc && r < nr; r++)
        rc = coh_dp_budget_contributor_add(budget, remaining[r], err);
    if (!rc && coh_dp_rng_new(&rng) != 0)
        rc = coh_err_set(err, COH_ERR_NOMEM, "cannot seed the DP random generator");
    if (!rc)
        rc = coh_dp_run(&result, t, req, budget, rng, err);
    coh_dp_rng_free(rng);
    coh_dp_budget_free(budget);
    if (rc)
        return rc;
    *rows = malloc((nr ? nr : 1) * sizeof **rows);
    char *text = json_dumps(result, JSON_COMPACT);
    if (!*rows || !text) {
        free(*rows);
        *rows = NULL;
        free(text);
        json_decref(result);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    for (size_t r = 0; r < nr; r++) /* every row's values are in the statistics */
        (*rows)[r] = r;
    *n_rows = nr;
    *out = json_pack("{s:s,s:s,s:s,s:o}", "mode", "dp", "content_type", "application/json",
                     "content", text, "report", result);
    free(text);
    return *out ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}

int coh_market_release_compute(json_t **out, size_t **rows, size_t *n_rows, const coh_table *t,
                               const coh_market_schema *s, const json_t *privacy,
                               const coh_market_floors *floors, const coh_rational *remaining,
                               coh_err *err)
{
    (void)floors;
    *out = NULL;
    *rows = NULL;
    *n_rows = 0;
    const char *mode = json_string_value(json_object_get(privacy, "mode"));
    if (mode && strcmp(mode, "k-anonymity") == 0)
        return kanon(out, rows, n_rows, t, s, privacy, floors, err);
    if (mode && strcmp(mode, "dp") == 0)
        return dp(out, rows, n_rows, t, s, privacy, floors, remaining, false, err);
    return coh_err_set(err, COH_ERR_INVALID, "unknown privacy mode");
}

int coh_market_release_check(const coh_market_schema *s, const json_t *privacy,
                             const coh_market_floors *floors, coh_err *err)
{
    const char *mode = json_string_value(json_object_get(privacy, "mode"));
    if (!mode || strcmp(mode, "dp") != 0)
        return 0;
    /* A DP release over an empty table exercises every query, bound and lattice check. */
    coh_table *t = NULL;
    int rc = coh_market_schema_table(&t, s, err);
    if (!rc)
        rc = coh_table_finish(t, err);
    json_t *out = NULL;
    size_t *rows = NULL, n = 0;
    coh_rational none = {1, 1};
    if (!rc)
        rc = dp(&out, &rows, &n, t, s, privacy, floors, &none, true, err);
    json_decref(out);
    free(rows);
    coh_table_free(t);
    return rc;
}
