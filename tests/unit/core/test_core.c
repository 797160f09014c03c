/* Unit tests for core: hex/base64, config layering and errors, secure buffers, master key. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_timestamp),
        cmocka_unit_test(test_hex_roundtrip), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_config_layers), cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_secbuf),        cmocka_unit_test(test_master_key),
    };
    if (coh_process_harden() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
