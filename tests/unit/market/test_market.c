/* Unit tests for the market module's pure parts: request specification validation, schema
 * parsing, records parsed in secure memory, private matching, money arithmetic. */
#include "market/market.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const base_spec =
    "{\"title\":\"t\",\"purpose\":\"academic-research\","
    "\"schema\":{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,"
    "\"role\":\"quasi-identifier\"},{\"name\":\"bmi\",\"type\":\"decimal\",\"min\":\"10\","
    "\"max\":\"60\",\"decimals\":1,\"role\":\"quasi-identifier\"},{\"name\":\"sex\",\"type\":\"category\","
    "\"categories\":[\"f\",\"m\"],\"role\":\"sensitive\"}]},"
    "\"privacy\":{\"mode\":\"k-anonymity\",\"k\":5},\"reward\":\"10\",\"min_contributors\":5,"
    "\"max_contributors\":50}";

/* base_spec with closes_at set a month from now. */
static json_t *base(void)
{
    json_t *b = json_loads(base_spec, 0, NULL);
    time_t t = time(NULL) + 30 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(b, "closes_at", json_string(when));
    return b;
}

/* Validates base_spec with one member replaced (path "privacy.k" etc. set to value JSON)
 * against floors (NULL: the shipped defaults). */
static int validate_floors(const char *member, const char *sub, const char *value,
                           const coh_market_floors *floors, coh_err *err)
{
    json_t *b = base();
    assert_non_null(b);
    if (member) {
        json_t *v = value ? json_loads(value, JSON_DECODE_ANY, NULL) : NULL;
        if (sub)
            json_object_set_new(json_object_get(b, member), sub, v);
        else if (v)
            json_object_set_new(b, member, v);
        else
            json_object_del(b, member);
    }
    json_t *out = NULL;
    int rc = coh_market_spec_validate(&out, b, (int64_t)time(NULL), floors, err);
    json_decref(out);
    json_decref(b);
    return rc;
}

/* The rules other than the floors: the defaults, with small DP cohorts allowed. */
static int validate_with(const char *member, const char *sub, const char *value, coh_err *err)
{
    coh_market_floors f;
    coh_market_floors_default(&f);
    f.min_dp_contributors = 1;
    return validate_floors(member, sub, value, &f, err);
}

static void test_spec_valid(void **state)
{
    (void)state;
    json_t *b = base(), *out = NULL;
    coh_err err = {0};
    assert_int_equal(coh_market_spec_validate(&out, b, (int64_t)time(NULL), NULL, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "reward")), "10");
    assert_string_equal(json_string_value(json_object_get(out, "epsilon")), "0");
    assert_int_equal(json_integer_value(json_object_get(out, "retention_days")), 30);
    json_decref(out);
    json_decref(b);
}

/* request_min_escrow (issue 17): reward x max_contributors must reach it, exactly. */
static void test_min_escrow(void **state)
{
    (void)state;
    coh_market_floors f;
    coh_market_floors_default(&f);
    json_t *spec = json_pack("{s:s,s:i}", "reward", "200", "max_contributors", 5);
    coh_err err = {0};
    assert_int_equal(coh_market_escrow_check(spec, &f, &err), 0); /* default 0: no minimum */
    assert_int_equal(coh_market_escrow_check(spec, NULL, &err), 0);
    assert_int_equal(coh_u256_from_dec(f.min_escrow, "1000"), 0);
    assert_int_equal(coh_market_escrow_check(spec, &f, &err), 0); /* 200 x 5 = 1000 */
    assert_int_equal(coh_u256_from_dec(f.min_escrow, "1001"), 0);
    assert_int_equal(coh_market_escrow_check(spec, &f, &err), COH_ERR_INVALID);
    assert_string_equal(err.msg,
                        "reward x max_contributors is 1000, below request_min_escrow (1001 base "
                        "units)");
    /* beyond 2^64: compared as uint256 */
    assert_int_equal(coh_u256_from_dec(f.min_escrow, "100000000000000000000"), 0);
    json_object_set_new(spec, "reward", json_string("20000000000000000000"));
    assert_int_equal(coh_market_escrow_check(spec, &f, &err), 0);
    json_object_set_new(spec, "reward", json_string("19999999999999999999"));
    assert_int_equal(coh_market_escrow_check(spec, &f, &err), COH_ERR_INVALID);
    json_decref(spec);
}

static void test_spec_refusals_name_the_member(void **state)
{
    (void)state;
    struct {
        const char *member, *sub, *value, *expect;
    } cases[] = {
        {"privacy", "k", "1", "privacy.k"},
        {"privacy", "k", "6", "min_contributors must be at least privacy.k"},
        {"privacy", "mode", "\"magic\"", "privacy.mode"},
        {"reward", NULL, "\"0\"", "reward"},
        {"reward", NULL, "\"-5\"", "reward"},
        {"reward", NULL, "\"1.5\"", "reward"},
        {"reward", NULL, "10", "reward"},
        {"reward", NULL, "\"1157920892373161954235709850086879078532699846656405640394575840079131296399360\"",
         "reward"},
        {"min_contributors", NULL, "60", "min_contributors must not exceed"},
        {"max_contributors", NULL, "1000000", "max_contributors"},
        {"closes_at", NULL, "\"2001-01-01T00:00:00Z\"", "closes_at must be in the future"},
        {"closes_at", NULL, "\"tomorrow\"", "closes_at must be an RFC 3339"},
        {"purpose", NULL, "\"Academic Research\"", "purpose"},
        {"title", NULL, "\"\"", "title"},
        {"colour", NULL, "\"red\"", "colour is not a known member"},
        {"eligibility", NULL, "{\"age_band\":[\"12-17\"]}", "eligibility.age_band[0]"},
        {"eligibility", NULL, "{\"income\":[\"high\"]}", "eligibility.income"},
        {"schema", NULL, "{\"fields\":[{\"name\":\"x\",\"type\":\"blob\",\"role\":\"measure\"}]}",
         "schema.fields[0].type"},
        {"schema", NULL, "{\"fields\":[{\"name\":\"x\",\"type\":\"integer\",\"role\":\"measure\"}]}",
         "schema.fields[0].min"},
        {"schema", NULL,
         "{\"fields\":[{\"name\":\"x\",\"type\":\"decimal\",\"min\":0,\"max\":1e12,\"role\":"
         "\"measure\"}]}",
         "schema.fields[0]"},
        {"schema", NULL,
         "{\"fields\":[{\"name\":\"x\",\"type\":\"integer\",\"min\":5,\"max\":1,\"role\":"
         "\"measure\"}]}",
         "schema.fields[0].min must be below max"},
        {"schema", NULL,
         "{\"fields\":[{\"name\":\"a\",\"type\":\"category\",\"categories\":[\"x\",\"x\"],"
         "\"role\":\"quasi-identifier\"}]}",
         "duplicate"},
        {"schema", NULL,
         "{\"fields\":[{\"name\":\"a\",\"type\":\"integer\",\"min\":0,\"max\":9,\"role\":"
         "\"measure\"}]}",
         "quasi-identifier"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        coh_err err = {0};
        int rc = validate_with(cases[i].member, cases[i].sub, cases[i].value, &err);
        if (rc != COH_ERR_INVALID || !strstr(err.msg, cases[i].expect))
            fail_msg("case %zu (%s): rc %d, message '%s', expected '%s'", i, cases[i].member, rc,
                     err.msg, cases[i].expect);
    }
}

static void test_spec_dp(void **state)
{
    (void)state;
    coh_err err = {0};
    assert_int_equal(validate_with("privacy", NULL,
                                   "{\"mode\":\"dp\",\"epsilon\":\"1\",\"queries\":[\"count\","
                                   "\"mean(age)\",\"histogram(sex)\"]}",
                                   &err),
                     0);
    assert_int_equal(validate_with("privacy", NULL,
                                   "{\"mode\":\"dp\",\"epsilon\":\"0\",\"queries\":[\"count\"]}",
                                   &err),
                     COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "privacy.epsilon"));
    assert_int_equal(validate_with("privacy", NULL,
                                   "{\"mode\":\"dp\",\"epsilon\":\"1\",\"queries\":[\"mean(sex)\"]}",
                                   &err),
                     COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "numeric"));
    assert_int_equal(validate_with("privacy", NULL,
                                   "{\"mode\":\"dp\",\"epsilon\":\"1\",\"mechanism\":\"gaussian\","
                                   "\"queries\":[\"count\"]}",
                                   &err),
                     COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "delta"));
}

/* The attacks of issue 13, at creation: each is refused naming the member and the floor. */
static void test_spec_floors(void **state)
{
    (void)state;
    struct {
        const char *member, *sub, *value, *expect;
    } cases[] = {
        /* raw columns through a measure role */
        {"schema", NULL,
         "{\"fields\":[{\"name\":\"c\",\"type\":\"integer\",\"min\":0,\"max\":9,\"role\":"
         "\"quasi-identifier\"},{\"name\":\"zip\",\"type\":\"integer\",\"min\":0,\"max\":"
         "99999,\"role\":\"measure\"}]}",
         "schema.fields[1].role: zip is a measure"},
        /* raw columns through a sensitive role (released as given) */
        {"schema", NULL,
         "{\"fields\":[{\"name\":\"c\",\"type\":\"integer\",\"min\":0,\"max\":9,\"role\":"
         "\"quasi-identifier\"},{\"name\":\"zip\",\"type\":\"integer\",\"min\":0,\"max\":"
         "99999,\"role\":\"sensitive\"}]}",
         "schema.fields[1].role: zip is sensitive"},
        /* k below the floor */
        {"privacy", NULL, "{\"mode\":\"k-anonymity\",\"k\":2}", "privacy.k must be at least 5"},
        /* l below the floor on a sensitive field */
        {"privacy", NULL, "{\"mode\":\"k-anonymity\",\"k\":5,\"l\":1}",
         "privacy.l must be at least 2"},
        /* epsilon above the floor */
        {"privacy", NULL, "{\"mode\":\"dp\",\"epsilon\":\"10\",\"queries\":[\"count\"]}",
         "privacy.epsilon must be at most 1"},
        {"privacy", NULL, "{\"mode\":\"dp\",\"epsilon\":1.5,\"queries\":[\"count\"]}",
         "privacy.epsilon must be at most 1"},
        /* 18 decimals */
        {"privacy", NULL,
         "{\"mode\":\"dp\",\"epsilon\":\"0.123456789012345678\",\"queries\":[\"count\"]}",
         "at most 6 decimals"},
        {"privacy", NULL,
         "{\"mode\":\"dp\",\"epsilon\":0.1234567,\"queries\":[\"count\"]}",
         "at most 6 decimals"},
        {"privacy", NULL,
         "{\"mode\":\"dp\",\"epsilon\":\"0.5\",\"delta\":\"0.00001\",\"mechanism\":"
         "\"gaussian\",\"queries\":[\"count\"]}",
         "privacy.delta must be at most 1e-06"},
        /* a DP cohort below 50 (base_spec has min_contributors 5) */
        {"privacy", NULL, "{\"mode\":\"dp\",\"epsilon\":\"0.5\",\"queries\":[\"count\"]}",
         "min_contributors must be at least 50"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        coh_err err = {0};
        int rc = validate_floors(cases[i].member, cases[i].sub, cases[i].value, NULL, &err);
        if (rc != COH_ERR_INVALID || !strstr(err.msg, cases[i].expect))
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", i, rc, err.msg,
                     cases[i].expect);
    }
    /* Within the floors: a canonical epsilon is stored, whatever its spelling. */
    json_t *b = base(), *out = NULL;
    json_object_set_new(b, "min_contributors", json_integer(50));
    json_object_set_new(b, "privacy",
                        json_pack("{s:s,s:s,s:[s]}", "mode", "dp", "epsilon", "0.500000",
                                  "queries", "count"));
    coh_err err = {0};
    assert_int_equal(coh_market_spec_validate(&out, b, (int64_t)time(NULL), NULL, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "epsilon")), "0.5");
    json_decref(out);
    /* A sensitive field gets l = 2 (distinct) when the request names no l. */
    json_object_set_new(b, "min_contributors", json_integer(5));
    json_object_set_new(b, "privacy", json_pack("{s:s,s:i}", "mode", "k-anonymity", "k", 5));
    assert_int_equal(coh_market_spec_validate(&out, b, (int64_t)time(NULL), NULL, &err), 0);
    json_t *p = json_object_get(out, "privacy");
    assert_true(json_number_value(json_object_get(p, "l")) >= 2);
    assert_string_equal(json_string_value(json_object_get(p, "l_kind")), "distinct");
    json_decref(out);
    json_decref(b);
}

/* Appends a record given as text, through secure memory, to a fresh table of the schema. */
static int append(const coh_market_schema *s, const char *text, coh_err *err)
{
    coh_table *t;
    assert_int_equal(coh_market_schema_table(&t, s, err), 0);
    coh_secbuf *b = coh_secbuf_new(strlen(text));
    memcpy(coh_secbuf_data(b), text, strlen(text));
    int rc = coh_market_record_append(t, s, b, err);
    coh_secbuf_free(b);
    coh_table_free(t);
    return rc;
}

static void test_records(void **state)
{
    (void)state;
    json_t *b = json_loads(base_spec, 0, NULL);
    coh_market_schema *s;
    coh_err err = {0};
    assert_int_equal(coh_market_schema_parse(&s, json_object_get(b, "schema"), &err), 0);
    assert_int_equal(append(s, "{\"age\": 40, \"bmi\": 22.5, \"sex\": \"f\"}", &err), 0);
    assert_int_equal(append(s, " {\"sex\":\"\\u006d\",\"bmi\":30,\"age\":18} ", &err), 0);
    struct {
        const char *text, *expect, *secret;
    } bad[] = {
        {"{\"age\": 40, \"bmi\": 22.5}", "'sex' is missing", NULL},
        {"{\"age\": 40.5, \"bmi\": 22.5, \"sex\": \"f\"}", "'age' must be an integer", "40.5"},
        {"{\"age\": 40, \"bmi\": 22.55, \"sex\": \"f\"}", "more than 1 decimals", "22.55"},
        {"{\"age\": 140, \"bmi\": 22.5, \"sex\": \"f\"}", "'age'", "140"},
        {"{\"age\": 40, \"bmi\": 22.5, \"sex\": \"xyzzy\"}", "'sex'", "xyzzy"},
        {"{\"age\": 40, \"bmi\": 22.5, \"sex\": \"f\", \"ssn\": 1}", "'ssn' is not a field", NULL},
        {"{\"age\": 40, \"age\": 41, \"bmi\": 22.5, \"sex\": \"f\"}", "appears twice", "41"},
        {"{\"age\": 4e1, \"bmi\": 22.5, \"sex\": \"f\"}", "without exponent", NULL},
        {"{\"age\": \"40\", \"bmi\": 22.5, \"sex\": \"f\"}", "'age' must be a JSON number", NULL},
        {"{\"age\": 40, \"bmi\": 22.5, \"sex\": \"f\"} x", "trailing data", NULL},
        {"[40, 22.5, \"f\"]", "must be a JSON object", NULL},
        {"{\"age\": 40, \"bmi\": 22.5, \"sex\": \"f\\ud800\"}", "'sex' must be a string", NULL},
        {"{\"age\": NaN, \"bmi\": 22.5, \"sex\": \"f\"}", "'age'", NULL},
        {"", "must be a JSON object", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        int rc = append(s, bad[i].text, &err);
        if (rc != COH_ERR_INVALID || !strstr(err.msg, bad[i].expect))
            fail_msg("record %zu: rc %d, message '%s', expected '%s'", i, rc, err.msg,
                     bad[i].expect);
        if (bad[i].secret && strstr(err.msg, bad[i].secret))
            fail_msg("record %zu: the message '%s' echoes the value", i, err.msg);
    }
    coh_market_schema_free(s);
    json_decref(b);
}

static void test_match(void **state)
{
    (void)state;
    json_t *req = json_pack("{s:s,s:s,s:s,s:{s:[s,s],s:[s]}}", "purpose", "academic-research",
                            "reward", "100", "epsilon", "1", "eligibility", "age_band", "25-34",
                            "35-44", "categories", "fitness");
    json_t *p = json_pack("{s:[s],s:s,s:s,s:s,s:[s,s],s:{s:s}}", "purposes",
                          "academic-research", "min_reward", "50", "lifetime_epsilon", "10",
                          "epsilon_spent", "0", "categories", "fitness", "sleep", "attributes",
                          "age_band", "35-44");
    assert_true(coh_market_match(req, p));
    json_object_set_new(p, "min_reward", json_string("101"));
    assert_false(coh_market_match(req, p)); /* reward below the minimum */
    json_object_set_new(p, "min_reward", json_string("99"));
    assert_true(coh_market_match(req, p));
    json_object_set_new(p, "epsilon_spent", json_string("9.5"));
    assert_false(coh_market_match(req, p)); /* not enough lifetime budget left */
    json_object_set_new(p, "epsilon_spent", json_string("0"));
    json_object_set_new(json_object_get(p, "attributes"), "age_band", json_string("55-64"));
    assert_false(coh_market_match(req, p)); /* not eligible */
    json_object_del(json_object_get(p, "attributes"), "age_band");
    assert_false(coh_market_match(req, p)); /* attribute not disclosed */
    json_object_set_new(json_object_get(p, "attributes"), "age_band", json_string("25-34"));
    json_object_set_new(p, "purposes", json_pack("[s]", "marketing"));
    assert_false(coh_market_match(req, p)); /* purpose not accepted */
    json_decref(req);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_valid),  cmocka_unit_test(test_spec_refusals_name_the_member),
        cmocka_unit_test(test_spec_floors), cmocka_unit_test(test_spec_dp),
        cmocka_unit_test(test_records),     cmocka_unit_test(test_match),
        cmocka_unit_test(test_min_escrow),
    };
    if (coh_process_harden() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
