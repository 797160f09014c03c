/*
 * floors: the operator's privacy floors and their defaults (DESIGN: "Floors no request can
 * lower"), and the least escrow a request must lock (request_min_escrow).
 */
#include "market/market.h"

#include <stdio.h>
#include <string.h>

void coh_market_floors_default(coh_market_floors *f)
{
    f->min_k = 5;
    f->min_l = 2;
    f->max_epsilon = (coh_rational){1, 1};
    f->max_delta = (coh_rational){1, 1000000};
    f->min_dp_contributors = 50;
    memset(f->min_escrow, 0, sizeof f->min_escrow);
}

/* A decimal setting in millionths (core/config.c parsed and bounded it) as a rational. */
static int setting_rational(coh_rational *out, long micros, coh_err *err)
{
    char text[48];
    if (micros == 0) {
        *out = (coh_rational){0, 1};
        return 0;
    }
    snprintf(text, sizeof text, "%ld/1000000", micros);
    return coh_rational_parse(out, text, err);
}

/*
 * The floors' bounds (k at least 2, epsilon in (0, 10], delta in [0, 0.001]) are in cohortd's
 * settings table (core/settings.c), checked when the configuration is loaded; what reaches here
 * is within them.
 */
int coh_market_floors_from_config(coh_market_floors *f, const coh_config *c, coh_err *err)
{
    coh_market_floors_default(f);
    long k = coh_config_int(c, "privacy_min_k"), n = coh_config_int(c, "privacy_min_dp_contributors");
    if (k < 2 || n < 1)
        return coh_err_set(err, COH_ERR_INVALID, "config: privacy floors missing or out of range");
    f->min_k = (unsigned)k;
    f->min_dp_contributors = (unsigned)n;
    if (setting_rational(&f->max_epsilon, coh_config_micros(c, "privacy_max_epsilon"), err) ||
        setting_rational(&f->max_delta, coh_config_micros(c, "privacy_max_delta"), err))
        return coh_err_set(err, COH_ERR_INVALID, "config: privacy floors: %s", err->msg);
    /* Checked as an amount when the configuration was loaded; absent (a partial table): 0. */
    const char *min_escrow = coh_config_str(c, "request_min_escrow");
    if (min_escrow && coh_u256_from_dec(f->min_escrow, min_escrow) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "config: request_min_escrow is not an amount");
    return 0;
}

int coh_market_escrow_check(const json_t *spec, const coh_market_floors *f, coh_err *err)
{
    coh_market_floors defaults;
    if (!f) {
        coh_market_floors_default(&defaults);
        f = &defaults;
    }
    uint8_t reward[32], escrow[32];
    json_int_t max = json_integer_value(json_object_get(spec, "max_contributors"));
    if (coh_u256_from_dec(reward, json_string_value(json_object_get(spec, "reward"))) != 0 ||
        max < 1 || coh_u256_mul_u64(escrow, reward, (uint64_t)max) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "reward x max_contributors exceeds a uint256");
    if (coh_u256_cmp(escrow, f->min_escrow) >= 0)
        return 0;
    char have[COH_U256_DEC_SIZE], want[COH_U256_DEC_SIZE];
    coh_u256_to_dec(have, escrow);
    coh_u256_to_dec(want, f->min_escrow);
    return coh_err_set(err, COH_ERR_INVALID,
                       "reward x max_contributors is %s, below request_min_escrow (%s base units)",
                       have, want);
}
