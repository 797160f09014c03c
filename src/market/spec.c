/*
 * spec: what a researcher may ask for. Validation happens once, at creation; the stored
 * request is the normalized form returned here, and everything downstream (matching, consent
 * hashing, release) trusts it. Messages start with the offending member's name.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int in_list(const char *v, const char *const *list)
{
    for (; v && *list; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

static int text_ok(const json_t *v, size_t min, size_t max)
{
    return json_is_string(v) && json_string_length(v) >= min && json_string_length(v) <= max &&
           strlen(json_string_value(v)) == json_string_length(v);
}

/* A decimal string in [lo, hi] (as doubles: these are privacy parameters, not money). */
static int decimal_in(const json_t *v, double lo, double hi, int lo_open, double *out)
{
    const char *s = json_string_value(v);
    char buf[40];
    if (json_is_integer(v) || json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.17g", json_number_value(v));
        s = buf;
    }
    if (!s || !*s || strlen(s) > 30)
        return 0;
    char *end;
    double d = strtod(s, &end);
    if (*end || !isfinite(d) || d > hi || d < lo || (lo_open && d == lo))
        return 0;
    if (out)
        *out = d;
    return 1;
}

/*
 * A privacy parameter (epsilon, delta) as a canonical decimal of at most 6 fraction digits:
 * finer values say nothing a contributor could read, and an 18-digit epsilon once made every
 * later budget unreadable. Numbers and strings both pass through the double that strtod
 * gives, so "0.1" and 0.1 agree; out gets the shortest text ("0.5", "1", "0.000001").
 */
static int privacy_decimal(const json_t *v, char out[24], coh_rational *q)
{
    double d;
    if (json_is_integer(v) || json_is_real(v)) {
        d = json_number_value(v);
    } else {
        const char *s = json_string_value(v);
        char *end;
        if (!s || !*s || strlen(s) > 30 || !(isdigit((unsigned char)*s) || *s == '.'))
            return 0;
        d = strtod(s, &end);
        if (*end)
            return 0;
        /* The text itself, not just its double, must have at most 6 fraction digits. */
        const char *dot = strchr(s, '.');
        if (!strpbrk(s, "eE") && dot && strlen(dot + 1) > 6) {
            size_t n = strlen(dot + 1);
            while (n > 6 && dot[n] == '0')
                n--;
            if (n > 6)
                return 0;
        }
    }
    if (!isfinite(d) || d < 0 || d > 1e6)
        return 0;
    snprintf(out, 24, "%.6f", d);
    if (strtod(out, NULL) != d)
        return 0;
    char *e = out + strlen(out) - 1;
    while (*e == '0')
        *e-- = '\0';
    if (*e == '.')
        *e = '\0';
    coh_err perr;
    if (d == 0) {
        *q = (coh_rational){0, 1};
        return 1;
    }
    return coh_rational_parse(q, out, &perr) == 0;
}

static void rational_text(char out[32], coh_rational q)
{
    if (q.den == 1)
        snprintf(out, 32, "%llu", (unsigned long long)q.num);
    else
        snprintf(out, 32, "%.6g", (double)q.num / (double)q.den);
}

static int check_eligibility(const json_t *e, coh_err *err)
{
    if (!e)
        return 0;
    if (!json_is_object(e))
        return coh_err_set(err, COH_ERR_INVALID, "eligibility must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)e, k, v)
    {
        int is_cat = strcmp(k, "categories") == 0;
        if (!is_cat && coh_market_attribute_ok(k, NULL) < 0)
            return coh_err_set(err, COH_ERR_INVALID,
                               "eligibility.%.40s is not a known attribute (age_band, country, "
                               "sex, categories)",
                               k);
        if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 64)
            return coh_err_set(err, COH_ERR_INVALID,
                               "eligibility.%s must be a non-empty array of at most 64 values", k);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            const char *s = json_string_value(x);
            int ok = is_cat ? coh_market_slug_ok(s) : coh_market_attribute_ok(k, s) == 1;
            if (!ok)
                return coh_err_set(err, COH_ERR_INVALID, "eligibility.%s[%zu] is not a valid value",
                                   k, i);
        }
    }
    return 0;
}

static int field_index(const coh_market_schema *s, const char *name, size_t len)
{
    for (size_t i = 0; i < coh_market_schema_fields(s); i++) {
        const char *n = coh_market_schema_field_name(s, i);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* "count", "sum(f)", "mean(f)", "variance(f)", "median(f)", "histogram(f)",
 * "quantiles(f,0.25,0.5)": numeric fields except histogram, which takes any field. */
static int check_query(const char *q, const coh_market_schema *s, size_t idx, coh_err *err)
{
    if (strcmp(q, "count") == 0)
        return 0;
    const char *open = strchr(q, '('), *close = strrchr(q, ')');
    static const char *const fns[] = {"sum",       "mean",     "variance", "median",
                                      "histogram", "quantiles", NULL};
    size_t fl = open ? (size_t)(open - q) : 0;
    int fn = -1;
    for (int i = 0; open && fns[i]; i++)
        if (strlen(fns[i]) == fl && strncmp(q, fns[i], fl) == 0)
            fn = i;
    if (fn < 0 || !close || close[1] != '\0' || close < open)
        return coh_err_set(err, COH_ERR_INVALID,
                           "privacy.queries[%zu] must be count, sum(f), mean(f), variance(f), "
                           "median(f), histogram(f) or quantiles(f,p,...)",
                           idx);
    const char *arg = open + 1;
    size_t al = strcspn(arg, ",)");
    int f = field_index(s, arg, al);
    if (f < 0)
        return coh_err_set(err, COH_ERR_INVALID, "privacy.queries[%zu] names no field of the schema",
                           idx);
    if (fn != 4 && coh_market_schema_field_type(s, (size_t)f) == COH_FIELD_CATEGORY)
        return coh_err_set(err, COH_ERR_INVALID,
                           "privacy.queries[%zu]: %s needs a numeric field", idx, fns[fn]);
    if (fn == 5) {
        const char *p = arg + al;
        int n = 0;
        while (*p == ',') {
            char *end;
            double v = strtod(p + 1, &end);
            if (end == p + 1 || !(v > 0 && v < 1))
                return coh_err_set(err, COH_ERR_INVALID,
                                   "privacy.queries[%zu]: quantiles must be in (0,1)", idx);
            p = end;
            n++;
        }
        if (!n || *p != ')')
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.queries[%zu]: quantiles(f,p,...) needs probabilities", idx);
    } else if (arg[al] != ')') {
        return coh_err_set(err, COH_ERR_INVALID, "privacy.queries[%zu] takes one field", idx);
    }
    return 0;
}

static int check_privacy(json_t **norm, const json_t *p, const coh_market_schema *s,
                         long min_contributors, const coh_market_floors *f, coh_err *err)
{
    if (!json_is_object(p))
        return coh_err_set(err, COH_ERR_INVALID, "privacy must be an object");
    const char *mode = json_string_value(json_object_get(p, "mode"));
    size_t n_qi = 0, n_sens = 0;
    for (size_t i = 0; i < coh_market_schema_fields(s); i++) {
        n_qi += coh_market_schema_field_role(s, i) == COH_ROLE_QUASI;
        n_sens += coh_market_schema_field_role(s, i) == COH_ROLE_SENSITIVE;
    }
    if (mode && strcmp(mode, "k-anonymity") == 0) {
        json_t *k = json_object_get(p, "k"), *l = json_object_get(p, "l");
        if (!json_is_integer(k) || json_integer_value(k) < 2 || json_integer_value(k) > 1000)
            return coh_err_set(err, COH_ERR_INVALID, "privacy.k must be an integer from 2 to 1000");
        if (json_integer_value(k) < (json_int_t)f->min_k)
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.k must be at least %u, the operator's floor "
                               "(privacy_min_k)",
                               f->min_k);
        /* No column leaves unprotected: a measure would be copied into the microdata as is, and
         * so is a sensitive value, which only a category of few values may be. */
        for (size_t i = 0; i < coh_market_schema_fields(s); i++) {
            const char *const *cats = NULL;
            if (coh_market_schema_field_role(s, i) == COH_ROLE_MEASURE)
                return coh_err_set(err, COH_ERR_INVALID,
                                   "schema.fields[%zu].role: %s is a measure, which only a dp "
                                   "request may have; in k-anonymity every field is a "
                                   "quasi-identifier or sensitive",
                                   i, coh_market_schema_field_name(s, i));
            if (coh_market_schema_field_role(s, i) == COH_ROLE_SENSITIVE &&
                (coh_market_schema_field_type(s, i) != COH_FIELD_CATEGORY ||
                 coh_market_schema_field_categories(s, i, &cats) >
                     COH_MARKET_SENSITIVE_MAX_CATEGORIES))
                return coh_err_set(err, COH_ERR_INVALID,
                                   "schema.fields[%zu].role: %s is sensitive, and a sensitive "
                                   "value is released as given: it must be a category field of "
                                   "at most %d categories (declare numbers as quasi-identifiers)",
                                   i, coh_market_schema_field_name(s, i),
                                   COH_MARKET_SENSITIVE_MAX_CATEGORIES);
        }
        if (min_contributors < json_integer_value(k))
            return coh_err_set(err, COH_ERR_INVALID,
                               "min_contributors must be at least privacy.k: fewer rows can "
                               "never be k-anonymous");
        if (!n_qi)
            return coh_err_set(err, COH_ERR_INVALID,
                               "schema needs a quasi-identifier field for k-anonymity");
        /* Sensitive fields always get l-diversity: the floor when the request names no l. */
        double lv = n_sens ? f->min_l : 1, sup = 0;
        const char *kind = json_string_value(json_object_get(p, "l_kind"));
        if (l && (!decimal_in(l, 1, 100, 0, &lv)))
            return coh_err_set(err, COH_ERR_INVALID, "privacy.l must be a number from 1 to 100");
        if (l && !n_sens)
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.l needs a sensitive field in the schema");
        if (n_sens && lv < f->min_l)
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.l must be at least %g on every sensitive field, the "
                               "operator's floor",
                               f->min_l);
        if (kind && strcmp(kind, "distinct") && strcmp(kind, "entropy"))
            return coh_err_set(err, COH_ERR_INVALID, "privacy.l_kind must be distinct or entropy");
        /* An exact decimal like epsilon and delta (docs/API.md): a string, or a JSON number
         * that reads back as the same decimal of at most 6 places. */
        json_t *ms = json_object_get(p, "max_suppression");
        char sup_s[24];
        coh_rational sq;
        if (ms && (!privacy_decimal(ms, sup_s, &sq) || (sup = strtod(sup_s, NULL)) > 0.5))
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.max_suppression must be a decimal fraction from 0 to 0.5 "
                               "with at most 6 decimals, such as \"0.05\"");
        *norm = json_pack("{s:s,s:I,s:f,s:s,s:f}", "mode", "k-anonymity", "k",
                          json_integer_value(k), "l", lv, "l_kind",
                          kind ? kind : (n_sens ? "distinct" : "none"), "max_suppression", sup);
        return 0;
    }
    if (mode && strcmp(mode, "dp") == 0) {
        double delta = 0;
        char eps_s[24], delta_s[24] = "0", fl[32];
        coh_rational eq, dq = {0, 1};
        json_t *je = json_object_get(p, "epsilon"), *jd = json_object_get(p, "delta");
        if (!je || !privacy_decimal(je, eps_s, &eq) || eq.num == 0)
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.epsilon must be a decimal > 0 with at most 6 decimals");
        if (coh_rational_cmp(eq, f->max_epsilon) > 0) {
            rational_text(fl, f->max_epsilon);
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.epsilon must be at most %s, the operator's floor "
                               "(privacy_max_epsilon)",
                               fl);
        }
        if (jd && !privacy_decimal(jd, delta_s, &dq))
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.delta must be a decimal >= 0 with at most 6 decimals");
        if (coh_rational_cmp(dq, f->max_delta) > 0) {
            rational_text(fl, f->max_delta);
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.delta must be at most %s, the operator's floor "
                               "(privacy_max_delta)",
                               fl);
        }
        delta = strtod(delta_s, NULL);
        if (min_contributors < (long)f->min_dp_contributors)
            return coh_err_set(err, COH_ERR_INVALID,
                               "min_contributors must be at least %u for a dp request, the "
                               "operator's floor (privacy_min_dp_contributors)",
                               f->min_dp_contributors);
        const char *mech = json_string_value(json_object_get(p, "mechanism"));
        if (mech && strcmp(mech, "laplace") && strcmp(mech, "gaussian"))
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.mechanism must be laplace or gaussian");
        if (mech && strcmp(mech, "gaussian") == 0 && delta <= 0)
            return coh_err_set(err, COH_ERR_INVALID, "privacy.delta must be > 0 for gaussian");
        json_t *qs = json_object_get(p, "queries");
        if (!json_is_array(qs) || json_array_size(qs) < 1 || json_array_size(qs) > 20)
            return coh_err_set(err, COH_ERR_INVALID,
                               "privacy.queries must be an array of 1 to 20 queries");
        size_t i;
        json_t *q;
        json_array_foreach(qs, i, q)
        {
            if (!json_is_string(q) || json_string_length(q) > 200)
                return coh_err_set(err, COH_ERR_INVALID, "privacy.queries[%zu] must be a string",
                                   i);
            int rc = check_query(json_string_value(q), s, i, err);
            if (rc)
                return rc;
        }
        const char *gb = json_string_value(json_object_get(p, "group_by"));
        if (json_object_get(p, "group_by") && !json_is_null(json_object_get(p, "group_by"))) {
            int f = gb ? field_index(s, gb, strlen(gb)) : -1;
            if (f < 0 || coh_market_schema_field_type(s, (size_t)f) != COH_FIELD_CATEGORY)
                return coh_err_set(err, COH_ERR_INVALID,
                                   "privacy.group_by must name a category field");
        }
        *norm = json_pack("{s:s,s:s,s:f,s:s,s:O,s:s?}", "mode", "dp", "epsilon", eps_s, "delta",
                          delta, "mechanism", mech ? mech : "laplace", "queries", qs, "group_by",
                          gb);
        return 0;
    }
    return coh_err_set(err, COH_ERR_INVALID, "privacy.mode must be k-anonymity or dp");
}

/*
 * Who may contribute (docs/PRIVACY.md, "Who may enrol"): *norm gets the stored form,
 * {"mode":"open"} or {"mode":"invite","codes":N}. Invite codes are the server's (codes: N) or
 * the researcher's own (code_hashes: their SHA-256), never both; fewer codes than
 * min_contributors could never fill the request. Attested enrollment is attestation.c's.
 */
static int check_enrollment(json_t **norm, const json_t *e, long min_contributors, coh_err *err)
{
    *norm = NULL;
    if (!e || json_is_null(e)) {
        *norm = json_pack("{s:s}", "mode", "open");
        return *norm ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    if (!json_is_object(e))
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment must be an object: {\"mode\": \"open\"} or {\"mode\": "
                           "\"invite\", \"codes\": N}");
    const char *mode = json_string_value(json_object_get(e, "mode"));
    static const char *const open_members[] = {"mode", NULL};
    static const char *const invite_members[] = {"mode", "codes", "code_hashes", NULL};
    if (mode && strcmp(mode, "attested") == 0)
        return coh_market_attested_enrollment(norm, e, err);
    int invite = mode && strcmp(mode, "invite") == 0;
    if (!invite && !(mode && strcmp(mode, "open") == 0))
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.mode must be open, invite or attested");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)e, k, v)
    {
        if (!in_list(k, invite ? invite_members : open_members))
            return coh_err_set(err, COH_ERR_INVALID,
                               "enrollment.%.40s is not a member of %s enrollment", k, mode);
    }
    if (!invite) {
        *norm = json_pack("{s:s}", "mode", "open");
        return *norm ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    json_t *codes = json_object_get(e, "codes"), *hashes = json_object_get(e, "code_hashes");
    json_int_t n;
    if (codes && hashes)
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment: give codes (the server makes them) or code_hashes "
                           "(your own), not both");
    if (hashes) {
        uint8_t(*h)[32] = NULL;
        size_t len = 0;
        int rc = coh_market_invite_hashes(&h, &len, hashes, "enrollment.code_hashes", err);
        free(h);
        if (rc)
            return rc;
        n = (json_int_t)len;
    } else if (!json_is_integer(codes) || json_integer_value(codes) < 1 ||
               json_integer_value(codes) > COH_MARKET_INVITE_CODES_MAX) {
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.codes must be an integer from 1 to %d (or give "
                           "code_hashes)",
                           COH_MARKET_INVITE_CODES_MAX);
    } else {
        n = json_integer_value(codes);
    }
    if (n < (json_int_t)min_contributors)
        return coh_err_set(err, COH_ERR_INVALID,
                           "enrollment.%s: %lld codes can never reach min_contributors (%ld)",
                           hashes ? "code_hashes" : "codes", (long long)n, min_contributors);
    *norm = json_pack("{s:s,s:I}", "mode", "invite", "codes", n);
    return *norm ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}

static const char *const known[] = {
    "title",  "description",      "purpose",          "schema",    "eligibility",    "privacy",
    "reward", "min_contributors", "max_contributors", "closes_at", "retention_days", "enrollment",
    NULL};

int coh_market_spec_validate(json_t **out, const json_t *body, int64_t now_s,
                             const coh_market_floors *floors, coh_err *err)
{
    *out = NULL;
    coh_market_floors defaults;
    if (!floors) {
        coh_market_floors_default(&defaults);
        floors = &defaults;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        if (!in_list(k, known))
            return coh_err_set(err, COH_ERR_INVALID, "%.40s is not a known member", k);
    }
    json_t *title = json_object_get(body, "title"), *desc = json_object_get(body, "description");
    if (!text_ok(title, 1, 200))
        return coh_err_set(err, COH_ERR_INVALID, "title must be a string of 1 to 200 bytes");
    if (desc && !text_ok(desc, 0, 5000))
        return coh_err_set(err, COH_ERR_INVALID, "description must be at most 5000 bytes");
    const char *purpose = json_string_value(json_object_get(body, "purpose"));
    if (!coh_market_slug_ok(purpose))
        return coh_err_set(err, COH_ERR_INVALID,
                           "purpose must be a lowercase slug such as academic-research");
    coh_market_schema *schema;
    int rc = coh_market_schema_parse(&schema, json_object_get(body, "schema"), err);
    if (rc)
        return rc;
    json_t *jmin = json_object_get(body, "min_contributors"),
           *jmax = json_object_get(body, "max_contributors");
    json_t *privacy = NULL, *enrollment = NULL;
    const char *reward = json_string_value(json_object_get(body, "reward"));
    uint8_t u256[32];
    const char *closes = json_string_value(json_object_get(body, "closes_at"));
    int64_t closes_ms = 0;
    json_t *ret = json_object_get(body, "retention_days");
    if (!reward || coh_u256_from_dec(u256, reward) != 0 || coh_u256_is_zero(u256))
        rc = coh_err_set(err, COH_ERR_INVALID,
                         "reward must be a decimal string of a positive uint256 amount in base "
                         "units");
    else if (!json_is_integer(jmin) || json_integer_value(jmin) < 1)
        rc = coh_err_set(err, COH_ERR_INVALID, "min_contributors must be an integer >= 1");
    else if (!json_is_integer(jmax) || json_integer_value(jmax) > 100000)
        rc = coh_err_set(err, COH_ERR_INVALID, "max_contributors must be an integer <= 100000");
    else if (json_integer_value(jmin) > json_integer_value(jmax))
        rc = coh_err_set(err, COH_ERR_INVALID, "min_contributors must not exceed max_contributors");
    else if (!closes || coh_crypto_rfc3339_parse(&closes_ms, closes) != 0)
        rc = coh_err_set(err, COH_ERR_INVALID, "closes_at must be an RFC 3339 date-time");
    else if (closes_ms / 1000 <= now_s)
        rc = coh_err_set(err, COH_ERR_INVALID, "closes_at must be in the future");
    else if (closes_ms / 1000 > now_s + 366 * 86400LL)
        rc = coh_err_set(err, COH_ERR_INVALID, "closes_at must be within a year");
    else if (ret && (!json_is_integer(ret) || json_integer_value(ret) < 0 ||
                     json_integer_value(ret) > 3650))
        rc = coh_err_set(err, COH_ERR_INVALID, "retention_days must be an integer from 0 to 3650");
    else if ((rc = check_eligibility(json_object_get(body, "eligibility"), err)) == 0 &&
             (rc = check_enrollment(&enrollment, json_object_get(body, "enrollment"),
                                    (long)json_integer_value(jmin), err)) == 0)
        rc = check_privacy(&privacy, json_object_get(body, "privacy"), schema,
                           (long)json_integer_value(jmin), floors, err);
    if (!rc && privacy) {
        coh_err perr = {0};
        if (coh_market_release_check(schema, privacy, floors, &perr) != 0)
            rc = coh_err_set(err, COH_ERR_INVALID, "privacy: %s", perr.msg);
    }
    coh_market_schema_free(schema);
    if (rc || !privacy || !enrollment) {
        json_decref(privacy);
        json_decref(enrollment);
        return rc ? rc : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    json_t *elig = json_object_get(body, "eligibility");
    const char *eps = json_string_value(json_object_get(privacy, "epsilon"));
    *out = json_pack("{s:O,s:s,s:s,s:O,s:o,s:o,s:s,s:I,s:I,s:s,s:I,s:s,s:o}", "title", title,
                     "description", desc ? json_string_value(desc) : "", "purpose", purpose,
                     "schema", json_object_get(body, "schema"), "eligibility",
                     elig ? json_incref(elig) : json_object(), "privacy", privacy, "reward", reward,
                     "min_contributors", json_integer_value(jmin), "max_contributors",
                     json_integer_value(jmax), "closes_at", closes, "retention_days",
                     ret ? json_integer_value(ret) : (json_int_t)30, "epsilon", eps ? eps : "0",
                     "enrollment", enrollment);
    return *out ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}
