/*
 * test_profile: the rules of PUT /v1/me/profile without HTTP (market/profile.c): every member
 * checked, an unknown one named, what null means, addresses normalized, and the attribute
 * vocabulary shared with eligibility (market/vocab.c).
 */
#include "market/market.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static json_t *body; /* what u points into, kept until the next parse */

/* Parses text as a profile body; returns the result and leaves the reason in err. */
static int parse(struct coh_market_profile_update *u, const char *text, coh_err *err)
{
    json_error_t je;
    json_decref(body);
    body = json_loads(text, 0, &je);
    if (!body)
        fail_msg("bad JSON in test: %s", je.text);
    memset(err, 0, sizeof *err);
    return coh_market_profile_parse(u, body, err);
}

static void test_full_profile(void **state)
{
    (void)state;
    struct coh_market_profile_update u;
    coh_err err;
    assert_int_equal(
        parse(&u,
              "{\"roles\":[\"contributor\"],\"display_name\":\"Ada\",\"consent_profile\":{"
              "\"categories\":[\"fitness\"],\"attributes\":{\"country\":\"DE\",\"sex\":\"female\","
              "\"age_band\":\"35-44\"},\"purposes\":[\"academic-research\"],\"min_reward\":\"10\","
              "\"lifetime_epsilon\":\"2.5\",\"min_k\":10,\"max_epsilon\":null,"
              "\"statistics_only\":true,\"payout_address\":"
              "\"0x52908400098527886E0F7030069857D2E4169EE7\"}}",
              &err),
        0);
    assert_int_equal(u.contributor, 1);
    assert_int_equal(u.researcher, 0);
    assert_string_equal(u.display_name, "Ada");
    assert_string_equal(u.min_k, "10");
    assert_string_equal(u.max_epsilon, ""); /* null: none of one's own */
    assert_int_equal(u.statistics_only, 1);
    assert_string_equal(u.payout_address, "0x52908400098527886e0f7030069857d2e4169ee7");
}

static void test_omitted_members_unchanged(void **state)
{
    (void)state;
    struct coh_market_profile_update u;
    coh_err err;
    assert_int_equal(parse(&u, "{\"display_name\":\"B\"}", &err), 0);
    assert_int_equal(u.researcher, -1);
    assert_int_equal(u.contributor, -1);
    assert_int_equal(u.statistics_only, -1);
    assert_null(u.min_k);
    assert_null(u.payout_address);
    assert_null(u.categories);
}

static void test_refusals_name_the_member(void **state)
{
    (void)state;
    static const struct {
        const char *body, *says;
    } cases[] = {
        {"{\"role\":[\"researcher\"]}", "unknown member 'role'"},
        {"{\"roles\":[]}", "'roles' must be a non-empty array"},
        {"{\"roles\":[\"admin\"]}", "'roles' must be a non-empty array"},
        {"{\"roles\":[\"researcher\",\"admin\"]}", "'roles' may hold only"},
        {"{\"display_name\":\"Lab\\u202egnp.exe\"}", "bidirectional control characters"},
        {"{\"display_name\":\"a\\nb\"}", "control characters"},
        {"{\"consent_profile\":{\"colour\":1}}", "unknown member 'consent_profile.colour'"},
        {"{\"consent_profile\":{\"attributes\":{\"country\":\"Germany\"}}}",
         "'attributes.country' must be an ISO 3166-1 alpha-2 code"},
        {"{\"consent_profile\":{\"attributes\":{\"height\":\"tall\"}}}",
         "'attributes.height' is not a known attribute"},
        {"{\"consent_profile\":{\"min_k\":1}}", "'consent_profile.min_k' must be an integer"},
        {"{\"consent_profile\":{\"lifetime_epsilon\":\"0.1234567\"}}", "at most 6 decimals"},
        {"{\"consent_profile\":{\"min_reward\":\"-1\"}}", "'consent_profile.min_reward'"},
        {"{\"consent_profile\":{\"payout_address\":\"0x52908400098527886e0F7030069857D2E4169EE7\"}"
         "}",
         "'consent_profile.payout_address'"}, /* a broken EIP-55 checksum */
        {"{\"consent_profile\":{\"categories\":[\"Fitness\"]}}",
         "'consent_profile.categories[0]' must be a lowercase slug"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct coh_market_profile_update u;
        coh_err err;
        if (parse(&u, cases[i].body, &err) != COH_ERR_INVALID)
            fail_msg("%s: accepted", cases[i].body);
        if (!strstr(err.msg, cases[i].says))
            fail_msg("%s: said '%s', expected '%s'", cases[i].body, err.msg, cases[i].says);
    }
}

static void test_vocabulary_shared_with_eligibility(void **state)
{
    (void)state;
    assert_int_equal(coh_market_attribute_ok("age_band", "65+"), 1);
    assert_int_equal(coh_market_attribute_ok("age_band", "66+"), 0);
    assert_int_equal(coh_market_attribute_ok("country", "de"), 0);
    assert_int_equal(coh_market_attribute_ok("shoe_size", "42"), -1);
    assert_true(coh_market_slug_ok("academic-research"));
    assert_false(coh_market_slug_ok(""));
    assert_false(coh_market_slug_ok("Academic"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_profile),
        cmocka_unit_test(test_omitted_members_unchanged),
        cmocka_unit_test(test_refusals_name_the_member),
        cmocka_unit_test(test_vocabulary_shared_with_eligibility),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(body);
    return failed;
}
