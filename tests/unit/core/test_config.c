/*
 * Unit tests for the typed settings (config.c, settings.c): each type's accepted and refused
 * values, messages naming the setting and its file line or variable, secrets never echoed,
 * cohortd's table itself (defaults valid, names unique), the cross-setting rule, and that
 * docs/SETTINGS.md mirrors the table.
 */
#include "core/core.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef COH_SOURCE_DIR
#define COH_SOURCE_DIR "."
#endif

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/coh_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

/* 0 when value is accepted for spec, else the message in msg. */
static int check(const coh_config_spec *s, const char *value, char msg[256])
{
    coh_err err = {0};
    int rc = coh_config_check_value(s, value, "f.conf:3", &err);
    snprintf(msg, 256, "%s", err.msg);
    return rc;
}

static void test_int_and_duration(void **state)
{
    (void)state;
    char m[256];
    coh_config_spec i = {"n", COH_CFG_INT, "5", 1, 10, 0, "", NULL};
    assert_int_equal(check(&i, "1", m), 0);
    assert_int_equal(check(&i, "10", m), 0);
    assert_int_equal(check(&i, "0", m), COH_ERR_INVALID);
    assert_string_equal(m, "config: f.conf:3: setting 'n' must be an integer in [1, 10], got '0'");
    assert_int_equal(check(&i, "11", m), COH_ERR_INVALID);
    assert_int_equal(check(&i, "5x", m), COH_ERR_INVALID);
    assert_int_equal(check(&i, "", m), COH_ERR_INVALID);
    assert_int_equal(check(&i, " 5", m), COH_ERR_INVALID);
    assert_int_equal(check(&i, "99999999999999999999", m), COH_ERR_INVALID);
    coh_config_spec d = {"t_ms", COH_CFG_DURATION_MS, "5", 10, 100, 0, "", NULL};
    assert_int_equal(check(&d, "10", m), 0);
    assert_int_equal(check(&d, "9", m), COH_ERR_INVALID);
    assert_non_null(strstr(m, "(milliseconds)"));
    assert_string_equal(coh_config_kind_name(&d), "duration (ms)");
}

static void test_bool_enum(void **state)
{
    (void)state;
    char m[256];
    coh_config_spec b = {"b", COH_CFG_BOOL, "false", 0, 0, 0, "", NULL};
    assert_int_equal(check(&b, "true", m), 0);
    assert_int_equal(check(&b, "0", m), 0);
    assert_int_equal(check(&b, "yes", m), COH_ERR_INVALID);
    assert_int_equal(check(&b, "", m), COH_ERR_INVALID);
    coh_config_spec e = {"level", COH_CFG_ENUM, "info", 0, 0, 0, "", "debug|info|warn"};
    assert_int_equal(check(&e, "debug", m), 0);
    assert_int_equal(check(&e, "warn", m), 0);
    assert_int_equal(check(&e, "war", m), COH_ERR_INVALID);
    assert_int_equal(check(&e, "", m), COH_ERR_INVALID);
    assert_int_equal(check(&e, "info|warn", m), COH_ERR_INVALID);
    assert_string_equal(m,
                        "config: f.conf:3: setting 'level' must be one of debug, info, warn, got "
                        "'info|warn'");
}

static void test_decimal(void **state)
{
    (void)state;
    char m[256];
    coh_config_spec d = {"eps", COH_CFG_DECIMAL, "1", 1, 10000000, 0, "", NULL};
    assert_int_equal(check(&d, "1", m), 0);
    assert_int_equal(check(&d, "0.000001", m), 0);
    assert_int_equal(check(&d, "10", m), 0);
    assert_int_equal(check(&d, "10.000000", m), 0);
    assert_int_equal(check(&d, "10.000001", m), COH_ERR_INVALID);
    assert_string_equal(m, "config: f.conf:3: setting 'eps' must be a decimal in [0.000001, 10] "
                           "with at most 6 fraction digits, got '10.000001'");
    assert_int_equal(check(&d, "0", m), COH_ERR_INVALID);
    assert_int_equal(check(&d, "0.0000001", m), COH_ERR_INVALID); /* 7 fraction digits */
    assert_int_equal(check(&d, "1.", m), COH_ERR_INVALID);
    assert_int_equal(check(&d, ".5", m), COH_ERR_INVALID);
    assert_int_equal(check(&d, "1.2.3", m), COH_ERR_INVALID);
    assert_int_equal(check(&d, "-1", m), COH_ERR_INVALID);
    assert_int_equal(check(&d, "1e3", m), COH_ERR_INVALID);
    assert_int_equal(check(&d, "99999999999999999999999", m), COH_ERR_INVALID);
    assert_int_equal(check(&d, "", m), COH_ERR_INVALID);
}

static void test_amount(void **state)
{
    (void)state;
    char m[256];
    coh_config_spec a = {"min", COH_CFG_AMOUNT, "0", 0, 0, 0, "", NULL};
    assert_int_equal(check(&a, "0", m), 0);
    assert_int_equal(check(&a, "1000000000000000000", m), 0);
    assert_int_equal(
        check(&a, "115792089237316195423570985008687907853269984665640564039457584007913129639935",
              m),
        0);
    assert_int_equal(
        check(&a, "115792089237316195423570985008687907853269984665640564039457584007913129639936",
              m),
        COH_ERR_INVALID);
    assert_string_equal(m,
                        "config: f.conf:3: setting 'min' must be an amount in base units (decimal "
                        "digits, at most 2^256-1), got "
                        "'1157920892373161954235709850086879078532699846656405640394575840'");
    assert_int_equal(check(&a, "-1", m), COH_ERR_INVALID);
    assert_int_equal(check(&a, "1.5", m), COH_ERR_INVALID);
    assert_int_equal(check(&a, "0x10", m), COH_ERR_INVALID);
    assert_int_equal(check(&a, " 1", m), COH_ERR_INVALID);
    assert_int_equal(check(&a, "", m), COH_ERR_INVALID);
}

static void test_address_url_listen_path(void **state)
{
    (void)state;
    char m[256];
    coh_config_spec a = {"c", COH_CFG_ADDRESS, "", 0, 0, COH_CFG_OPTIONAL, "", NULL};
    assert_int_equal(check(&a, "", m), 0);
    assert_int_equal(check(&a, "0x5FbDB2315678afecb367f032d93F642f64180aa3", m), 0);
    assert_int_equal(check(&a, "0x5FbDB2315678afecb367f032d93F642f64180aa", m), COH_ERR_INVALID);
    assert_int_equal(check(&a, "0x5FbDB2315678afecb367f032d93F642f64180aaZ", m), COH_ERR_INVALID);
    assert_non_null(strstr(m, "must be empty or an address"));
    a.flags = 0;
    assert_int_equal(check(&a, "", m), COH_ERR_INVALID);

    coh_config_spec u = {"u", COH_CFG_URL, "", 0, 0, COH_CFG_OPTIONAL, "", NULL};
    assert_int_equal(check(&u, "", m), 0);
    assert_int_equal(check(&u, "http://127.0.0.1:8545", m), 0);
    assert_int_equal(check(&u, "https://rpc.example/v1?k=x", m), 0);
    assert_int_equal(check(&u, "ftp://x", m), COH_ERR_INVALID);
    assert_int_equal(check(&u, "http://", m), COH_ERR_INVALID);
    assert_int_equal(check(&u, "http://a b", m), COH_ERR_INVALID);
    assert_int_equal(check(&u, "127.0.0.1:8545", m), COH_ERR_INVALID);

    coh_config_spec l = {"l", COH_CFG_LISTEN, "", 0, 0, 0, "", NULL};
    assert_int_equal(check(&l, "127.0.0.1:8080", m), 0);
    assert_int_equal(check(&l, "8080", m), 0);
    assert_int_equal(check(&l, "+8080", m), 0);
    assert_int_equal(check(&l, "[::1]:9464,127.0.0.1:9464s", m), 0);
    assert_int_equal(check(&l, "", m), COH_ERR_INVALID);
    assert_int_equal(check(&l, "127.0.0.1", m), COH_ERR_INVALID);
    assert_int_equal(check(&l, "127.0.0.1:0", m), COH_ERR_INVALID);
    assert_int_equal(check(&l, "127.0.0.1:65536", m), COH_ERR_INVALID);
    assert_int_equal(check(&l, "127.0.0.1:80,", m), COH_ERR_INVALID);
    assert_int_equal(check(&l, "localhost8080", m), COH_ERR_INVALID);

    coh_config_spec p = {"p", COH_CFG_PATH, "", 0, 0, 0, "", NULL};
    assert_int_equal(check(&p, "/x", m), 0);
    assert_int_equal(check(&p, "", m), COH_ERR_INVALID);
    assert_string_equal(m, "config: f.conf:3: setting 'p' must be not empty, got ''");
}

static void test_secret_never_echoed(void **state)
{
    (void)state;
    char m[256];
    coh_config_spec t = {"token", COH_CFG_STRING, "", 16, 0, COH_CFG_SECRET | COH_CFG_OPTIONAL, "",
                         NULL};
    assert_int_equal(check(&t, "", m), 0);
    assert_int_equal(check(&t, "0123456789abcdef", m), 0);
    assert_int_equal(check(&t, "hunter2", m), COH_ERR_INVALID);
    assert_string_equal(m, "config: f.conf:3: token must have at least 16 characters");
    coh_config_spec c = {"db", COH_CFG_CONNINFO, NULL, 0, 0, COH_CFG_SECRET, "", NULL};
    coh_config_spec i = {"n", COH_CFG_INT, "1", 1, 2, COH_CFG_SECRET, "", NULL};
    assert_int_equal(check(&c, "", m), COH_ERR_INVALID);
    assert_int_equal(check(&i, "hunter2", m), COH_ERR_INVALID);
    assert_null(strstr(m, "hunter2"));
    assert_non_null(strstr(m, "setting 'n' must be an integer"));
}

/* Errors name the file line or the variable the bad value came from. */
static void test_origins(void **state)
{
    (void)state;
    static const coh_config_spec specs[] = {
        {"name", COH_CFG_STRING, "x", 0, 0, 0, "", NULL},
        {"count", COH_CFG_INT, "1", 1, 9, 0, "", NULL},
    };
    coh_config *c = NULL;
    coh_err err = {0};
    unsetenv("COHORT_COUNT");
    unsetenv("COHORT_NAME");
    char *p = write_tmp("# c\n\nname = a # not a comment\ncount = 12\n");
    char path[64];
    snprintf(path, sizeof path, "%s", p);
    assert_int_equal(coh_config_load(&c, specs, 2, path, &err), COH_ERR_INVALID);
    char want[256];
    snprintf(want, sizeof want,
             "config: %s:4: setting 'count' must be an integer in [1, 9], got '12'", path);
    assert_string_equal(err.msg, want);

    setenv("COHORT_COUNT", "3", 1); /* the environment overrides the bad file value */
    assert_int_equal(coh_config_load(&c, specs, 2, path, &err), 0);
    assert_int_equal(coh_config_int(c, "count"), 3);
    assert_string_equal(coh_config_origin(c, "count"), "COHORT_COUNT");
    snprintf(want, sizeof want, "%s:3", path);
    assert_string_equal(coh_config_origin(c, "name"), want);
    assert_string_equal(coh_config_str(c, "name"), "a # not a comment");
    coh_config_free(c);

    setenv("COHORT_COUNT", "zero", 1);
    assert_int_equal(coh_config_load(&c, specs, 2, NULL, &err), COH_ERR_INVALID);
    assert_string_equal(
        err.msg, "config: COHORT_COUNT: setting 'count' must be an integer in [1, 9], got 'zero'");
    unsetenv("COHORT_COUNT");
    assert_int_equal(coh_config_load(&c, specs, 2, NULL, &err), 0);
    assert_string_equal(coh_config_origin(c, "count"), "default");
    coh_config_free(c);
    unlink(path);

    /* A line longer than the reader's buffer is refused, not split into two settings. */
    char *big = malloc(5000);
    memset(big, 'a', 4999);
    memcpy(big, "name = ", 7);
    big[4998] = '\n';
    big[4999] = '\0';
    p = write_tmp(big);
    free(big);
    assert_int_equal(coh_config_load(&c, specs, 2, p, &err), COH_ERR_INVALID);
    assert_non_null(strstr(err.msg, ":1: line longer than"));
    unlink(p);

    assert_int_equal(coh_config_load(&c, specs, 2, "/nonexistent/x.conf", &err), COH_ERR_IO);
    assert_non_null(strstr(err.msg, "cannot open /nonexistent/x.conf"));
}

static void clear_settings_env(void)
{
    for (size_t i = 0; i < coh_settings_count; i++) {
        char env[128] = "COHORT_";
        size_t k = 7;
        for (const char *p = coh_settings[i].name; *p; p++)
            env[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        env[k] = '\0';
        unsetenv(env);
    }
}

/* cohortd's table: unique names, every default valid, the cross-setting rule. */
static void test_cohortd_table(void **state)
{
    (void)state;
    assert_true(coh_settings_count >= 40);
    for (size_t i = 0; i < coh_settings_count; i++) {
        const coh_config_spec *s = &coh_settings[i];
        assert_non_null(s->doc);
        assert_true(strlen(s->doc) > 0);
        for (size_t j = i + 1; j < coh_settings_count; j++)
            assert_string_not_equal(s->name, coh_settings[j].name);
        coh_err err = {0};
        if (s->default_value)
            assert_int_equal(coh_config_check_value(s, s->default_value, "default", &err), 0);
    }
    clear_settings_env();
    coh_config *c = NULL;
    coh_err err = {0};
    assert_int_equal(coh_settings_load(&c, NULL, &err), COH_ERR_INVALID);
    assert_string_equal(err.msg,
                        "config: setting 'database_url' is required (file or COHORT_ environment)");
    char *p =
        write_tmp("database_url = host=/x\nmaster_key_file = /k\nmetrics_listen = 0.0.0.0:9464\n");
    char path[64];
    snprintf(path, sizeof path, "%s", p);
    assert_int_equal(coh_settings_load(&c, path, &err), COH_ERR_INVALID);
    assert_null(c);
    char want[256];
    snprintf(want, sizeof want,
             "config: %s:3: metrics_listen is not a loopback address: set "
             "metrics_token, or listen on 127.0.0.1",
             path);
    assert_string_equal(err.msg, want);
    setenv("COHORT_METRICS_TOKEN", "0123456789abcdef", 1);
    assert_int_equal(coh_settings_load(&c, path, &err), 0);
    assert_int_equal(coh_config_int(c, "chain_id"), 31337);
    assert_int_equal(coh_config_micros(c, "privacy_max_delta"), 1);
    assert_int_equal(coh_config_micros(c, "privacy_max_epsilon"), 1000000);
    coh_config_free(c);
    setenv("COHORT_METRICS_TOKEN", "short", 1);
    assert_int_equal(coh_settings_load(&c, path, &err), COH_ERR_INVALID);
    assert_string_equal(
        err.msg, "config: COHORT_METRICS_TOKEN: metrics_token must have at least 16 characters");
    unsetenv("COHORT_METRICS_TOKEN");
    unlink(path);
}

/* Only an all-loopback metrics_listen may go without a token (coh_settings_load refuses the rest).
 */
static void test_listen_is_loopback(void **state)
{
    (void)state;
    assert_true(coh_listen_is_loopback("127.0.0.1:9464"));
    assert_true(coh_listen_is_loopback("[::1]:9464"));
    assert_true(coh_listen_is_loopback("127.0.0.1:9464,[::1]:9464"));
    assert_false(coh_listen_is_loopback(""));
    assert_false(coh_listen_is_loopback("9464"));  /* every interface */
    assert_false(coh_listen_is_loopback("+9464")); /* every interface, v4 and v6 */
    assert_false(coh_listen_is_loopback("0.0.0.0:9464"));
    assert_false(coh_listen_is_loopback("10.0.0.5:9464"));
    assert_false(coh_listen_is_loopback("[::]:9464"));
    assert_false(coh_listen_is_loopback("127.0.0.1:9464,0.0.0.0:9465"));
    assert_false(coh_listen_is_loopback("127.0.0.1:9464,"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_and_duration),
        cmocka_unit_test(test_bool_enum),
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_amount),
        cmocka_unit_test(test_address_url_listen_path),
        cmocka_unit_test(test_secret_never_echoed),
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_cohortd_table),
        cmocka_unit_test(test_listen_is_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
