/*
 * test_enrollment: who may contribute to a request (issue 17). The spec rules of `enrollment`
 * (open by default, invite with N server codes or the researcher's own hashes, attested with
 * issuers, an EAS schema, a subject and attested eligibility), the invite codes' text and hash,
 * an attestation's data decoded by the schema, and what a consent signs about enrollment: open
 * requests, stored before enrollment modes or after, hash the same terms, so consents already
 * signed keep verifying.
 */
#include "crypto/crypto.h"
#include "market/market.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const base_spec =
    "{\"title\":\"t\",\"purpose\":\"academic-research\","
    "\"schema\":{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,"
    "\"role\":\"quasi-identifier\"},{\"name\":\"sex\",\"type\":\"category\","
    "\"categories\":[\"f\",\"m\"],\"role\":\"sensitive\"}]},"
    "\"privacy\":{\"mode\":\"k-anonymity\",\"k\":5},\"reward\":\"10\",\"min_contributors\":5,"
    "\"max_contributors\":50}";

/* base_spec closing in a month, with enrollment set to the JSON text e (NULL: absent). */
static int validate(json_t **out, const char *e, coh_err *err)
{
    json_t *b = json_loads(base_spec, 0, NULL);
    assert_non_null(b);
    time_t t = time(NULL) + 30 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(b, "closes_at", json_string(when));
    if (e) {
        json_t *v = json_loads(e, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_object_set_new(b, "enrollment", v);
    }
    *out = NULL;
    int rc = coh_market_spec_validate(out, b, (int64_t)time(NULL), NULL, err);
    json_decref(b);
    return rc;
}

/* The stored enrollment of a valid spec, as compact JSON (caller frees). */
static char *stored(const char *e)
{
    json_t *out;
    coh_err err = {0};
    int rc = validate(&out, e, &err);
    if (rc)
        fail_msg("enrollment %s refused: %s", e ? e : "(absent)", err.msg);
    char *s = json_dumps(json_object_get(out, "enrollment"), JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    return s;
}

/* n distinct code hashes as a JSON array; dup repeats the first at the end. */
static char *hashes_json(size_t n, int dup)
{
    char *s = malloc(n * 70 + 80), *o = s;
    *o++ = '[';
    for (size_t i = 0; i < n + (dup ? 1 : 0); i++) {
        uint8_t h[32];
        char code[32]; /* "code-" and a size_t in decimal */
        snprintf(code, sizeof code, "code-%zu", i < n ? i : 0);
        assert_int_equal(coh_market_invite_code_hash(h, code), 0);
        o += sprintf(o, "%s\"0x", i ? "," : "");
        coh_hex_encode(o, h, 32, 0);
        o += 64;
        *o++ = '"';
    }
    *o++ = ']';
    *o = '\0';
    return s;
}

static void test_enrollment_accepted_forms(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
    } ok[] = {
        {NULL, "{\"mode\":\"open\"}"},
        {"null", "{\"mode\":\"open\"}"},
        {"{\"mode\":\"open\"}", "{\"mode\":\"open\"}"},
        {"{\"mode\":\"invite\",\"codes\":5}", "{\"codes\":5,\"mode\":\"invite\"}"},
        {"{\"mode\":\"invite\",\"codes\":10000}", "{\"codes\":10000,\"mode\":\"invite\"}"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *s = stored(ok[i].in);
        assert_string_equal(s, ok[i].want);
        free(s);
    }
    /* The researcher's own hashes: stored as their number, never in the request itself. */
    char *h = hashes_json(7, 0), e[1200];
    snprintf(e, sizeof e, "{\"mode\":\"invite\",\"code_hashes\":%s}", h);
    char *s = stored(e);
    assert_string_equal(s, "{\"codes\":7,\"mode\":\"invite\"}");
    free(s);
    free(h);
}

/* An attested enrollment with a member replaced (the later of two equal keys wins). */
#define ISSUER "0x2b5ad5c4795c026514f8317c7a215e218dccd6cf"
#define ISSUERS "\"issuers\":[\"" ISSUER "\"],"
#define ATT(extra)                                                                               \
    "{\"mode\":\"attested\",\"issuers\":[\"" ISSUER "\"],\"schema\":\"bytes32 subject,string "   \
    "country\",\"subject\":\"subject\",\"eas\":{\"address\":"                                    \
    "\"0x4200000000000000000000000000000000000021\",\"version\":\"1.3.0\",\"chain_id\":10}," extra \
    "\"mode\":\"attested\"}"

/* The stored form: issuers lowercase, the schema UID as the EAS registry computes it, the
 * resolver and revocability it covers, attested eligibility and the EAS domain. */
static void test_attested_stored(void **state)
{
    (void)state;
    char *s = stored(ATT("\"issuers\":[\"0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF\"],"
                         "\"eligibility\":{\"country\":[\"DE\",\"FR\"]},"));
    uint8_t uid[32], zero[20] = {0};
    char hex[67], want[1024];
    coh_crypto_eas_schema_uid(uid, "bytes32 subject,string country", zero, 1);
    coh_hex_encode(hex, uid, 32, 1);
    snprintf(want, sizeof want,
             "{\"eas\":{\"address\":\"0x4200000000000000000000000000000000000021\",\"chain_id\":10,"
             "\"version\":\"1.3.0\"},\"eligibility\":{\"country\":[\"DE\",\"FR\"]},\"issuers\":[\"%s\"],"
             "\"mode\":\"attested\",\"resolver\":\"0x0000000000000000000000000000000000000000\","
             "\"revocable\":true,\"schema\":\"bytes32 subject,string country\",\"schema_uid\":\"%s\","
             "\"subject\":\"subject\"}",
             ISSUER, hex);
    assert_string_equal(s, want);
    free(s);
}

/* Data decoded by the schema (the SDK's encoding in tests/vectors/eas), and data that does not
 * fit the schema refused. */
static void test_attestation_values(void **state)
{
    (void)state;
    json_t *vec = json_load_file(COH_VECTORS_DIR "/eas/offchain.json", 0, NULL);
    assert_non_null(vec);
    const json_t *msg = json_object_get(
        json_object_get(
            json_object_get(json_array_get(json_object_get(vec, "cases"), 1), "attestation"),
            "sig"),
        "message");
    const char *hex = json_string_value(json_object_get(msg, "data"));
    uint8_t data[1024];
    long n = coh_hex_decode(data, sizeof data, hex);
    assert_true(n > 0);
    json_t *req = json_pack("{s:{s:s,s:{s:[s]}}}", "enrollment", "schema",
                            json_string_value(json_object_get(vec, "schema")), "eligibility",
                            "country", "DE");
    assert_non_null(req);
    json_t *values = NULL;
    coh_err err = {0};
    assert_int_equal(coh_market_attestation_values(&values, req, data, (size_t)n, &err), 0);
    assert_true(json_equal(values, json_object_get(vec, "decoded")));
    assert_null(coh_market_attested_mismatch(req, values));
    json_object_set_new(values, "country", json_string("FR"));
    assert_string_equal(coh_market_attested_mismatch(req, values), "country");
    json_decref(values);
    /* Truncated data, and a bool word that is neither 0 nor 1. */
    assert_int_equal(coh_market_attestation_values(&values, req, data, 64, &err), COH_ERR_INVALID);
    data[3 * 32 + 31] = 2;
    assert_int_equal(coh_market_attestation_values(&values, req, data, (size_t)n, &err),
                     COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "field smoker"));
    json_decref(req);
    json_decref(vec);
}

static void test_enrollment_refusals_name_the_member(void **state)
{
    (void)state;
    char *dup = hashes_json(6, 1), *few = hashes_json(3, 0);
    char e_dup[1200], e_few[1200], e_both[1200];
    snprintf(e_dup, sizeof e_dup, "{\"mode\":\"invite\",\"code_hashes\":%s}", dup);
    snprintf(e_few, sizeof e_few, "{\"mode\":\"invite\",\"code_hashes\":%s}", few);
    snprintf(e_both, sizeof e_both, "{\"mode\":\"invite\",\"codes\":9,\"code_hashes\":%s}", few);
    struct {
        const char *in, *expect;
    } bad[] = {
        {"\"open\"", "enrollment must be an object"},
        {"{}", "enrollment.mode must be open, invite or attested"},
        {"{\"mode\":\"closed\"}", "enrollment.mode must be open, invite or attested"},
        {"{\"mode\":\"attested\",\"issuers\":[\"0x01\"],\"schema\":\"0x02\"}",
         "enrollment.schema: field 1 must be \"type name\""},
        {ATT("\"issuers\":[],"), "enrollment.issuers must list 1 to 16"},
        {ATT("\"issuers\":[\"0x01\"],"), "enrollment.issuers[0] must be an address"},
        {ATT("\"issuers\":[\"" ISSUER "\",\"" ISSUER "\"],"), "names 0x"},
        {ATT(ISSUERS "\"schema\":\"bytes32[] subject\","), "enrollment.schema: field 1"},
        {ATT(ISSUERS "\"schema\":\"uint7 subject\","), "has type uint7"},
        {ATT(ISSUERS "\"schema\":\"bytes32 subject,string subject\","), "names subject twice"},
        {ATT(ISSUERS "\"subject\":\"who\","), "enrollment.subject must name"},
        {ATT(ISSUERS "\"eligibility\":{\"age\":[\"1\"]},"),
         "enrollment.eligibility.age is not a field"},
        {ATT(ISSUERS "\"eligibility\":{\"subject\":[\"1\"]},"),
         "enrollment.eligibility.subject is not a field"},
        {ATT(ISSUERS "\"eligibility\":{\"country\":[]},"), "enrollment.eligibility.country must"},
        {ATT(ISSUERS "\"eas\":{\"address\":\"0x01\"},"), "enrollment.eas must be"},
        {ATT(ISSUERS "\"colour\":1,"), "enrollment.colour is not a member of attested"},
        {"{\"mode\":\"open\",\"codes\":5}", "enrollment.codes is not a member of open"},
        {"{\"mode\":\"invite\"}", "enrollment.codes must be an integer from 1 to 10000"},
        {"{\"mode\":\"invite\",\"codes\":0}", "enrollment.codes must be an integer from 1"},
        {"{\"mode\":\"invite\",\"codes\":10001}", "enrollment.codes must be an integer from 1"},
        {"{\"mode\":\"invite\",\"codes\":\"20\"}", "enrollment.codes must be an integer"},
        {"{\"mode\":\"invite\",\"codes\":4}", "can never reach min_contributors"},
        {"{\"mode\":\"invite\",\"codes\":9,\"colour\":1}", "enrollment.colour is not a member"},
        {"{\"mode\":\"invite\",\"code_hashes\":[]}", "enrollment.code_hashes must be an array"},
        {"{\"mode\":\"invite\",\"code_hashes\":[\"0x12\"]}", "enrollment.code_hashes[0]"},
        {"{\"mode\":\"invite\",\"code_hashes\":[\"" /* no 0x */
         "b5d4045c3f466fa91fe2cc6abe79232a1a57cdf104f7a26e716e0a1e2789df78\"]}",
         "enrollment.code_hashes[0]"},
        {e_dup, "the same hash twice"},
        {e_few, "can never reach min_contributors"},
        {e_both, "not both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *out = NULL;
        coh_err err = {0};
        int rc = validate(&out, bad[i].in, &err);
        json_decref(out);
        if (rc != COH_ERR_INVALID || !strstr(err.msg, bad[i].expect))
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", i, rc, err.msg, bad[i].expect);
    }
    free(dup);
    free(few);
}

static void test_invite_code_text_and_hash(void **state)
{
    (void)state;
    uint8_t raw[COH_MARKET_INVITE_CODE_BYTES];
    char text[COH_MARKET_INVITE_CODE_SIZE];
    memset(raw, 0, sizeof raw);
    coh_market_invite_code_text(text, raw);
    assert_string_equal(text, "0000-0000-0000-0000-0000-0000");
    memset(raw, 0xff, sizeof raw);
    coh_market_invite_code_text(text, raw);
    assert_string_equal(text, "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ");
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 37 + 11);
    coh_market_invite_code_text(text, raw);
    assert_int_equal(strlen(text), 29);
    assert_null(strpbrk(text, "ILOU")); /* never a letter to misread */

    /* The hash is SHA-256 of the code without spaces and hyphens, letters uppercased. */
    static const char abc[] = "b5d4045c3f466fa91fe2cc6abe79232a1a57cdf104f7a26e716e0a1e2789df78";
    uint8_t h[32], want[32];
    assert_int_equal(coh_hex_decode_exact(want, 32, abc), 0);
    const char *same[] = {"ABC", "abc", "a-b-c", " A b-C "};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(coh_market_invite_code_hash(h, same[i]), 0);
        assert_memory_equal(h, want, 32);
    }
    assert_int_equal(coh_market_invite_code_hash(h, "ABD"), 0);
    assert_memory_not_equal(h, want, 32);
    char longest[COH_MARKET_INVITE_CODE_MAX + 2];
    memset(longest, 'A', sizeof longest);
    longest[COH_MARKET_INVITE_CODE_MAX] = '\0';
    assert_int_equal(coh_market_invite_code_hash(h, longest), 0);
    longest[COH_MARKET_INVITE_CODE_MAX] = 'A';
    longest[COH_MARKET_INVITE_CODE_MAX + 1] = '\0';
    const char *refused[] = {"", " - ", "ab\tc", "caf\xc3\xa9", longest, NULL};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(coh_market_invite_code_hash(h, refused[i]), COH_ERR_INVALID);
    assert_int_equal(coh_market_invite_code_hash(h, refused[5]), COH_ERR_INVALID);
}

/* A request as the API shows it, with the enrollment member e (NULL: none, as stored before). */
static json_t *request_with(const char *e)
{
    json_t *r = json_loads(
        "{\"id\":\"0x01\",\"purpose\":\"academic-research\",\"retention_days\":30,"
        "\"eligibility\":{},\"schema\":{\"fields\":[{\"name\":\"age\",\"type\":\"integer\","
        "\"min\":18,\"max\":100,\"role\":\"quasi-identifier\"}]},"
        "\"privacy\":{\"mode\":\"k-anonymity\",\"k\":10,\"l\":1,\"l_kind\":\"none\","
        "\"max_suppression\":0.0}}",
        0, NULL);
    assert_non_null(r);
    if (e)
        json_object_set_new(r, "enrollment", json_loads(e, JSON_DECODE_ANY, NULL));
    return r;
}

static void test_terms_enrollment(void **state)
{
    (void)state;
    coh_err err = {0};
    uint8_t before[32], h[32];
    json_t *old = request_with(NULL);
    assert_int_equal(coh_market_terms_hash(before, old, &err), 0);
    /* Open, however it is written, signs what requests stored before enrollment modes sign. */
    const char *open_forms[] = {"null", "{\"mode\":\"open\"}", "\"open\""};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = request_with(open_forms[i]);
        assert_int_equal(coh_market_terms_hash(h, r, &err), 0);
        assert_memory_equal(h, before, 32);
        json_t *t = coh_market_terms(r, &err);
        assert_string_equal(json_string_value(json_object_get(t, "enrollment")), "open");
        json_decref(t);
        json_decref(r);
    }
    char *s = NULL, *s_old = NULL;
    assert_int_equal(coh_market_terms_summary(&s_old, old, &err), 0);
    assert_string_equal(s_old,
                        "k-anonymity k=10; encrypted records destroyed 30 days after release");

    /* Invite signs its object: another hash, and the summary says who may enrol. */
    json_t *inv = request_with("{\"mode\":\"invite\",\"codes\":20}");
    json_t *t = coh_market_terms(inv, &err);
    char *jcs = NULL;
    assert_int_equal(coh_crypto_jcs_serialize(&jcs, NULL, json_object_get(t, "enrollment")), 0);
    assert_string_equal(jcs, "{\"codes\":20,\"mode\":\"invite\"}");
    assert_int_equal(coh_market_terms_hash(h, inv, &err), 0);
    assert_memory_not_equal(h, before, 32);
    assert_int_equal(coh_market_terms_summary(&s, inv, &err), 0);
    assert_string_equal(s, "k-anonymity k=10; encrypted records destroyed 30 days after release; "
                           "by invitation only: 20 one-time codes");
    assert_string_equal(coh_market_enrollment_mode(inv), "invite");
    assert_string_equal(coh_market_enrollment_mode(old), "open");
    free(jcs);
    free(s);
    free(s_old);
    json_decref(t);
    json_decref(inv);
    json_decref(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enrollment_accepted_forms),
        cmocka_unit_test(test_enrollment_refusals_name_the_member),
        cmocka_unit_test(test_attested_stored),
        cmocka_unit_test(test_attestation_values),
        cmocka_unit_test(test_invite_code_text_and_hash),
        cmocka_unit_test(test_terms_enrollment),
    };
    if (coh_process_harden() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
