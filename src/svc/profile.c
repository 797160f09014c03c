/*
 * profile: PUT /v1/me/profile checked by the rules (src/market/profile.c) and stored; omitted
 * members keep their stored values.
 */
#include "svc/svc.h"

#include <stdlib.h>

int coh_svc_profile_put(coh_db_pool *db, const char *account, const json_t *body, coh_err *err)
{
    struct coh_market_profile_update m;
    int rc = coh_market_profile_parse(&m, body, err);
    if (rc)
        return rc;
    char *cat_s = m.categories ? json_dumps(m.categories, JSON_COMPACT) : NULL;
    char *attr_s = m.attributes ? json_dumps(m.attributes, JSON_COMPACT) : NULL;
    char *pur_s = m.purposes ? json_dumps(m.purposes, JSON_COMPACT) : NULL;
    struct coh_db_profile_update u = {
        .researcher = m.researcher,
        .contributor = m.contributor,
        .display_name = m.display_name,
        .categories_json = cat_s,
        .attributes_json = attr_s,
        .purposes_json = pur_s,
        .min_reward = m.min_reward,
        .lifetime_epsilon = m.lifetime_epsilon,
        .min_k = m.min_k,
        .max_epsilon = m.max_epsilon,
        .statistics_only = m.statistics_only,
        .payout_address = m.payout_address,
    };
    rc = (!m.categories || cat_s) && (!m.attributes || attr_s) && (!m.purposes || pur_s)
             ? coh_db_profile_put(db, account, &u, err)
             : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    free(cat_s);
    free(attr_s);
    free(pur_s);
    return rc;
}
