/*
 * test_crypto_rejects: misuse and malformed input: keys, addresses, signatures (lengths,
 * v, high s, out-of-range r/s) and EIP-712 values that must be refused with a precise code.
 */
#include "testutil.h"

/* Negative EIP-712 inputs: each must fail with the given code. */
static void test_eip712_rejects(void **state)
{
    (void)state;
    struct {
        const char *type, *value;
        int code;
    } cases[] = {
        {"uint8", "256", COH_CRYPTO_ERANGE},
        {"uint8", "-1", COH_CRYPTO_ERANGE},
        {"int8", "128", COH_CRYPTO_ERANGE},
        {"int8", "-129", COH_CRYPTO_ERANGE},
        {"uint256",
         "\"115792089237316195423570985008687907853269984665640564039457584007913129639936\"",
         COH_CRYPTO_ERANGE},
        {"uint64", "\"0x10000000000000000\"", COH_CRYPTO_ERANGE},
        {"uint64", "\"12a\"", COH_CRYPTO_ETYPED},
        {"uint64", "1.5", COH_CRYPTO_ETYPED},
        {"bytes32", "\"0x1234\"", COH_CRYPTO_EHEX},
        {"bytes", "\"0x123\"", COH_CRYPTO_EHEX},
        {"bytes", "\"1234\"", COH_CRYPTO_EHEX},
        {"address", "\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827\"", COH_CRYPTO_ECHECKSUM},
        {"address", "\"0x1234\"", COH_CRYPTO_EADDRESS},
        {"bool", "1", COH_CRYPTO_ETYPED},
        {"string", "5", COH_CRYPTO_ETYPED},
        {"uint256[2]", "[1]", COH_CRYPTO_ETYPED},
        {"uint256[]", "{}", COH_CRYPTO_ETYPED},
        {"Missing", "{}", COH_CRYPTO_ETYPED},
        {"uint7", "1", COH_CRYPTO_ETYPED},
        {"bytes33", "\"0x00\"", COH_CRYPTO_ETYPED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "{\"types\":{\"T\":[{\"name\":\"x\",\"type\":\"%s\"}]},\"primaryType\":\"T\","
                 "\"domain\":{\"name\":\"n\"},\"message\":{\"x\":%s}}",
                 cases[i].type, cases[i].value);
        json_t *td = json_loads(buf, 0, NULL);
        assert_non_null(td);
        coh_err err = {0};
        uint8_t d[32];
        int rc = coh_crypto_eip712_hash(d, NULL, NULL, td, &err);
        if (rc != cases[i].code)
            fail_msg("case %zu (%s = %s): rc %d want %d (%s)", i, cases[i].type, cases[i].value, rc,
                     cases[i].code, err.msg);
        json_decref(td);
    }
    /* Extremes that must be accepted. */
    const char *ok[][2] = {
        {"int8", "-128"},
        {"int8", "127"},
        {"uint8", "\"0xff\""},
        {"int256",
         "\"-57896044618658097711785492504343953926634992332820282019728792003956564819968\""},
        {"uint64", "\"18446744073709551615\""},
        {"int64", "-9223372036854775807"}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "{\"types\":{\"T\":[{\"name\":\"x\",\"type\":\"%s\"}]},\"primaryType\":\"T\","
                 "\"domain\":{\"name\":\"n\"},\"message\":{\"x\":%s}}",
                 ok[i][0], ok[i][1]);
        json_t *td = json_loads(buf, 0, NULL);
        coh_err err = {0};
        uint8_t d[32];
        if (coh_crypto_eip712_hash(d, NULL, NULL, td, &err) != 0)
            fail_msg("ok case %zu: %s", i, err.msg);
        json_decref(td);
    }
    /* An undeclared field is refused, not ignored. */
    json_t *td = json_loads("{\"types\":{\"T\":[{\"name\":\"x\",\"type\":\"bool\"}]},"
                            "\"primaryType\":\"T\",\"domain\":{},\"message\":{\"x\":true,\"y\":1}}",
                            0, NULL);
    uint8_t d[32];
    assert_int_equal(coh_crypto_eip712_hash(d, NULL, NULL, td, NULL), COH_CRYPTO_ETYPED);
    json_decref(td);
}

/* ---- misuse and malformed input ----------------------------------------------------------- */

static void test_key_rejects(void **state)
{
    (void)state;
    coh_secbuf *k = (coh_secbuf *)1;
    assert_int_equal(coh_crypto_seckey_from_hex(&k, "0x12"), COH_CRYPTO_EHEX);
    assert_null(k);
    assert_int_equal(coh_crypto_seckey_from_hex(
                         &k, "0xzz46464646464646464646464646464646464646464646464646464646464646"),
                     COH_CRYPTO_EHEX);
    uint8_t zero[32] = {0}, n[32];
    assert_int_equal(coh_crypto_seckey_from_bytes(&k, zero), COH_CRYPTO_ESECKEY);
    /* The group order itself is not a valid scalar. */
    hex32(n, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    assert_int_equal(coh_crypto_seckey_from_bytes(&k, n), COH_CRYPTO_ESECKEY);
    assert_null(k);
    /* Generated keys are valid and distinct. */
    coh_secbuf *a = NULL, *b = NULL;
    assert_int_equal(coh_crypto_seckey_generate(&a), 0);
    assert_int_equal(coh_crypto_seckey_generate(&b), 0);
    assert_int_equal(coh_secbuf_len(a), 32);
    assert_true(memcmp(coh_secbuf_data(a), coh_secbuf_data(b), 32) != 0);
    /* A secure buffer of the wrong size is refused, not read past. */
    coh_secbuf *short_key = coh_secbuf_new(16);
    uint8_t sig[65], h[32] = {1};
    assert_int_equal(coh_crypto_sign(sig, short_key, h), COH_CRYPTO_ELENGTH);
    coh_secbuf_free(short_key);
    coh_secbuf_free(a);
    coh_secbuf_free(b);
}

static void test_address_rejects(void **state)
{
    (void)state;
    uint8_t a[20];
    assert_int_equal(coh_crypto_address_parse(a, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), 0);
    /* One letter's case flipped: wrong checksum. */
    assert_int_equal(coh_crypto_address_parse(a, "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
                     COH_CRYPTO_ECHECKSUM);
    const char *bad[] = {"",
                         "0x",
                         "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                         "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
                         "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",
                         "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
                         " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(coh_crypto_address_parse(a, bad[i]), COH_CRYPTO_EADDRESS);
    assert_int_equal(coh_crypto_address_parse(a, NULL), COH_CRYPTO_EADDRESS);
}

static void test_signature_rejects(void **state)
{
    (void)state;
    json_t *c = json_array_get(section("personal_sign"), 0);
    uint8_t h[32], sig[65], addr[20], bad[65];
    hex32(h, vstr(c, "message_hash"));
    size_t n;
    uint8_t *s = hexdup(vstr(json_object_get(c, "signature"), "serialized"), &n);
    assert_int_equal(n, 65);
    memcpy(sig, s, 65);
    free(s);
    assert_int_equal(coh_crypto_recover(addr, h, sig, 65), 0);
    assert_int_equal(coh_crypto_recover(addr, h, sig, 64), COH_CRYPTO_ELENGTH);
    assert_int_equal(coh_crypto_recover(addr, h, sig, 66), COH_CRYPTO_ELENGTH);
    static const uint8_t badv[] = {2, 3, 26, 29, 35, 37, 255};
    for (size_t i = 0; i < sizeof badv; i++) {
        memcpy(bad, sig, 65);
        bad[64] = badv[i];
        assert_int_equal(coh_crypto_recover(addr, h, bad, 65), COH_CRYPTO_EV);
    }
    /* High s: s' = n - s with flipped parity is the same signature, malleated (EIP-2). */
    uint8_t order[32];
    hex32(order, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    memcpy(bad, sig, 65);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int t = order[i] - sig[32 + i] - borrow;
        borrow = t < 0;
        bad[32 + i] = (uint8_t)(t + (borrow ? 256 : 0));
    }
    bad[64] = (uint8_t)(sig[64] == 27 ? 28 : 27);
    assert_int_equal(coh_crypto_recover(addr, h, bad, 65), COH_CRYPTO_EHIGHS);
    /* r or s equal to zero, or r >= n. */
    memcpy(bad, sig, 65);
    memset(bad, 0, 32);
    assert_true(coh_crypto_recover(addr, h, bad, 65) < 0);
    memcpy(bad, sig, 65);
    memset(bad + 32, 0, 32);
    assert_true(coh_crypto_recover(addr, h, bad, 65) < 0);
    memcpy(bad, sig, 65);
    memset(bad, 0xff, 32);
    assert_int_equal(coh_crypto_recover(addr, h, bad, 65), COH_CRYPTO_ESIG);
    assert_int_equal(coh_crypto_recover(addr, h, NULL, 65), COH_CRYPTO_ELENGTH);
    /* Wrong hash: recovers someone else. */
    uint8_t want[20];
    assert_int_equal(coh_crypto_address_parse(want, vstr(c, "signer")), 0);
    h[0] ^= 1;
    assert_int_equal(coh_crypto_verify(h, sig, 65, want), COH_CRYPTO_EMISMATCH);
    assert_string_equal(coh_crypto_strerror(COH_CRYPTO_EHIGHS),
                        "signature s is in the upper half of the curve order (EIP-2)");
    assert_string_equal(coh_crypto_strerror(COH_ERR_NOMEM), "out of memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eip712_rejects),
        cmocka_unit_test(test_key_rejects),
        cmocka_unit_test(test_address_rejects),
        cmocka_unit_test(test_signature_rejects),
    };
    return cmocka_run_group_tests(tests, vec_setup, vec_teardown);
}
