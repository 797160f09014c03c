/*
 * terms: what a version-2 consent signs about a request (docs/PRIVACY.md, "what a consent signs").
 * The terms are {schema, privacy, eligibility, enrollment, retention_days, purpose} of the request
 * as stored (enrollment "open" for open requests, old and new alike); termsHash is the Keccak-256
 * of their RFC 8785 JSON, and the privacy summary is a short sentence rendered from them, the same
 * bytes every time, so a wallet can show it and a verifier can render it again. Pure: no database,
 * no clock.
 *
 * The terms hold privacy.delta and privacy.max_suppression as JSON numbers, as stored and as
 * wave 2 hashed them; the API writes them as decimal strings (docs/API.md), so a request read
 * from the API is taken back to the numbers here and hashes the same.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* privacy with delta and max_suppression as numbers: a new reference. */
static json_t *hashed_privacy(json_t *privacy)
{
    static const char *const numeric[] = {"delta", "max_suppression"};
    json_t *p = json_incref(privacy);
    for (size_t i = 0; i < 2; i++) {
        const char *s = json_string_value(json_object_get(p, numeric[i]));
        char *end;
        double d = s ? strtod(s, &end) : 0;
        if (!s || !*s || *end)
            continue;
        if (p == privacy) {
            json_decref(p);
            p = json_deep_copy(privacy);
            if (!p)
                return NULL;
        }
        json_object_set_new(p, numeric[i], json_real(d));
    }
    return p;
}

json_t *coh_market_terms(const json_t *request, coh_err *err)
{
    json_t *schema = json_object_get(request, "schema");
    json_t *privacy = json_object_get(request, "privacy");
    json_t *elig = json_object_get(request, "eligibility");
    json_t *ret = json_object_get(request, "retention_days");
    json_t *purpose = json_object_get(request, "purpose");
    /* Open enrollment signs the word "open", as every request stored before enrollment modes
     * did: their consents keep verifying, and an open request hashes the same whether it was
     * posted before or after. Any other mode signs its object (mode and the number of codes). */
    json_t *enrol = json_object_get(request, "enrollment");
    if (enrol && strcmp(coh_market_enrollment_mode(request), "open") == 0)
        enrol = NULL;
    if (!json_is_object(schema) || !json_is_object(privacy) || !json_is_integer(ret) ||
        !json_is_string(purpose) || (elig && !json_is_object(elig) && !json_is_null(elig))) {
        coh_err_set(err, COH_ERR_INVALID, "the request has no complete terms");
        return NULL;
    }
    json_t *t = json_pack("{s:O,s:o,s:o,s:o,s:O,s:O}", "schema", schema, "privacy",
                          hashed_privacy(privacy),
                          "eligibility", json_is_object(elig) ? json_incref(elig) : json_object(),
                          "enrollment",
                          enrol && !json_is_null(enrol) ? json_incref(enrol) : json_string("open"),
                          "retention_days", ret, "purpose", purpose);
    if (!t)
        coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    return t;
}

int coh_market_terms_hash(uint8_t out[32], const json_t *request, coh_err *err)
{
    memset(out, 0, 32);
    json_t *t = coh_market_terms(request, err);
    if (!t)
        return err->code;
    int rc = coh_crypto_jcs_keccak(out, t);
    json_decref(t);
    if (rc)
        return coh_err_set(err, COH_ERR_INVALID, "the request's terms cannot be canonicalized: %s",
                           coh_crypto_strerror(rc));
    return 0;
}

/* A growing string; on OOM ok turns 0 and appends become no-ops. */
struct text {
    char *s;
    size_t len, cap;
    int ok;
};

static void put(struct text *t, const char *fmt, ...)
{
    if (!t->ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->len + (size_t)(n < 0 ? 0 : n) + 1) * 2;
        char *s = n < 0 ? NULL : realloc(t->s, cap);
        if (!s) {
            t->ok = 0;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A stored decimal as people write it: "0.000001", "2", "2.5" (at most 6 decimals). */
static void put_decimal(struct text *t, const json_t *v)
{
    if (json_is_string(v)) {
        put(t, "%s", json_string_value(v));
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.6f", json_number_value(v));
    char *end = buf + strlen(buf);
    while (end > buf && end[-1] == '0')
        *--end = '\0';
    if (end > buf && end[-1] == '.')
        *--end = '\0';
    put(t, "%s", buf);
}

/* The names of the schema's fields with role, comma-separated; the count of them. */
static size_t put_fields_with_role(struct text *t, const json_t *schema, const char *role)
{
    size_t i, n = 0;
    json_t *f;
    json_array_foreach(json_object_get(schema, "fields"), i, f)
    {
        const char *r = json_string_value(json_object_get(f, "role"));
        const char *name = json_string_value(json_object_get(f, "name"));
        if (r && name && strcmp(r, role) == 0)
            put(t, "%s%s", n++ ? ", " : "", name);
    }
    return n;
}

static size_t count_role(const json_t *schema, const char *role)
{
    size_t i, n = 0;
    json_t *f;
    json_array_foreach(json_object_get(schema, "fields"), i, f)
    {
        const char *r = json_string_value(json_object_get(f, "role"));
        n += r && strcmp(r, role) == 0;
    }
    return n;
}

int coh_market_terms_summary(char **out, const json_t *request, coh_err *err)
{
    *out = NULL;
    json_t *terms = coh_market_terms(request, err);
    if (!terms)
        return err->code;
    const json_t *p = json_object_get(terms, "privacy");
    const json_t *schema = json_object_get(terms, "schema");
    const char *mode = json_string_value(json_object_get(p, "mode"));
    struct text t = {NULL, 0, 0, 1};
    if (mode && strcmp(mode, "k-anonymity") == 0) {
        put(&t, "k-anonymity k=%lld", (long long)json_integer_value(json_object_get(p, "k")));
        const char *kind = json_string_value(json_object_get(p, "l_kind"));
        if (count_role(schema, "sensitive")) {
            put(&t, ", l=");
            put_decimal(&t, json_object_get(p, "l"));
            if (kind && strcmp(kind, "entropy") == 0)
                put(&t, " (entropy)");
            put(&t, " on ");
            put_fields_with_role(&t, schema, "sensitive");
        }
        double sup = json_number_value(json_object_get(p, "max_suppression"));
        if (sup > 0) {
            put(&t, ", up to ");
            json_t *pct = json_real(sup * 100);
            put_decimal(&t, pct);
            json_decref(pct);
            put(&t, "%% of rows withheld");
        }
    } else if (mode && strcmp(mode, "dp") == 0) {
        put(&t, "differential privacy \xce\xb5=");
        put_decimal(&t, json_object_get(p, "epsilon"));
        const json_t *delta = json_object_get(p, "delta");
        if (json_number_value(delta) > 0) {
            put(&t, ", \xce\xb4=");
            put_decimal(&t, delta);
        }
        const char *mech = json_string_value(json_object_get(p, "mechanism"));
        put(&t, " (%s): ", mech ? mech : "laplace");
        size_t i;
        json_t *q;
        json_array_foreach(json_object_get(p, "queries"), i, q)
            put(&t, "%s%s", i ? ", " : "", json_is_string(q) ? json_string_value(q) : "?");
        const char *gb = json_string_value(json_object_get(p, "group_by"));
        if (gb)
            put(&t, " by %s", gb);
    } else {
        put(&t, "privacy mode %s", mode ? mode : "unknown");
    }
    json_int_t days = json_integer_value(json_object_get(terms, "retention_days"));
    if (days == 0)
        put(&t, "; encrypted records destroyed at release");
    else
        put(&t, "; encrypted records destroyed %lld day%s after release", (long long)days,
            days == 1 ? "" : "s");
    /* Open requests render as before (their summaries are signed); others say who may enrol. */
    const json_t *enrol = json_object_get(terms, "enrollment");
    if (strcmp(coh_market_enrollment_mode(terms), "invite") == 0)
        put(&t, "; by invitation only: %lld one-time codes",
            (long long)json_integer_value(json_object_get(enrol, "codes")));
    else if (strcmp(coh_market_enrollment_mode(terms), "attested") == 0)
        put(&t, "; attested contributors only: an EAS attestation of schema %.12s... from one of %zu "
                "issuers, one contribution per %s",
            json_string_value(json_object_get(enrol, "schema_uid")),
            json_array_size(json_object_get(enrol, "issuers")),
            json_string_value(json_object_get(enrol, "subject")));
    json_decref(terms);
    if (!t.ok) {
        free(t.s);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    *out = t.s;
    return 0;
}
