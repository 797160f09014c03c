/* Unit tests for core: hex/base64, config layering and errors, secure buffers, master key,
 * uint256 arithmetic. */
#include "core/core.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_hex_roundtrip(void **state)
{
    (void)state;
    uint8_t in[4] = {0xde, 0xad, 0xbe, 0xef}, out[4];
    char hex[11];
    coh_hex_encode(hex, in, 4, 1);
    assert_string_equal(hex, "0xdeadbeef");
    assert_int_equal(coh_hex_decode(out, 4, hex), 4);
    assert_memory_equal(in, out, 4);
    assert_int_equal(coh_hex_decode(out, 4, "DEADBEEF"), 4);
    assert_int_equal(coh_hex_decode(out, 4, "0xabc"), -1);      /* odd */
    assert_int_equal(coh_hex_decode(out, 4, "0xzz"), -1);       /* not hex */
    assert_int_equal(coh_hex_decode(out, 2, "0xdeadbeef"), -1); /* too long */
    assert_int_equal(coh_hex_decode(out, 4, "0x"), 0);
    assert_int_equal(coh_hex_decode_exact(out, 4, "0xdead"), -1);
}

static void test_base64(void **state)
{
    (void)state;
    char *s = coh_base64_encode((const uint8_t *)"hello", 5);
    assert_string_equal(s, "aGVsbG8=");
    uint8_t out[8];
    assert_int_equal(coh_base64_decode(out, sizeof out, s), 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(coh_base64_decode(out, sizeof out, "a$=="), -1);
    free(s);
}

static const coh_config_spec specs[] = {
    {"database_url", COH_CFG_STRING, NULL, 0, 0, 0, "", NULL},
    {"http_threads", COH_CFG_INT, "8", 1, 1024, 0, "", NULL},
    {"debug", COH_CFG_BOOL, "false", 0, 0, 0, "", NULL},
};

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/coh_test_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

static void test_config_layers(void **state)
{
    (void)state;
    coh_config *c;
    coh_err err = {0};
    char *p = write_tmp("# comment\ndatabase_url = postgres://x\nhttp_threads=4\n");
    unsetenv("COHORT_HTTP_THREADS");
    assert_int_equal(coh_config_load(&c, specs, 3, p, &err), 0);
    assert_string_equal(coh_config_str(c, "database_url"), "postgres://x");
    assert_int_equal(coh_config_int(c, "http_threads"), 4);
    assert_false(coh_config_bool(c, "debug"));
    coh_config_free(c);

    setenv("COHORT_HTTP_THREADS", "16", 1);
    assert_int_equal(coh_config_load(&c, specs, 3, p, &err), 0);
    assert_int_equal(coh_config_int(c, "http_threads"), 16);
    coh_config_free(c);
    unsetenv("COHORT_HTTP_THREADS");
    unlink(p);
}

static void test_config_errors(void **state)
{
    (void)state;
    coh_config *c = (coh_config *)1;
    coh_err err = {0};
    unsetenv("COHORT_DATABASE_URL");
    assert_int_equal(coh_config_load(&c, specs, 3, NULL, &err), COH_ERR_INVALID);
    assert_null(c);
    assert_non_null(strstr(err.msg, "'database_url' is required"));

    setenv("COHORT_DATABASE_URL", "x", 1);
    setenv("COHORT_HTTP_THREADS", "many", 1);
    assert_int_equal(coh_config_load(&c, specs, 3, NULL, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "'http_threads'"));
    unsetenv("COHORT_HTTP_THREADS");

    char *p = write_tmp("colour = blue\n");
    assert_int_equal(coh_config_load(&c, specs, 3, p, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "unknown setting 'colour'"));
    unlink(p);
    p = write_tmp("no equals sign\n");
    assert_int_equal(coh_config_load(&c, specs, 3, p, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, ":1: expected"));
    unlink(p);
    unsetenv("COHORT_DATABASE_URL");
}

static void test_secbuf(void **state)
{
    (void)state;
    coh_secbuf *b = coh_secbuf_new(100);
    assert_non_null(b);
    assert_int_equal(coh_secbuf_len(b), 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(coh_secbuf_data(b)[i], 0);
    coh_secbuf_free(b);
    coh_secbuf_free(NULL);
}

static void test_master_key(void **state)
{
    (void)state;
    char path[] = "/tmp/coh_mk_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    coh_secbuf *k1, *k2;
    coh_err err = {0};
    assert_int_not_equal(coh_master_key_load(&k1, path, 0, &err), 0); /* missing, no create */
    assert_int_equal(coh_master_key_load(&k1, path, 1, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(coh_master_key_load(&k2, path, 0, &err), 0);
    assert_memory_equal(coh_secbuf_data(k1), coh_secbuf_data(k2), 32);
    coh_secbuf_free(k2);
    chmod(path, 0644);
    assert_int_equal(coh_master_key_load(&k2, path, 0, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, "0600"));
    coh_secbuf_free(k1);
    unlink(path);
}

/* RFC 3339 UTC with milliseconds, and cut (still terminated) when the buffer is short. */
static void test_log_timestamp(void **state)
{
    (void)state;
    char ts[32];
    coh_log_timestamp(ts, sizeof ts);
    assert_int_equal(strlen(ts), 24);
    for (int i = 0; i < 24; i++) {
        const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
        if (shape[i] == 'd')
            assert_true(ts[i] >= '0' && ts[i] <= '9');
        else
            assert_int_equal(ts[i], shape[i]);
    }
    char small[11];
    coh_log_timestamp(small, sizeof small);
    assert_int_equal(strlen(small), 10);
    assert_memory_equal(small, ts, 4); /* the year; the rest may have ticked */
}

/* ---- uint256 (u256.c) ------------------------------------------------------------------ */

#define U256_MAX_DEC                                                                               \
    "115792089237316195423570985008687907853269984665640564039457584007913129639935"

static void dec(uint8_t out[32], const char *text)
{
    assert_int_equal(coh_u256_from_dec(out, text), 0);
}

static void assert_dec(const uint8_t v[32], const char *want)
{
    char s[COH_U256_DEC_SIZE];
    coh_u256_to_dec(s, v);
    assert_string_equal(s, want);
}

static void test_u256_dec(void **state)
{
    (void)state;
    uint8_t v[32], max[32], keep[32];
    memset(max, 0xff, 32);
    assert_int_equal(strlen(U256_MAX_DEC), 78);
    assert_int_equal(COH_U256_DEC_SIZE, 78 + 1);
    dec(v, U256_MAX_DEC); /* 78 digits: the largest */
    assert_memory_equal(v, max, 32);
    assert_dec(v, U256_MAX_DEC);
    dec(v, "0");
    assert_true(coh_u256_is_zero(v));
    assert_dec(v, "0");
    dec(v, "000");
    assert_dec(v, "0");
    dec(v, "007"); /* leading zeros: the bound is on the value */
    assert_dec(v, "7");
    dec(v, "0" U256_MAX_DEC); /* 79 digits, one a leading zero */
    assert_memory_equal(v, max, 32);
    dec(v, "1000000000000000000");
    assert_dec(v, "1000000000000000000");
    dec(v, "18446744073709551616"); /* 2^64 */
    assert_int_equal(v[23], 1);
    assert_int_equal(v[22] | v[24] | v[31], 0);
    assert_dec(v, "18446744073709551616");
    /* refused: out left as it was */
    static const char *bad[] = {
        "",
        " 1",
        "1 ",
        "+1",
        "-1",
        "0x10",
        "1e3",
        "12a",
        "1.0",
        "\xd9\xa1", /* ARABIC-INDIC DIGIT ONE */
        "115792089237316195423570985008687907853269984665640564039457584007913129639936",  /* 2^256
                                                                                            */
        "999999999999999999999999999999999999999999999999999999999999999999999999999999",  /* 78 9s
                                                                                            */
        "1000000000000000000000000000000000000000000000000000000000000000000000000000000", /* 79 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(keep, 0x5a, 32);
        assert_int_equal(coh_u256_from_dec(keep, bad[i]), -1);
        for (int k = 0; k < 32; k++)
            assert_int_equal(keep[k], 0x5a);
    }
    assert_int_equal(coh_u256_from_dec(keep, NULL), -1);
}

static void test_u256_u64_cmp(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    uint64_t u = 0;
    coh_u256_from_u64(a, UINT64_MAX);
    assert_dec(a, "18446744073709551615");
    assert_int_equal(coh_u256_to_u64(&u, a), 0);
    assert_true(u == UINT64_MAX);
    memset(a, 0xff, 32); /* from_u64 writes all 32 bytes */
    coh_u256_from_u64(a, 31337);
    assert_dec(a, "31337");
    dec(b, "18446744073709551616"); /* 2^64: not a u64 */
    u = 42;
    assert_int_equal(coh_u256_to_u64(&u, b), -1);
    assert_true(u == 42);
    /* one contract: -1, 0, 1 (not memcmp's any sign) */
    assert_int_equal(coh_u256_cmp(a, b), -1);
    assert_int_equal(coh_u256_cmp(b, a), 1);
    assert_int_equal(coh_u256_cmp(a, a), 0);
    dec(a, "255");
    dec(b, "256");
    assert_int_equal(coh_u256_cmp(a, b), -1);
    assert_false(coh_u256_is_zero(a));
}

static void test_u256_add_sub(void **state)
{
    (void)state;
    uint8_t a[32], b[32], c[32], max[32], one[32];
    memset(max, 0xff, 32);
    coh_u256_from_u64(one, 1);
    dec(a, "255");
    assert_int_equal(coh_u256_add(c, a, one), 0); /* carry across a byte */
    assert_dec(c, "256");
    assert_int_equal(coh_u256_sub(c, c, one), 0); /* borrow across a byte, aliased */
    assert_dec(c, "255");
    assert_int_equal(coh_u256_add(a, a, a), 0); /* out aliasing both inputs */
    assert_dec(a, "510");
    /* max - 1 + 1 = max; max + 1 overflows and leaves out unchanged */
    assert_int_equal(coh_u256_sub(b, max, one), 0);
    assert_int_equal(coh_u256_add(c, b, one), 0);
    assert_memory_equal(c, max, 32);
    memcpy(c, a, 32);
    assert_int_equal(coh_u256_add(c, max, one), -1);
    assert_memory_equal(c, a, 32);
    assert_int_equal(coh_u256_add(c, max, max), -1);
    assert_memory_equal(c, a, 32);
    /* underflow: 0 - 1 and 255 - 510; out unchanged */
    memset(b, 0, 32);
    assert_int_equal(coh_u256_sub(c, b, one), -1);
    assert_memory_equal(c, a, 32);
    dec(b, "255");
    assert_int_equal(coh_u256_sub(c, b, a), -1);
    assert_memory_equal(c, a, 32);
    assert_int_equal(coh_u256_sub(c, a, b), 0);
    assert_dec(c, "255");
    assert_int_equal(coh_u256_sub(c, max, max), 0);
    assert_true(coh_u256_is_zero(c));
}

static void test_u256_mul_scale(void **state)
{
    (void)state;
    uint8_t a[32], c[32], max[32], keep[32];
    memset(max, 0xff, 32);
    dec(a, "200");
    assert_int_equal(coh_u256_mul_u64(c, a, 100000), 0);
    assert_dec(c, "20000000");
    assert_int_equal(coh_u256_mul_u64(c, a, 0), 0);
    assert_true(coh_u256_is_zero(c));
    /* 64-bit multipliers: (2^64-1)^2 = 340282366920938463426481119284349108225 */
    coh_u256_from_u64(a, UINT64_MAX);
    assert_int_equal(coh_u256_mul_u64(c, a, UINT64_MAX), 0);
    assert_dec(c, "340282366920938463426481119284349108225");
    assert_int_equal(coh_u256_mul_u64(max, max, 1), 0);
    memset(keep, 0xff, 32);
    assert_memory_equal(max, keep, 32);
    memcpy(keep, a, 32);
    assert_int_equal(coh_u256_mul_u64(a, max, 2), -1); /* overflow refused, a unchanged */
    assert_memory_equal(a, keep, 32);
    /* near the top: 2^192 * 2^63 = 2^255 fits, 2^193 * 2^63 = 2^256 does not */
    dec(a, "6277101735386680763835789423207666416102355444464034512896"); /* 2^192 */
    assert_int_equal(coh_u256_mul_u64(c, a, (uint64_t)1 << 63), 0);
    assert_int_equal(c[0], 0x80);
    assert_int_equal(coh_u256_mul_u64(c, a, UINT64_MAX), 0);
    assert_int_equal(coh_u256_mul_u64(c, a, 0), 0);
    dec(a, "12554203470773361527671578846415332832204710888928069025792"); /* 2^193 */
    assert_int_equal(coh_u256_mul_u64(c, a, (uint64_t)1 << 63), -1);
    /* fee bump: 1 gwei * 112 / 100 = 1.12 gwei */
    coh_u256_from_u64(a, 1000000000);
    assert_int_equal(coh_u256_scale(c, a, 112, 100), 0);
    assert_dec(c, "1120000000");
    assert_int_equal(coh_u256_scale(c, max, 1, 2), 0);
    assert_int_equal(c[0], 0x7f);
    assert_int_equal(coh_u256_cmp(c, max), -1);
    assert_int_equal(coh_u256_scale(c, max, 3, 3), 0); /* the 288-bit product is exact */
    assert_memory_equal(c, max, 32);
    memcpy(keep, c, 32);
    assert_int_equal(coh_u256_scale(c, max, 2, 1), -1); /* overflow: no saturation */
    assert_memory_equal(c, keep, 32);
    assert_int_equal(coh_u256_scale(c, max, 1, 0), -1); /* den 0 */
    assert_memory_equal(c, keep, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_timestamp),  cmocka_unit_test(test_hex_roundtrip),
        cmocka_unit_test(test_base64),         cmocka_unit_test(test_config_layers),
        cmocka_unit_test(test_config_errors),  cmocka_unit_test(test_secbuf),
        cmocka_unit_test(test_master_key),     cmocka_unit_test(test_u256_dec),
        cmocka_unit_test(test_u256_u64_cmp),   cmocka_unit_test(test_u256_add_sub),
        cmocka_unit_test(test_u256_mul_scale),
    };
    if (coh_process_harden() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
