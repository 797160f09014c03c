/*
 * test_crypto_misc: RFC 8785 canonical JSON (the RFC's own examples), sealed boxes, master
 * key wrapping, and key files.
 */
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    return 0;
}

static void assert_jcs(const json_t *v, const char *want)
{
    char *s = NULL;
    size_t n = 0;
    int rc = coh_crypto_jcs_serialize(&s, &n, v);
    if (rc)
        fail_msg("jcs failed: %s (want %s)", coh_crypto_strerror(rc), want);
    assert_string_equal(s, want);
    assert_int_equal(n, strlen(want));
    free(s);
}

/* RFC 8785 section 3.2.3 example. */
static void test_jcs_rfc_example(void **state)
{
    (void)state;
    const char *in = "{\"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, "
                     "0.000000000000000000000000001],"
                     "\"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\","
                     "\"literals\": [null, true, false]}";
    json_t *v = json_loads(in, 0, NULL);
    assert_non_null(v);
    assert_jcs(v, "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,"
                  "1e-27],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
    json_decref(v);
}

/* RFC 8785 section 3.2.3 sorting example: UTF-16 order puts U+1F600 before U+FB33. */
static void test_jcs_sorting(void **state)
{
    (void)state;
    const char *in = "{\"\\u20ac\": \"Euro Sign\", \"\\r\": \"Carriage Return\", \"\\ufb33\": "
                     "\"Hebrew Letter Dalet With Dagesh\", \"1\": \"One\", \"\\ud83d\\ude00\": "
                     "\"Emoji: Grinning Face\", \"\\u0080\": \"Control\", \"\\u00f6\": \"Latin "
                     "Small Letter O With Diaeresis\"}";
    json_t *v = json_loads(in, 0, NULL);
    assert_non_null(v);
    assert_jcs(v, "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
                  "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro "
                  "Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew "
                  "Letter Dalet With Dagesh\"}");
    json_decref(v);
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* RFC 8785 appendix B: IEEE 754 bit patterns and their ECMAScript forms. */
static void test_jcs_numbers(void **state)
{
    (void)state;
    static const struct {
        uint64_t bits;
        const char *want;
    } cases[] = {
        {0x0000000000000000ULL, "0"},
        {0x8000000000000000ULL, "0"},
        {0x0000000000000001ULL, "5e-324"},
        {0x8000000000000001ULL, "-5e-324"},
        {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
        {0xffefffffffffffffULL, "-1.7976931348623157e+308"},
        {0x4340000000000000ULL, "9007199254740992"},
        {0xc340000000000000ULL, "-9007199254740992"},
        {0x4430000000000000ULL, "295147905179352830000"},
        {0x44b52d02c7e14af5ULL, "9.999999999999997e+22"},
        {0x44b52d02c7e14af6ULL, "1e+23"},
        {0x44b52d02c7e14af7ULL, "1.0000000000000001e+23"},
        {0x444b1ae4d6e2ef4eULL, "999999999999999700000"},
        {0x444b1ae4d6e2ef4fULL, "999999999999999900000"},
        {0x444b1ae4d6e2ef50ULL, "1e+21"},
        {0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7"},
        {0x3eb0c6f7a0b5ed8dULL, "0.000001"},
        {0x41b3de4355555553ULL, "333333333.3333332"},
        {0x41b3de4355555554ULL, "333333333.33333325"},
        {0x41b3de4355555555ULL, "333333333.3333333"},
        {0x41b3de4355555556ULL, "333333333.3333334"},
        {0x41b3de4355555557ULL, "333333333.33333343"},
        {0xbecbf647612f3696ULL, "-0.0000033333333333333333"},
        {0x43143ff3c1cb0959ULL, "1424953923781206.2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *v = json_real(from_bits(cases[i].bits));
        assert_jcs(v, cases[i].want);
        json_decref(v);
    }
    json_t *v = json_integer(9007199254740992LL);
    assert_jcs(v, "9007199254740992");
    json_decref(v);
    /* Beyond 2^53 an I-JSON reader would round: refused rather than hashed ambiguously. */
    v = json_integer(9007199254740993LL);
    char *s = NULL;
    assert_int_equal(coh_crypto_jcs_serialize(&s, NULL, v), COH_CRYPTO_EJSON);
    assert_null(s);
    json_decref(v);
}

static void test_jcs_strings_and_hash(void **state)
{
    (void)state;
    json_t *v =
        json_pack("{s:[s,s,i,b],s:{}}", "a", "\x01\x1f\x7f", "\xe2\x80\xa8", -7, 1, "", NULL);
    assert_non_null(v);
    assert_jcs(v, "{\"\":{},\"a\":[\"\\u0001\\u001f\x7f\",\"\xe2\x80\xa8\",-7,true]}");
    json_decref(v);
    /* A NUL inside a string is escaped, not a terminator. */
    v = json_stringn("a\0b", 3);
    assert_jcs(v, "\"a\\u0000b\"");
    json_decref(v);
    /* fieldsHash = keccak256 of the canonical bytes, whatever the input formatting. */
    json_t *x = json_loads("{ \"b\" : [1, 2.0], \"a\" : \"x\" }", 0, NULL);
    json_t *y = json_loads("{\"a\":\"x\",\"b\":[1,2]}", 0, NULL);
    uint8_t hx[32], hy[32], h[32];
    assert_int_equal(coh_crypto_jcs_keccak(hx, x), 0);
    assert_int_equal(coh_crypto_jcs_keccak(hy, y), 0);
    assert_memory_equal(hx, hy, 32);
    coh_crypto_keccak256(h, "{\"a\":\"x\",\"b\":[1,2]}", 19);
    assert_memory_equal(h, hx, 32);
    json_decref(x);
    json_decref(y);
}

static void test_box(void **state)
{
    (void)state;
    uint8_t pk[32], pk2[32];
    coh_secbuf *sk = NULL, *sk2 = NULL, *m = NULL;
    assert_int_equal(coh_crypto_box_keypair(pk, &sk), 0);
    assert_int_equal(coh_crypto_box_keypair(pk2, &sk2), 0);
    const char *msg = "age=42,zip=75001";
    size_t n = strlen(msg);
    uint8_t c[64 + COH_CRYPTO_BOX_SEALBYTES];
    assert_int_equal(coh_crypto_box_seal(c, (const uint8_t *)msg, n, pk), 0);
    assert_int_equal(coh_crypto_box_open(&m, c, n + COH_CRYPTO_BOX_SEALBYTES, pk, sk), 0);
    assert_int_equal(coh_secbuf_len(m), n);
    assert_memory_equal(coh_secbuf_data(m), msg, n);
    coh_secbuf_free(m);
    assert_int_equal(coh_crypto_box_open(&m, c, n + COH_CRYPTO_BOX_SEALBYTES, pk2, sk2),
                     COH_CRYPTO_EDECRYPT);
    assert_null(m);
    c[10] ^= 1;
    assert_int_equal(coh_crypto_box_open(&m, c, n + COH_CRYPTO_BOX_SEALBYTES, pk, sk),
                     COH_CRYPTO_EDECRYPT);
    assert_int_equal(coh_crypto_box_open(&m, c, 10, pk, sk), COH_CRYPTO_EDECRYPT);
    coh_secbuf_free(sk);
    coh_secbuf_free(sk2);
}

static void test_wrap(void **state)
{
    (void)state;
    coh_secbuf *master = coh_secbuf_new(32), *out = NULL;
    randombytes_buf(coh_secbuf_data(master), 32);
    const uint8_t secret[32] = {1, 2, 3};
    uint8_t blob[32 + COH_CRYPTO_WRAP_OVERHEAD], blob2[32 + COH_CRYPTO_WRAP_OVERHEAD];
    assert_int_equal(coh_crypto_wrap(blob, master, "reqkey", secret, 32), 0);
    assert_int_equal(coh_crypto_wrap(blob2, master, "reqkey", secret, 32), 0);
    assert_true(memcmp(blob, blob2, sizeof blob) != 0); /* fresh nonce each time */
    assert_int_equal(coh_crypto_unwrap(&out, master, "reqkey", blob, sizeof blob), 0);
    assert_memory_equal(coh_secbuf_data(out), secret, 32);
    coh_secbuf_free(out);
    /* Bound to its context: the ledger key slot cannot open a request key. */
    assert_int_equal(coh_crypto_unwrap(&out, master, "ledger", blob, sizeof blob),
                     COH_CRYPTO_EDECRYPT);
    assert_null(out);
    assert_int_equal(coh_crypto_unwrap(&out, master, "reqkey", blob, sizeof blob - 1),
                     COH_CRYPTO_EDECRYPT);
    assert_int_equal(coh_crypto_unwrap(&out, master, "reqkey", blob, 39), COH_CRYPTO_EDECRYPT);
    assert_int_equal(coh_crypto_wrap(blob, master, "", secret, 32), COH_CRYPTO_ECONTEXT);
    assert_int_equal(coh_crypto_wrap(blob, master, "ninechars", secret, 32), COH_CRYPTO_ECONTEXT);
    coh_secbuf *small = coh_secbuf_new(16);
    assert_int_equal(coh_crypto_wrap(blob, small, "reqkey", secret, 32), COH_CRYPTO_ELENGTH);
    coh_secbuf_free(small);
    /* Empty secrets round-trip too. */
    assert_int_equal(coh_crypto_wrap(blob, master, "x", secret, 0), 0);
    assert_int_equal(coh_crypto_unwrap(&out, master, "x", blob, COH_CRYPTO_WRAP_OVERHEAD), 0);
    assert_int_equal(coh_secbuf_len(out), 0);
    coh_secbuf_free(out);
    coh_secbuf_free(master);
}

static void test_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/coh_keyfile_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/key.hex", dir);
    coh_secbuf *k = NULL, *k2 = NULL;
    coh_err err = {0};
    assert_int_equal(coh_crypto_seckey_generate(&k), 0);
    assert_int_equal(coh_crypto_seckey_save(path, k, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(coh_crypto_seckey_save(path, k, &err), COH_ERR_CONFLICT);
    assert_int_equal(coh_crypto_seckey_load(&k2, path, &err), 0);
    assert_memory_equal(coh_secbuf_data(k), coh_secbuf_data(k2), 32);
    coh_secbuf_free(k2);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(coh_crypto_seckey_load(&k2, path, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "mode 0600"));
    assert_null(k2);
    unlink(path);
    FILE *f = fopen(path, "w");
    fputs("0000000000000000000000000000000000000000000000000000000000000000\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(coh_crypto_seckey_load(&k2, path, &err), COH_CRYPTO_ESECKEY);
    unlink(path);
    f = fopen(path, "w");
    fputs("abcd\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(coh_crypto_seckey_load(&k2, path, &err), COH_ERR_INVALID);
    unlink(path);
    assert_int_equal(coh_crypto_seckey_load(&k2, path, &err), COH_ERR_IO);
    rmdir(dir);
    coh_secbuf_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jcs_rfc_example),
        cmocka_unit_test(test_jcs_sorting),
        cmocka_unit_test(test_jcs_numbers),
        cmocka_unit_test(test_jcs_strings_and_hash),
        cmocka_unit_test(test_box),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_key_file),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
