/*
 * test_crypto_eas: EAS off-chain attestations (versions 1 and 2) made by the EAS SDK
 * (tests/vectors/eas/offchain.json, written by make.mjs there): the uid, the signer and the
 * schema UID agree with the SDK's, and every change to a signed member, the domain or the uid
 * is caught.
 */
#include "testutil.h"

static json_t *g_eas;

static int setup(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    g_eas = vec_load("eas/offchain.json");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(g_eas);
    return 0;
}

static void domain_of(coh_crypto_eas_domain *d, const json_t *c)
{
    const json_t *dj = json_object_get(c, "domain");
    memset(d, 0, sizeof *d);
    snprintf(d->version, sizeof d->version, "%s", vstr(dj, "version"));
    d->chain_id = (uint64_t)json_integer_value(json_object_get(dj, "chain_id"));
    assert_int_equal(coh_crypto_address_parse(d->contract, vstr(dj, "address")), 0);
}

static void hex_equal(const uint8_t *b, size_t n, const char *want)
{
    char got[2 * 64 + 3];
    assert_true(n <= 64);
    coh_hex_encode(got, b, n, 1);
    assert_string_equal(got, want);
}

/* The SDK's own attestations: read, signer and uid as the SDK says. */
static void test_sdk_attestations(void **state)
{
    (void)state;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(g_eas, "cases"), i, c)
    {
        coh_crypto_eas_domain d;
        domain_of(&d, c);
        coh_crypto_eas_attestation a;
        coh_err err = {0};
        int rc = coh_crypto_eas_read(&a, json_object_get(c, "attestation"), &d, &err);
        if (rc)
            fail_msg("case %zu: %s", i, err.msg);
        assert_int_equal(a.version, json_integer_value(json_object_get(c, "version")));
        hex_equal(a.signer, 20, vstr(c, "signer"));
        hex_equal(a.uid, 32, vstr(c, "uid"));
        hex_equal(a.schema, 32, vstr(g_eas, "schema_uid"));
        assert_int_equal(a.time, 1700000000);
        assert_int_equal(a.expiration_time, 1900000000);
        assert_true(a.revocable);
        coh_crypto_eas_clear(&a);
        /* The bare sig object reads the same. */
        rc = coh_crypto_eas_read(&a, json_object_get(json_object_get(c, "attestation"), "sig"),
                                 &d, &err);
        assert_int_equal(rc, 0);
        hex_equal(a.signer, 20, vstr(c, "signer"));
        coh_crypto_eas_clear(&a);
    }
}

static void test_schema_uid(void **state)
{
    (void)state;
    uint8_t uid[32], zero[20] = {0};
    coh_crypto_eas_schema_uid(uid, vstr(g_eas, "schema"), zero, 1);
    hex_equal(uid, 32, vstr(g_eas, "schema_uid"));
    coh_crypto_eas_schema_uid(uid, vstr(g_eas, "schema"), zero, 0);
    char other[67];
    coh_hex_encode(other, uid, 32, 1);
    assert_string_not_equal(other, vstr(g_eas, "schema_uid"));
}

/* A copy of case i's attestation with message member `member` set to v (NULL: removed). */
static json_t *changed(size_t i, const char *member, json_t *v)
{
    json_t *a = json_deep_copy(
        json_object_get(json_array_get(json_object_get(g_eas, "cases"), i), "attestation"));
    json_t *msg = json_object_get(json_object_get(a, "sig"), "message");
    if (v)
        json_object_set_new(msg, member, v);
    else
        json_object_del(msg, member);
    return a;
}

/* Every signed member changed: with the uid, "changed after it was made"; without the uid,
 * another signer. */
static void test_tampered(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const json_t *c = json_array_get(json_object_get(g_eas, "cases"), i);
        coh_crypto_eas_domain d;
        domain_of(&d, c);
        struct {
            const char *member;
            json_t *v;
        } t[] = {
            {"recipient", json_string("0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a2")},
            {"time", json_string("1700000001")},
            {"expirationTime", json_string("0")},
            {"revocable", json_false()},
            {"data", json_string("0x00")},
            {"refUID", json_string("0x0100000000000000000000000000000000000000000000000000000000000000")},
        };
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
            for (int drop_uid = 0; drop_uid < 2; drop_uid++) {
                json_t *a = changed(i, t[k].member, json_incref(t[k].v));
                if (drop_uid)
                    json_object_del(json_object_get(a, "sig"), "uid");
                coh_crypto_eas_attestation r;
                coh_err err = {0};
                int rc = coh_crypto_eas_read(&r, a, &d, &err);
                if (!drop_uid) {
                    assert_int_equal(rc, COH_ERR_INVALID);
                    assert_non_null(strstr(err.msg, "changed after it was made"));
                } else if (rc == 0) {
                    char got[43];
                    coh_hex_encode(got, r.signer, 20, 1);
                    assert_string_not_equal(got, vstr(c, "signer"));
                    coh_crypto_eas_clear(&r);
                }
                json_decref(a);
            }
            json_decref(t[k].v);
        }
    }
}

static void test_refused(void **state)
{
    (void)state;
    const json_t *c = json_array_get(json_object_get(g_eas, "cases"), 1);
    coh_crypto_eas_domain d;
    domain_of(&d, c);
    coh_crypto_eas_attestation r;
    coh_err err = {0};
    /* Signed for another chain than the request names: refused, both domains named. */
    coh_crypto_eas_domain other = d;
    other.chain_id = 11;
    assert_int_equal(coh_crypto_eas_read(&r, json_object_get(c, "attestation"), &other, &err),
                     COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "on chain 10; this request accepts"));
    /* Without the file's domain, the digest under chain 11 recovers someone else. */
    json_t *a = json_deep_copy(json_object_get(c, "attestation"));
    json_object_del(json_object_get(a, "sig"), "domain");
    assert_int_equal(coh_crypto_eas_read(&r, a, &other, &err), 0);
    char got[43];
    coh_hex_encode(got, r.signer, 20, 1);
    assert_string_not_equal(got, vstr(c, "signer"));
    coh_crypto_eas_clear(&r);
    json_decref(a);
    /* Legacy (no version), version 3, an unknown member, a bad signature. */
    a = changed(1, "version", NULL);
    assert_int_equal(coh_crypto_eas_read(&r, a, &d, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "legacy"));
    json_decref(a);
    a = changed(1, "version", json_integer(3));
    assert_int_equal(coh_crypto_eas_read(&r, a, &d, &err), COH_ERR_INVALID);
    json_decref(a);
    /* The uid hashes the schema's text: another spelling of it is refused, or a revoked
     * attestation could be shown again under another uid. */
    char upper[67];
    snprintf(upper, sizeof upper, "%s", vstr(g_eas, "schema_uid"));
    for (char *c = upper + 2; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    a = changed(1, "schema", json_string(upper));
    json_object_del(json_object_get(a, "sig"), "uid");
    assert_int_equal(coh_crypto_eas_read(&r, a, &d, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "lowercase"));
    json_decref(a);
    a = changed(1, "subject", json_string("x"));
    assert_int_equal(coh_crypto_eas_read(&r, a, &d, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "subject is not a member"));
    json_decref(a);
    a = json_deep_copy(json_object_get(c, "attestation"));
    json_object_set_new(json_object_get(json_object_get(a, "sig"), "signature"), "v",
                        json_integer(29));
    assert_int_equal(coh_crypto_eas_read(&r, a, &d, &err), COH_ERR_INVALID);
    json_decref(a);
    a = json_string("x");
    assert_int_equal(coh_crypto_eas_read(&r, a, &d, &err), COH_ERR_INVALID);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdk_attestations),
        cmocka_unit_test(test_schema_uid),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
