/*
 * preview: what a DP request's statistics would look like before it is posted. The expected
 * errors come from the privacy engine's own plans (coh_dp_expected_error), so the preview
 * and the release can never disagree on the noise; nothing is stored, spent or drawn.
 */
#include "market/dp_request.h"

#include <string.h>

int coh_market_dp_req_init(struct coh_market_dp_req *r, const coh_market_schema *s,
                           const json_t *privacy, coh_err *err)
{
    memset(r, 0, sizeof *r);
    size_t nf = coh_market_schema_fields(s), nq = 0, i;
    if (nf > COH_MARKET_DP_MAX_FIELDS)
        nf = COH_MARKET_DP_MAX_FIELDS; /* the schema allows fewer */
    for (i = 0; i < nf; i++) {
        r->cols[i].name = coh_market_schema_field_name(s, i);
        r->cols[i].lo = coh_market_schema_field_min(s, i);
        r->cols[i].hi = coh_market_schema_field_max(s, i);
        r->cols[i].n_categories = coh_market_schema_field_categories(s, i, &r->cols[i].categories);
        if (!r->cols[i].n_categories)
            r->cols[i].categories = NULL;
    }
    json_t *q;
    json_array_foreach(json_object_get(privacy, "queries"), i, q)
    {
        if (nq < COH_MARKET_DP_MAX_QUERIES && json_is_string(q))
            r->queries[nq++] = json_string_value(q);
    }
    const char *mech = json_string_value(json_object_get(privacy, "mechanism"));
    r->req = (coh_dp_request){
        .queries = r->queries,
        .n_queries = nq,
        .columns = r->cols,
        .n_columns = nf,
        .group_by = json_string_value(json_object_get(privacy, "group_by")),
        .mechanism = mech && strcmp(mech, "gaussian") == 0 ? COH_DP_GAUSSIAN : COH_DP_LAPLACE,
        .delta = json_number_value(json_object_get(privacy, "delta")),
    };
    const char *eps = json_string_value(json_object_get(privacy, "epsilon"));
    if (!eps)
        return coh_err_set(err, COH_ERR_INVALID, "privacy.epsilon is missing");
    return coh_rational_parse(&r->req.epsilon, eps, err);
}

int coh_market_dp_expected_error(json_t **out, const coh_market_schema *s, const json_t *privacy,
                                 size_t n_contributors, coh_err *err)
{
    *out = NULL;
    const char *mode = json_string_value(json_object_get(privacy, "mode"));
    if (!mode || strcmp(mode, "dp") != 0)
        return coh_err_set(err, COH_ERR_INVALID, "privacy.mode is not dp");
    struct coh_market_dp_req r;
    int rc = coh_market_dp_req_init(&r, s, privacy, err);
    if (rc)
        return rc;
    /* an empty table declared from the schema: columns and types, no data */
    coh_table *t = NULL;
    rc = coh_market_schema_table(&t, s, err);
    if (!rc)
        rc = coh_table_finish(t, err);
    if (!rc)
        rc = coh_dp_expected_error(out, t, &r.req, n_contributors, err);
    coh_table_free(t);
    return rc;
}
