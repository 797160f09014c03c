/*
 * floors: the operator's privacy floors and their defaults (DESIGN: "Floors no request can
 * lower").
 */
#include "market/market.h"

#include <stdlib.h>
#include <string.h>

void coh_market_floors_default(coh_market_floors *f)
{
    f->min_k = 5;
    f->min_l = 2;
    f->max_epsilon = (coh_rational){1, 1};
    f->max_delta = (coh_rational){1, 1000000};
    f->min_dp_contributors = 50;
}

/* A decimal setting with at most 6 fraction digits, as a rational. */
static int setting_rational(coh_rational *out, const char *name, const char *v, int allow_zero,
                            coh_err *err)
{
    const char *dot = v ? strchr(v, '.') : NULL;
    coh_err perr;
    if (!v || !*v || strspn(v, "0123456789.") != strlen(v) || (dot && strlen(dot + 1) > 6) ||
        (dot && strchr(dot + 1, '.')))
        return coh_err_set(err, COH_ERR_INVALID,
                           "config: %s must be a decimal with at most 6 fraction digits", name);
    if (strtod(v, NULL) == 0) {
        if (!allow_zero)
            return coh_err_set(err, COH_ERR_INVALID, "config: %s must be > 0", name);
        *out = (coh_rational){0, 1};
        return 0;
    }
    if (coh_rational_parse(out, v, &perr) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "config: %s: %s", name, perr.msg);
    return 0;
}

int coh_market_floors_from_config(coh_market_floors *f, const coh_config *c, coh_err *err)
{
    coh_market_floors_default(f);
    long k = coh_config_int(c, "privacy_min_k"), n = coh_config_int(c, "privacy_min_dp_contributors");
    if (k < 2)
        return coh_err_set(err, COH_ERR_INVALID, "config: privacy_min_k must be at least 2");
    f->min_k = (unsigned)k;
    f->min_dp_contributors = n < 1 ? 1 : (unsigned)n;
    int rc = setting_rational(&f->max_epsilon, "privacy_max_epsilon",
                              coh_config_str(c, "privacy_max_epsilon"), 0, err);
    if (!rc)
        rc = setting_rational(&f->max_delta, "privacy_max_delta",
                              coh_config_str(c, "privacy_max_delta"), 1, err);
    if (rc)
        return rc;
    if ((double)f->max_epsilon.num / (double)f->max_epsilon.den > 10)
        return coh_err_set(err, COH_ERR_INVALID, "config: privacy_max_epsilon must be at most 10");
    if ((double)f->max_delta.num / (double)f->max_delta.den > 0.001)
        return coh_err_set(err, COH_ERR_INVALID, "config: privacy_max_delta must be at most 0.001");
    return 0;
}
