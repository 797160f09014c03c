/*
 * match: private matching of a contributor's consent profile against a request. Runs on the
 * server for the contributor's own inbox (and again before a consent is taken) only; nothing
 * about a match is stored or shown to the researcher. The contributor's own floors (min_k,
 * max_epsilon, statistics_only) hide requests below them; epsilons are compared exactly.
 */
#include "market/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a >= b for canonical decimal strings (no leading zeros). */
static int dec_ge(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? la > lb : strcmp(a, b) >= 0;
}

/* A stored epsilon ("0", "1.5", numeric::text) as an exact rational; 0 when unreadable. */
static int eps_parse(coh_rational *out, const char *s)
{
    *out = (coh_rational){0, 1};
    if (!s || !*s)
        return 0;
    if (strspn(s, "0.") == strlen(s))
        return strchr(s, '0') != NULL; /* zero (coh_rational_parse wants > 0) */
    coh_err err = {0};
    return coh_rational_parse(out, s, &err) == 0;
}

/* a + b <= c exactly; 0 also when a + b does not fit (never for values of <= 6 decimals). */
static int sum_le(coh_rational a, coh_rational b, coh_rational c)
{
    coh_rational s;
    return coh_rational_add(&s, a, b) && coh_rational_cmp(s, c) <= 0;
}

/* Within the contributor's own floors (docs/PRIVACY.md, "Each contributor's own floors")? */
static int within_floors(const json_t *request, const json_t *cp, const coh_rational *eps)
{
    const json_t *privacy = json_object_get(request, "privacy");
    const char *mode = json_string_value(json_object_get(privacy, "mode"));
    int dp = mode && strcmp(mode, "dp") == 0;
    if (!dp) {
        /* Anything but statistics releases rows, however generalized. */
        if (json_is_true(json_object_get(cp, "statistics_only")))
            return 0;
        const json_t *min_k = json_object_get(cp, "min_k");
        const json_t *k = json_object_get(privacy, "k");
        if (json_is_integer(min_k) && (!json_is_integer(k) || json_integer_value(k) <
                                                                  json_integer_value(min_k)))
            return 0;
        return 1;
    }
    const char *max = json_string_value(json_object_get(cp, "max_epsilon"));
    coh_rational m, zero = {0, 1};
    if (max && (!eps_parse(&m, max) || !sum_le(*eps, zero, m)))
        return 0;
    return 1;
}

static int has_all(const json_t *need, const json_t *have)
{
    size_t i, j;
    json_t *n, *h;
    json_array_foreach(need, i, n)
    {
        int found = 0;
        json_array_foreach(have, j, h) found |= json_equal(n, h);
        if (!found)
            return 0;
    }
    return 1;
}

int coh_market_match(const json_t *request, const json_t *cp)
{
    const char *purpose = json_string_value(json_object_get(request, "purpose"));
    json_t *purposes = json_object_get(cp, "purposes");
    json_t *want = json_pack("[s]", purpose ? purpose : "");
    int ok = json_is_array(purposes) && has_all(want, purposes);
    json_decref(want);
    if (!ok)
        return 0;
    const char *reward = json_string_value(json_object_get(request, "reward"));
    const char *min_reward = json_string_value(json_object_get(cp, "min_reward"));
    if (!reward || (min_reward && !dec_ge(reward, min_reward)))
        return 0;
    /* A request's epsilon (0 for k-anonymity) must fit in what is left of the lifetime. */
    coh_rational eps, life, spent;
    if (!eps_parse(&eps, json_string_value(json_object_get(request, "epsilon"))))
        return 0;
    if (eps.num && (!eps_parse(&life, json_string_value(json_object_get(cp, "lifetime_epsilon"))) ||
                    !eps_parse(&spent, json_string_value(json_object_get(cp, "epsilon_spent"))) ||
                    !sum_le(eps, spent, life)))
        return 0;
    if (!within_floors(request, cp, &eps))
        return 0;
    json_t *elig = json_object_get(request, "eligibility");
    json_t *attrs = json_object_get(cp, "attributes");
    const char *k;
    json_t *v;
    json_object_foreach(elig, k, v)
    {
        if (strcmp(k, "categories") == 0) {
            if (!has_all(v, json_object_get(cp, "categories")))
                return 0;
            continue;
        }
        json_t *mine = json_object_get(attrs, k);
        json_t *one = mine ? json_pack("[O]", mine) : NULL;
        int in = one && has_all(one, v);
        json_decref(one);
        if (!in)
            return 0;
    }
    return 1;
}

int coh_market_within_operator_floors(const json_t *request, const coh_market_floors *f)
{
    coh_market_floors defaults;
    if (!f) {
        coh_market_floors_default(&defaults);
        f = &defaults;
    }
    const json_t *privacy = json_object_get(request, "privacy");
    const char *mode = json_string_value(json_object_get(privacy, "mode"));
    if (!mode || strcmp(mode, "dp") != 0) {
        const json_t *k = json_object_get(privacy, "k");
        return json_is_integer(k) && json_integer_value(k) >= (json_int_t)f->min_k;
    }
    coh_rational eps, delta, zero = {0, 1};
    const json_t *jd = json_object_get(privacy, "delta");
    char d[32] = "0";
    /* delta is stored as a JSON number of at most 6 decimals: %.6f writes it exactly. */
    if (json_is_number(jd))
        snprintf(d, sizeof d, "%.6f", json_number_value(jd));
    const json_t *max = json_object_get(request, "max_contributors");
    return eps_parse(&eps, json_string_value(json_object_get(request, "epsilon"))) &&
           sum_le(eps, zero, f->max_epsilon) && eps_parse(&delta, d) &&
           sum_le(delta, zero, f->max_delta) && json_is_integer(max) &&
           json_integer_value(max) >= (json_int_t)f->min_dp_contributors;
}
