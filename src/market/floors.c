/*
 * floors: the operator's privacy floors and their defaults (DESIGN: "Floors no request can
 * lower").
 */
#include "market/market.h"

void coh_market_floors_default(coh_market_floors *f)
{
    f->min_k = 5;
    f->min_l = 2;
    f->max_epsilon = (coh_rational){1, 1};
    f->max_delta = (coh_rational){1, 1000000};
    f->min_dp_contributors = 50;
}
