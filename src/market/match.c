/*
 * match: private matching of a contributor's consent profile against a request. Runs on the
 * server for the contributor's own inbox only; nothing about a match is stored or shown to
 * the researcher.
 */
#include "market/market.h"

#include <stdlib.h>
#include <string.h>

/* a >= b for canonical decimal strings (no leading zeros). */
static int dec_ge(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? la > lb : strcmp(a, b) >= 0;
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
    const char *eps = json_string_value(json_object_get(request, "epsilon"));
    const char *life = json_string_value(json_object_get(cp, "lifetime_epsilon"));
    const char *spent = json_string_value(json_object_get(cp, "epsilon_spent"));
    if (eps && life && spent && strtod(eps, NULL) > strtod(life, NULL) - strtod(spent, NULL))
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
