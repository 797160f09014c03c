/*
 * vocab: the words requests and profiles share: the coarse attributes a profile declares and
 * an eligibility names (age band, sex, country), and slugs (purposes, data categories). One
 * list, so a value a profile may hold is exactly a value eligibility may ask for.
 */
#include "market/market.h"

#include <ctype.h>
#include <string.h>

static const char *const age_bands[] = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+", NULL};
static const char *const sexes[] = {"female", "male", "intersex", "undisclosed", NULL};

static int in_list(const char *v, const char *const *list)
{
    for (; v && *list; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

int coh_market_slug_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 40)
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' && *s != '_')
            return 0;
    return 1;
}

int coh_market_attribute_ok(const char *name, const char *value)
{
    if (strcmp(name, "age_band") == 0)
        return in_list(value, age_bands);
    if (strcmp(name, "sex") == 0)
        return in_list(value, sexes);
    if (strcmp(name, "country") == 0)
        return value && strlen(value) == 2 && isupper((unsigned char)value[0]) &&
               isupper((unsigned char)value[1]);
    return -1;
}

const char *coh_market_attribute_values(const char *name)
{
    if (strcmp(name, "age_band") == 0)
        return "one of 18-24, 25-34, 35-44, 45-54, 55-64, 65+";
    if (strcmp(name, "sex") == 0)
        return "one of female, male, intersex, undisclosed";
    if (strcmp(name, "country") == 0)
        return "an ISO 3166-1 alpha-2 code";
    return "a known attribute (age_band, country, sex)";
}
