/*
 * market/dp_request.h: a DP privacy object over a request schema as the privacy engine's
 * request, shared by the release (release.c) and the preview (preview.c) so both use the same
 * queries, bounds and noise. Internal to the market module.
 */
#ifndef COH_MARKET_DP_REQUEST_H
#define COH_MARKET_DP_REQUEST_H

#include "market/market.h"

#define COH_MARKET_DP_MAX_FIELDS 32
#define COH_MARKET_DP_MAX_QUERIES 20

struct coh_market_dp_req {
    coh_dp_column cols[COH_MARKET_DP_MAX_FIELDS];
    const char *queries[COH_MARKET_DP_MAX_QUERIES];
    coh_dp_request req; /* points into cols and queries: do not copy the struct */
};

/*
 * Fills r from schema s (every field a column with its bounds or categories) and a normalized
 * DP privacy object {epsilon (decimal string), delta, mechanism, queries, group_by}. The
 * strings stay owned by s and privacy. COH_ERR_INVALID when epsilon cannot be read.
 */
COH_WUR int coh_market_dp_req_init(struct coh_market_dp_req *r, const coh_market_schema *s,
                                   const json_t *privacy, coh_err *err);

#endif
