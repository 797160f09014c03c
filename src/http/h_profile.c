/*
 * h_profile: GET/PUT /v1/me/profile. The profile holds the role(s), a display name and the
 * consent profile used for private matching: data categories, coarse attributes (age band,
 * country, sex), accepted purposes, minimum reward, lifetime privacy budget epsilon, and the
 * contributor's own privacy floors (smallest k accepted, largest epsilon per request,
 * statistics only). PUT changes the members it names and keeps the others as stored (null
 * clears min_k and max_epsilon). Every member is validated and an unknown member is refused,
 * naming it.
 */
#include "crypto/crypto.h"
#include "http/handlers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const age_bands[] = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+", NULL};
static const char *const sexes[] = {"female", "male", "intersex", "undisclosed", NULL};

static int in_list(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

static int is_slug(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static json_t *profile_view(struct coh_http_req *req, coh_err *err)
{
    json_t *p = coh_db_profile_get(req->app->db, req->account, err);
    if (!p)
        return NULL;
    uint8_t addr[20];
    char address[43], did[COH_CRYPTO_DID_MAX];
    if (coh_crypto_address_parse(addr, req->account) != 0) {
        json_decref(p);
        coh_err_set(err, COH_ERR_DB, "stored address is malformed");
        return NULL;
    }
    coh_hex_encode(address, addr, 20, 1); /* docs/API.md: addresses lowercase */
    coh_crypto_did_format(did, coh_http_chain_id(req), addr);
    json_t *roles = json_array();
    if (json_is_true(json_object_get(p, "is_researcher")))
        json_array_append_new(roles, json_string("researcher"));
    if (json_is_true(json_object_get(p, "is_contributor")))
        json_array_append_new(roles, json_string("contributor"));
    json_t *out = json_pack(
        "{s:s,s:s,s:o,s:O,s:{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O},s:O}", "address", address,
        "did", did, "roles", roles, "display_name", json_object_get(p, "display_name"),
        "consent_profile", "categories", json_object_get(p, "categories"), "attributes",
        json_object_get(p, "attributes"), "purposes", json_object_get(p, "purposes"),
        "min_reward", json_object_get(p, "min_reward"), "lifetime_epsilon",
        json_object_get(p, "lifetime_epsilon"), "epsilon_spent",
        json_object_get(p, "epsilon_spent"), "min_k", json_object_get(p, "min_k"),
        "max_epsilon", json_object_get(p, "max_epsilon"), "statistics_only",
        json_object_get(p, "statistics_only"), "payout_address",
        json_object_get(p, "payout_address"), "updated_at", json_object_get(p, "updated_at"));
    json_decref(p);
    if (!out)
        coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    return out;
}

void coh_h_profile_get(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    coh_err err = {0};
    json_t *v = profile_view(req, &err);
    if (!v)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, v);
}

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
        if (!json_is_string(v) || !is_slug(json_string_value(v))) {
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
        const char *s = json_string_value(v);
        if (strcmp(k, "age_band") == 0) {
            if (!s || !in_list(s, age_bands)) {
                snprintf(msg, cap, "'attributes.age_band' must be one of 18-24, 25-34, 35-44, "
                                   "45-54, 55-64, 65+");
                return msg;
            }
        } else if (strcmp(k, "sex") == 0) {
            if (!s || !in_list(s, sexes)) {
                snprintf(msg, cap,
                         "'attributes.sex' must be one of female, male, intersex, undisclosed");
                return msg;
            }
        } else if (strcmp(k, "country") == 0) {
            if (!s || strlen(s) != 2 || !isupper((unsigned char)s[0]) ||
                !isupper((unsigned char)s[1])) {
                snprintf(msg, cap, "'attributes.country' must be an ISO 3166-1 alpha-2 code");
                return msg;
            }
        } else {
            snprintf(msg, cap, "'attributes.%.40s' is not a known attribute (age_band, country, sex)",
                     k);
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

void coh_h_profile_put(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    json_t *body = coh_http_body_object(req);
    if (!body)
        return;
    char msg[200];
    const char *bad = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "roles") && strcmp(k, "display_name") && strcmp(k, "consent_profile")) {
            snprintf(msg, sizeof msg, "unknown member '%.40s'", k);
            bad = msg;
            break;
        }
    }
    int researcher = -1, contributor = -1;
    json_t *roles = json_object_get(body, "roles");
    if (!bad && roles) {
        researcher = contributor = 0;
        size_t i;
        json_array_foreach(roles, i, v)
        {
            const char *r = json_string_value(v);
            if (r && strcmp(r, "researcher") == 0)
                researcher = 1;
            else if (r && strcmp(r, "contributor") == 0)
                contributor = 1;
            else
                bad = "'roles' may hold only \"researcher\" and \"contributor\"";
        }
        if (!json_is_array(roles) || (!researcher && !contributor))
            bad = "'roles' must be a non-empty array of \"researcher\" and/or \"contributor\"";
    }
    const char *name = NULL;
    json_t *jname = json_object_get(body, "display_name");
    if (!bad && jname) {
        name = json_string_value(jname);
        if (!name || json_string_length(jname) > 80 || strlen(name) != json_string_length(jname))
            bad = "'display_name' must be a string of at most 80 bytes";
        for (const char *c = name; !bad && c && *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                bad = "'display_name' must not contain control characters";
        /* Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the
         * LRM/RLM marks reorder how a name is shown to others ("Lab\u202egnp.exe"). */
        for (const unsigned char *c = (const unsigned char *)name; !bad && c && *c; c++)
            if (c[0] == 0xe2 && ((c[1] == 0x80 && ((c[2] >= 0xaa && c[2] <= 0xae) || c[2] == 0x8e ||
                                                   c[2] == 0x8f)) ||
                                 (c[1] == 0x81 && c[2] >= 0xa6 && c[2] <= 0xa9)))
                bad = "'display_name' must not contain bidirectional control characters";
    }
    json_t *cp = json_object_get(body, "consent_profile");
    json_t *categories = NULL, *attributes = NULL, *purposes = NULL;
    const char *min_reward = NULL, *epsilon = NULL, *max_epsilon = NULL;
    char min_k[8] = "", *min_k_text = NULL, payout[43] = "", *payout_text = NULL;
    int statistics_only = -1;
    if (!bad && cp && !json_is_object(cp))
        bad = "'consent_profile' must be an object";
    if (!bad && cp) {
        json_object_foreach(cp, k, v)
        {
            if (strcmp(k, "categories") && strcmp(k, "attributes") && strcmp(k, "purposes") &&
                strcmp(k, "min_reward") && strcmp(k, "lifetime_epsilon") && strcmp(k, "min_k") &&
                strcmp(k, "max_epsilon") && strcmp(k, "statistics_only") &&
                strcmp(k, "payout_address")) {
                snprintf(msg, sizeof msg, "unknown member 'consent_profile.%.40s'", k);
                bad = msg;
                break;
            }
        }
        categories = json_object_get(cp, "categories");
        attributes = json_object_get(cp, "attributes");
        purposes = json_object_get(cp, "purposes");
        json_t *mr = json_object_get(cp, "min_reward"), *eps = json_object_get(cp, "lifetime_epsilon");
        uint8_t u256[32];
        if (!bad && categories)
            bad = check_slugs(categories, "consent_profile.categories", msg, sizeof msg);
        if (!bad && purposes)
            bad = check_slugs(purposes, "consent_profile.purposes", msg, sizeof msg);
        if (!bad && attributes)
            bad = check_attributes(attributes, msg, sizeof msg);
        if (!bad && mr) {
            min_reward = json_string_value(mr);
            if (!min_reward || coh_crypto_uint256_from_dec(u256, min_reward) != 0)
                bad = "'consent_profile.min_reward' must be a decimal string of a uint256 "
                      "amount in base units";
        }
        if (!bad && eps) {
            epsilon = json_string_value(eps);
            if (!epsilon || !epsilon_ok(epsilon))
                bad = "'consent_profile.lifetime_epsilon' must be a decimal string > 0 and <= "
                      "1000, at most 6 decimals";
        }
        json_t *jk = json_object_get(cp, "min_k"), *jmax = json_object_get(cp, "max_epsilon"),
               *jstat = json_object_get(cp, "statistics_only");
        if (!bad && jk) {
            if (json_is_null(jk)) {
                min_k_text = min_k; /* "": no floor of one's own */
            } else if (!json_is_integer(jk) || json_integer_value(jk) < 2 ||
                       json_integer_value(jk) > 1000) {
                bad = "'consent_profile.min_k' must be an integer from 2 to 1000 (the smallest k "
                      "you accept), or null for none";
            } else {
                snprintf(min_k, sizeof min_k, "%d", (int)json_integer_value(jk));
                min_k_text = min_k;
            }
        }
        if (!bad && jmax) {
            max_epsilon = json_is_null(jmax) ? "" : json_string_value(jmax);
            if (!max_epsilon || (*max_epsilon && !epsilon_ok(max_epsilon)))
                bad = "'consent_profile.max_epsilon' must be a decimal string > 0 and <= 1000, "
                      "at most 6 decimals (the largest epsilon per request you accept), or null "
                      "for none";
        }
        if (!bad && jstat) {
            if (!json_is_boolean(jstat))
                bad = "'consent_profile.statistics_only' must be true or false";
            else
                statistics_only = json_is_true(jstat);
        }
        /* Where rewards are credited (claims go to it): fixed for a release when it is stored. */
        json_t *jpay = json_object_get(cp, "payout_address");
        if (!bad && jpay) {
            uint8_t a[20];
            if (json_is_null(jpay)) {
                payout_text = payout; /* "": the sign-in address */
            } else if (!json_is_string(jpay) ||
                       coh_crypto_address_parse(a, json_string_value(jpay)) != 0) {
                bad = "'consent_profile.payout_address' must be an Ethereum address (0x + 40 "
                      "hex, EIP-55 when mixed case), or null for the sign-in address";
            } else {
                coh_hex_encode(payout, a, 20, 1);
                payout_text = payout;
            }
        }
    }
    if (bad) {
        json_decref(body);
        coh_http_problem(req, COH_PROBLEM_INVALID, "%s", bad);
        return;
    }
    /* Omitted members keep their stored values. */
    char *cat_s = categories ? json_dumps(categories, JSON_COMPACT) : NULL;
    char *attr_s = attributes ? json_dumps(attributes, JSON_COMPACT) : NULL;
    char *pur_s = purposes ? json_dumps(purposes, JSON_COMPACT) : NULL;
    struct coh_db_profile_update u = {
        .researcher = researcher,
        .contributor = contributor,
        .display_name = name,
        .categories_json = cat_s,
        .attributes_json = attr_s,
        .purposes_json = pur_s,
        .min_reward = min_reward,
        .lifetime_epsilon = epsilon,
        .min_k = min_k_text,
        .max_epsilon = max_epsilon,
        .statistics_only = statistics_only,
        .payout_address = payout_text,
    };
    coh_err err = {0};
    int rc = (!categories || cat_s) && (!attributes || attr_s) && (!purposes || pur_s)
                 ? coh_db_profile_put(req->app->db, req->account, &u, &err)
                 : coh_err_set(&err, COH_ERR_NOMEM, "out of memory");
    free(cat_s);
    free(attr_s);
    free(pur_s);
    json_decref(body);
    if (rc) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *view = profile_view(req, &err);
    if (!view)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, view);
}
