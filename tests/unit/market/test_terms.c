/*
 * test_terms: the terms a version-2 consent signs (their canonical JSON, hash and privacy
 * summary) and private matching within a contributor's own floors (min_k, max_epsilon,
 * statistics_only), with epsilons compared exactly.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fail_msg("bad JSON in test: %s", e.text);
    return v;
}

/* A k-anonymity request as GET /v1/requests/{id} shows it (members beyond the terms too). */
static const char *KANON =
    "{\"id\":\"0x01\",\"title\":\"T\",\"purpose\":\"academic-research\",\"reward\":\"100\","
    "\"epsilon\":\"0\",\"retention_days\":30,\"eligibility\":{\"sex\":[\"female\"]},"
    "\"schema\":{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,"
    "\"role\":\"quasi-identifier\"},{\"name\":\"diagnosis\",\"type\":\"category\","
    "\"categories\":[\"a\",\"b\"],\"role\":\"sensitive\"}]},"
    "\"privacy\":{\"mode\":\"k-anonymity\",\"k\":10,\"l\":2.0,\"l_kind\":\"distinct\","
    "\"max_suppression\":0.0}}";

static const char *DP =
    "{\"id\":\"0x02\",\"title\":\"T\",\"purpose\":\"academic-research\",\"reward\":\"100\","
    "\"epsilon\":\"1\",\"retention_days\":1,\"eligibility\":{},"
    "\"schema\":{\"fields\":[{\"name\":\"steps\",\"type\":\"integer\",\"min\":0,\"max\":100000,"
    "\"role\":\"measure\"},{\"name\":\"sex\",\"type\":\"category\",\"categories\":[\"f\",\"m\"],"
    "\"role\":\"quasi-identifier\"}]},"
    "\"privacy\":{\"mode\":\"dp\",\"epsilon\":\"1\",\"delta\":0.000001,\"mechanism\":\"laplace\","
    "\"queries\":[\"count\",\"mean(steps)\"],\"group_by\":\"sex\"}}";

static void test_terms_object_and_hash(void **state)
{
    (void)state;
    json_t *r = load(KANON);
    coh_err err = {0};
    json_t *t = coh_market_terms(r, &err);
    assert_non_null(t);
    char *jcs = NULL;
    assert_int_equal(coh_crypto_jcs_serialize(&jcs, NULL, t), 0);
    /* Exactly the six members, sorted, the request's other members (title, reward) left out. */
    assert_string_equal(
        jcs, "{\"eligibility\":{\"sex\":[\"female\"]},\"enrollment\":\"open\",\"privacy\":{\"k\":"
             "10,\"l\":2,\"l_kind\":\"distinct\",\"max_suppression\":0,\"mode\":\"k-anonymity\"},"
             "\"purpose\":\"academic-research\",\"retention_days\":30,\"schema\":{\"fields\":[{"
             "\"max\":100,\"min\":18,\"name\":\"age\",\"role\":\"quasi-identifier\",\"type\":"
             "\"integer\"},{\"categories\":[\"a\",\"b\"],\"name\":\"diagnosis\",\"role\":"
             "\"sensitive\",\"type\":\"category\"}]}}");
    uint8_t h[32], want[32];
    assert_int_equal(coh_market_terms_hash(h, r, &err), 0);
    coh_crypto_keccak256(want, jcs, strlen(jcs));
    assert_memory_equal(h, want, 32);
    /* Any change to the terms changes the hash; a title does not (it is not a term). */
    json_object_set_new(r, "title", json_string("Other"));
    assert_int_equal(coh_market_terms_hash(want, r, &err), 0);
    assert_memory_equal(h, want, 32);
    json_object_set_new(json_object_get(r, "privacy"), "k", json_integer(5));
    assert_int_equal(coh_market_terms_hash(want, r, &err), 0);
    assert_memory_not_equal(h, want, 32);
    /* A request naming its enrollment signs that instead of "open". */
    json_object_set_new(r, "enrollment", json_string("invite"));
    json_t *t2 = coh_market_terms(r, &err);
    assert_string_equal(json_string_value(json_object_get(t2, "enrollment")), "invite");
    json_decref(t2);
    free(jcs);
    json_decref(t);
    /* Without terms: refused, not a hash of nothing. */
    json_object_del(r, "schema");
    assert_int_not_equal(coh_market_terms_hash(h, r, &err), 0);
    assert_int_equal(err.code, COH_ERR_INVALID);
    json_decref(r);
}

static void test_terms_summary(void **state)
{
    (void)state;
    coh_err err = {0};
    char *s = NULL;
    json_t *r = load(KANON);
    assert_int_equal(coh_market_terms_summary(&s, r, &err), 0);
    assert_string_equal(
        s, "k-anonymity k=10, l=2 on diagnosis; encrypted records destroyed 30 days after release");
    free(s);
    json_t *p = json_object_get(r, "privacy");
    json_object_set_new(p, "l", json_real(2.5));
    json_object_set_new(p, "l_kind", json_string("entropy"));
    json_object_set_new(p, "max_suppression", json_real(0.05));
    json_object_set_new(r, "retention_days", json_integer(0));
    assert_int_equal(coh_market_terms_summary(&s, r, &err), 0);
    assert_string_equal(s, "k-anonymity k=10, l=2.5 (entropy) on diagnosis, up to 5% of rows "
                           "withheld; encrypted records destroyed at release");
    free(s);
    json_decref(r);

    r = load(DP);
    assert_int_equal(coh_market_terms_summary(&s, r, &err), 0);
    assert_string_equal(s, "differential privacy \xce\xb5=1, \xce\xb4=0.000001 (laplace): count, "
                           "mean(steps) by sex; encrypted records destroyed 1 day after release");
    free(s);
    /* Deterministic: the same request renders the same bytes. */
    char *s2 = NULL;
    assert_int_equal(coh_market_terms_summary(&s, r, &err), 0);
    assert_int_equal(coh_market_terms_summary(&s2, r, &err), 0);
    assert_string_equal(s, s2);
    free(s);
    free(s2);
    json_decref(r);
}

/* docs/API.md: the API writes delta and max_suppression as decimal strings; the terms hash
 * and summary of a request read back from the API are those of the stored request. */
static void test_terms_api_decimals(void **state)
{
    (void)state;
    coh_err err = {0};
    const char *texts[] = {KANON, DP};
    for (size_t i = 0; i < 2; i++) {
        json_t *stored = load(texts[i]), *api = load(texts[i]);
        json_t *p = json_object_get(api, "privacy");
        if (i == 0)
            json_object_set_new(p, "max_suppression", json_string("0"));
        else
            json_object_set_new(p, "delta", json_string("0.000001"));
        uint8_t h1[32], h2[32];
        assert_int_equal(coh_market_terms_hash(h1, stored, &err), 0);
        assert_int_equal(coh_market_terms_hash(h2, api, &err), 0);
        assert_memory_equal(h1, h2, 32);
        char *s1 = NULL, *s2 = NULL;
        assert_int_equal(coh_market_terms_summary(&s1, stored, &err), 0);
        assert_int_equal(coh_market_terms_summary(&s2, api, &err), 0);
        assert_string_equal(s1, s2);
        free(s1);
        free(s2);
        /* The request read from the API is not changed by hashing it. */
        assert_true(json_is_string(json_object_get(p, i == 0 ? "max_suppression" : "delta")));
        json_decref(stored);
        json_decref(api);
    }
}

static json_t *profile(void)
{
    return load("{\"purposes\":[\"academic-research\"],\"min_reward\":\"0\","
                "\"lifetime_epsilon\":\"10\",\"epsilon_spent\":\"0\",\"categories\":[],"
                "\"attributes\":{\"sex\":\"female\"},\"min_k\":null,\"max_epsilon\":null,"
                "\"statistics_only\":false}");
}

static void test_match_contributor_floors(void **state)
{
    (void)state;
    json_t *k = load(KANON), *dp = load(DP), *p = profile();
    assert_true(coh_market_match(k, p));
    assert_true(coh_market_match(dp, p));

    json_object_set_new(p, "min_k", json_integer(11));
    assert_false(coh_market_match(k, p)); /* k=10 below the contributor's 11 */
    assert_true(coh_market_match(dp, p)); /* min_k says nothing about statistics */
    json_object_set_new(p, "min_k", json_integer(10));
    assert_true(coh_market_match(k, p)); /* k >= min_k */

    json_object_set_new(p, "statistics_only", json_true());
    assert_false(coh_market_match(k, p)); /* microdata, however generalized */
    assert_true(coh_market_match(dp, p));
    json_object_set_new(p, "statistics_only", json_false());

    json_object_set_new(p, "max_epsilon", json_string("0.5"));
    assert_false(coh_market_match(dp, p)); /* epsilon 1 > 0.5 */
    assert_true(coh_market_match(k, p));   /* k-anonymity spends no epsilon */
    json_object_set_new(p, "max_epsilon", json_string("1.000000"));
    assert_true(coh_market_match(dp, p)); /* equal is within */
    json_object_set_new(p, "max_epsilon", json_string("0.999999"));
    assert_false(coh_market_match(dp, p));
    json_object_set_new(p, "max_epsilon", json_null());

    /* Lifetime budget, exactly: 0.1 + 0.2 against 0.3, which doubles get wrong. */
    json_object_set_new(dp, "epsilon", json_string("0.2"));
    json_object_set_new(p, "lifetime_epsilon", json_string("0.3"));
    json_object_set_new(p, "epsilon_spent", json_string("0.1"));
    assert_true(coh_market_match(dp, p));
    json_object_set_new(p, "epsilon_spent", json_string("0.100001"));
    assert_false(coh_market_match(dp, p));
    /* An epsilon that cannot be read exactly does not match. */
    json_object_set_new(p, "epsilon_spent", json_string("0"));
    json_object_set_new(dp, "epsilon", json_string("0.1234567890123456789012"));
    assert_false(coh_market_match(dp, p));
    json_decref(k);
    json_decref(dp);
    json_decref(p);
}

static void test_within_operator_floors(void **state)
{
    (void)state;
    json_t *k = load(KANON), *dp = load(DP);
    json_object_set_new(dp, "max_contributors", json_integer(100));
    coh_market_floors f;
    coh_market_floors_default(&f); /* k >= 5, epsilon <= 1, delta <= 1e-6, 50 contributors */
    assert_true(coh_market_within_operator_floors(k, &f));
    assert_true(coh_market_within_operator_floors(dp, &f));
    assert_true(coh_market_within_operator_floors(dp, NULL));
    f.min_k = 11; /* raised after the k=10 request was posted */
    assert_false(coh_market_within_operator_floors(k, &f));
    f.max_epsilon = (coh_rational){999999, 1000000};
    assert_false(coh_market_within_operator_floors(dp, &f));
    f.max_epsilon = (coh_rational){1, 1};
    f.max_delta = (coh_rational){0, 1};
    assert_false(coh_market_within_operator_floors(dp, &f)); /* delta 0.000001 > 0 */
    f.max_delta = (coh_rational){1, 1000000};
    f.min_dp_contributors = 101;
    assert_false(coh_market_within_operator_floors(dp, &f)); /* 100 can never be enough */
    json_decref(k);
    json_decref(dp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_object_and_hash),
        cmocka_unit_test(test_terms_summary),
        cmocka_unit_test(test_terms_api_decimals),
        cmocka_unit_test(test_match_contributor_floors),
        cmocka_unit_test(test_within_operator_floors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
