/*
 * request_preview: what POST /v1/requests/preview answers. The same validation as creation,
 * against the same floors, and nothing stored: the normalized terms, the privacy summary a
 * contributor's wallet will show, the escrow the request would lock, the operator's floors,
 * and for DP the expected 95% error of each query at the smallest and largest cohort
 * (preview.c), with a warning for a statistic that would be mostly noise.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *floors_json(const coh_market_floors *f)
{
    char eps[48], delta[48];
    snprintf(eps, sizeof eps, "%.6g", (double)f->max_epsilon.num / (double)f->max_epsilon.den);
    snprintf(delta, sizeof delta, "%.6f",
             (double)f->max_delta.num / (double)f->max_delta.den);
    return json_pack("{s:I,s:f,s:s,s:s,s:I}", "min_k", (json_int_t)f->min_k, "min_l", f->min_l,
                     "max_epsilon", eps, "max_delta", delta, "min_dp_contributors",
                     (json_int_t)f->min_dp_contributors);
}

/* The DP queries' expected errors at n contributors; warnings for those mostly noise. */
static int dp_errors(json_t *at, json_t *warnings, const coh_market_schema *s,
                     const json_t *privacy, long n, coh_err *err)
{
    json_t *qs = NULL;
    int rc = coh_market_dp_expected_error(&qs, s, privacy, (size_t)n, err);
    if (rc)
        return rc;
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q)
    {
        if (!json_is_true(json_object_get(q, "mostly_noise")))
            continue;
        char w[300];
        snprintf(w, sizeof w,
                 "%s will be mostly noise with %ld contributors (expected error about %.3g)",
                 json_string_value(json_object_get(q, "query")), n,
                 json_number_value(json_object_get(q, "expected_error_95")));
        json_array_append_new(warnings, json_string(w));
    }
    json_array_append_new(at, json_pack("{s:I,s:o}", "contributors", (json_int_t)n, "queries", qs));
    return 0;
}

int coh_market_request_preview(json_t **out, const json_t *body, int64_t now_s,
                               const coh_market_floors *floors, coh_err *err)
{
    *out = NULL;
    coh_market_floors defaults;
    if (!floors) {
        coh_market_floors_default(&defaults);
        floors = &defaults;
    }
    json_t *spec = NULL;
    int rc = coh_market_spec_validate(&spec, body, now_s, floors, err);
    if (!rc && (rc = coh_market_escrow_check(spec, floors, err)) != 0)
        json_decref(spec);
    if (rc)
        return rc;
    long min = (long)json_integer_value(json_object_get(spec, "min_contributors"));
    long max = (long)json_integer_value(json_object_get(spec, "max_contributors"));
    uint8_t reward[32], escrow[32];
    char escrow_s[COH_U256_DEC_SIZE];
    if (coh_u256_from_dec(reward, json_string_value(json_object_get(spec, "reward"))) ||
        coh_u256_mul_u64(escrow, reward, (uint32_t)max) != 0) {
        json_decref(spec);
        return coh_err_set(err, COH_ERR_INVALID, "reward x max_contributors exceeds a uint256");
    }
    coh_u256_to_dec(escrow_s, escrow);
    json_t *privacy = json_object_get(spec, "privacy");
    json_t *warnings = json_array(), *at = json_array();
    const char *mode = json_string_value(json_object_get(privacy, "mode"));
    if (mode && strcmp(mode, "dp") == 0) {
        coh_market_schema *s = NULL;
        rc = coh_market_schema_parse(&s, json_object_get(spec, "schema"), err);
        if (!rc)
            rc = dp_errors(at, warnings, s, privacy, min, err);
        if (!rc && max != min)
            rc = dp_errors(at, warnings, s, privacy, max, err);
        coh_market_schema_free(s);
    }
    char *summary = NULL;
    if (!rc)
        rc = coh_market_terms_summary(&summary, spec, err);
    /* Open requests say plainly what they cannot stop (docs/PRIVACY.md, "Who may enrol"). */
    if (!rc && strcmp(coh_market_enrollment_mode(spec), "open") == 0)
        json_array_append_new(
            warnings, json_string("open enrollment: any signed-in wallet may contribute, so "
                                  "one person can enrol several wallets and be paid for each, "
                                  "and a small k-anonymous group may be filled with someone's "
                                  "own wallets; use invite codes to choose who takes part"));
    if (!rc)
        *out = json_pack("{s:b,s:o,s:s,s:s,s:o,s:o,s:o}", "valid", 1, "terms", spec,
                         "privacy_summary", summary, "escrow", escrow_s, "floors",
                         floors_json(floors), "expected_errors", at, "warnings", warnings);
    free(summary);
    if (rc) {
        json_decref(spec);
        json_decref(at);
        json_decref(warnings);
    }
    if (!rc && !*out)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    return rc;
}
