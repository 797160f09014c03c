/*
 * profile: the rules of a profile (PUT /v1/me/profile): the role(s), a display name and the
 * consent profile used for private matching: data categories, coarse attributes (age band,
 * country, sex: the vocabulary eligibility uses, vocab.c), accepted purposes, minimum reward,
 * lifetime privacy budget epsilon, and the contributor's own privacy floors (smallest k
 * accepted, largest epsilon per request, statistics only), and where rewards are credited.
 * Every member is validated and an unknown member is refused, naming it.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Validates an array of slugs (at most 32); returns NULL or the error text. */
static const char *check_slugs(const json_t *a, const char *name, char *msg, size_t cap)
{
    if (!json_is_array(a) || json_array_size(a) > 32) {
        snprintf(msg, cap, "'%s' must be an array of at most 32 strings", name);
        return msg;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !coh_market_slug_ok(json_string_value(v))) {
            snprintf(msg, cap, "'%s[%zu]' must be a lowercase slug (a-z, 0-9, '-', '_', 1-40)",
                     name, i);
            return msg;
        }
    }
    return NULL;
}

static const char *check_attributes(const json_t *a, char *msg, size_t cap)
{
    if (!json_is_object(a)) {
        snprintf(msg, cap, "'consent_profile.attributes' must be an object");
        return msg;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        int ok = coh_market_attribute_ok(k, json_string_value(v));
        if (ok < 0) {
            snprintf(msg, cap,
                     "'attributes.%.40s' is not a known attribute (age_band, country, sex)", k);
            return msg;
        }
        if (!ok) {
            snprintf(msg, cap, "'attributes.%.40s' must be %s", k, coh_market_attribute_values(k));
            return msg;
        }
    }
    return NULL;
}

/* A positive decimal epsilon with at most 6 decimals, at most 1000, checked as text (exact). */
static int epsilon_ok(const char *s)
{
    size_t n = strlen(s), dot = 0, frac = 0, whole = 0, nonzero = 0;
    if (n == 0 || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (dot++ || i == 0 || i == n - 1)
                return 0;
        } else if (isdigit((unsigned char)s[i])) {
            frac += dot;
            whole += !dot;
            nonzero += s[i] != '0';
        } else {
            return 0;
        }
    }
    if (frac > 6 || !nonzero || (whole > 1 && s[0] == '0'))
        return 0;
    /* <= 1000: at most four whole digits, and 1000 only with a zero fraction. */
    if (whole < 4)
        return 1;
    if (whole > 4 || strncmp(s, "1000", 4) > 0)
        return 0;
    return strncmp(s, "1000", 4) < 0 || strspn(s + 4, ".0") == strlen(s + 4);
}

/* The first member of obj not in known (NULL-terminated), or NULL. */
static const char *unknown_member(const json_t *obj, const char *const *known)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *const *n = known;
        while (*n && strcmp(*n, k) != 0)
            n++;
        if (!*n)
            return k;
    }
    return NULL;
}

static const char *parse_roles(struct coh_market_profile_update *u, const json_t *roles)
{
    u->researcher = u->contributor = 0;
    int other = 0;
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)roles, i, v)
    {
        const char *r = json_string_value(v);
        if (r && strcmp(r, "researcher") == 0)
            u->researcher = 1;
        else if (r && strcmp(r, "contributor") == 0)
            u->contributor = 1;
        else
            other = 1;
    }
    if (!json_is_array(roles) || (!u->researcher && !u->contributor))
        return "'roles' must be a non-empty array of \"researcher\" and/or \"contributor\"";
    return other ? "'roles' may hold only \"researcher\" and \"contributor\"" : NULL;
}

static const char *parse_display_name(struct coh_market_profile_update *u, const json_t *jname)
{
    const char *name = json_string_value(jname);
    if (!name || json_string_length(jname) > 80 || strlen(name) != json_string_length(jname))
        return "'display_name' must be a string of at most 80 bytes";
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return "'display_name' must not contain control characters";
    /* Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the LRM/RLM
     * marks reorder how a name is shown to others ("Lab\u202egnp.exe"). */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (c[0] == 0xe2 &&
            ((c[1] == 0x80 && ((c[2] >= 0xaa && c[2] <= 0xae) || c[2] == 0x8e || c[2] == 0x8f)) ||
             (c[1] == 0x81 && c[2] >= 0xa6 && c[2] <= 0xa9)))
            return "'display_name' must not contain bidirectional control characters";
    u->display_name = name;
    return NULL;
}

/* The contributor's own floors: min_k, max_epsilon, statistics_only. */
static const char *parse_own_floors(struct coh_market_profile_update *u, const json_t *cp)
{
    json_t *jk = json_object_get(cp, "min_k"), *jmax = json_object_get(cp, "max_epsilon"),
           *jstat = json_object_get(cp, "statistics_only");
    if (jk) {
        if (!json_is_null(jk) &&
            (!json_is_integer(jk) || json_integer_value(jk) < 2 || json_integer_value(jk) > 1000))
            return "'consent_profile.min_k' must be an integer from 2 to 1000 (the smallest k "
                   "you accept), or null for none";
        if (!json_is_null(jk)) /* else "": no floor of one's own */
            snprintf(u->min_k_buf, sizeof u->min_k_buf, "%d", (int)json_integer_value(jk));
        u->min_k = u->min_k_buf;
    }
    if (jmax) {
        u->max_epsilon = json_is_null(jmax) ? "" : json_string_value(jmax);
        if (!u->max_epsilon || (*u->max_epsilon && !epsilon_ok(u->max_epsilon)))
            return "'consent_profile.max_epsilon' must be a decimal string > 0 and <= 1000, at "
                   "most 6 decimals (the largest epsilon per request you accept), or null for "
                   "none";
    }
    if (jstat) {
        if (!json_is_boolean(jstat))
            return "'consent_profile.statistics_only' must be true or false";
        u->statistics_only = json_is_true(jstat);
    }
    return NULL;
}

static const char *parse_consent_profile(struct coh_market_profile_update *u, const json_t *cp,
                                         char *msg, size_t cap)
{
    static const char *const known[] = {
        "categories", "attributes",  "purposes",        "min_reward",     "lifetime_epsilon",
        "min_k",      "max_epsilon", "statistics_only", "payout_address", NULL};
    if (!json_is_object(cp))
        return "'consent_profile' must be an object";
    const char *k = unknown_member(cp, known);
    if (k) {
        snprintf(msg, cap, "unknown member 'consent_profile.%.40s'", k);
        return msg;
    }
    const char *bad = NULL;
    u->categories = json_object_get(cp, "categories");
    u->attributes = json_object_get(cp, "attributes");
    u->purposes = json_object_get(cp, "purposes");
    json_t *mr = json_object_get(cp, "min_reward"), *eps = json_object_get(cp, "lifetime_epsilon");
    uint8_t u256[32];
    if (u->categories && (bad = check_slugs(u->categories, "consent_profile.categories", msg, cap)))
        return bad;
    if (u->purposes && (bad = check_slugs(u->purposes, "consent_profile.purposes", msg, cap)))
        return bad;
    if (u->attributes && (bad = check_attributes(u->attributes, msg, cap)))
        return bad;
    if (mr &&
        (!(u->min_reward = json_string_value(mr)) || coh_u256_from_dec(u256, u->min_reward) != 0))
        return "'consent_profile.min_reward' must be a decimal string of a uint256 amount in "
               "base units";
    if (eps &&
        (!(u->lifetime_epsilon = json_string_value(eps)) || !epsilon_ok(u->lifetime_epsilon)))
        return "'consent_profile.lifetime_epsilon' must be a decimal string > 0 and <= 1000, at "
               "most 6 decimals";
    if ((bad = parse_own_floors(u, cp)))
        return bad;
    /* Where rewards are credited (claims go to it): fixed for a release when it is stored. */
    json_t *jpay = json_object_get(cp, "payout_address");
    uint8_t a[20];
    if (jpay && !json_is_null(jpay) &&
        (!json_is_string(jpay) || coh_crypto_address_parse(a, json_string_value(jpay)) != 0))
        return "'consent_profile.payout_address' must be an Ethereum address (0x + 40 hex, "
               "EIP-55 when mixed case), or null for the sign-in address";
    if (jpay && !json_is_null(jpay))
        coh_hex_encode(u->payout_buf, a, 20, 1);
    if (jpay) /* "" (null): the sign-in address */
        u->payout_address = u->payout_buf;
    return NULL;
}

int coh_market_profile_parse(struct coh_market_profile_update *u, const json_t *body, coh_err *err)
{
    static const char *const known[] = {"roles", "display_name", "consent_profile", NULL};
    memset(u, 0, sizeof *u);
    u->researcher = u->contributor = u->statistics_only = -1;
    char msg[200];
    const char *bad = NULL, *k = unknown_member(body, known);
    const json_t *roles = json_object_get(body, "roles"),
                 *name = json_object_get(body, "display_name"),
                 *cp = json_object_get(body, "consent_profile");
    if (k) {
        snprintf(msg, sizeof msg, "unknown member '%.40s'", k);
        bad = msg;
    }
    if (!bad && roles)
        bad = parse_roles(u, roles);
    if (!bad && name)
        bad = parse_display_name(u, name);
    if (!bad && cp)
        bad = parse_consent_profile(u, cp, msg, sizeof msg);
    if (bad) {
        coh_err_set(err, COH_ERR_INVALID, "%s", bad);
        memset(u, 0, sizeof *u);
        return COH_ERR_INVALID;
    }
    return 0;
}
