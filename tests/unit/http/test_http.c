/* Unit tests for the http module's pure parts: router matching, 405 Allow lists, path
 * parameters, rate limiting, metrics exposition. */
#include "http/http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

static void h(struct coh_http_req *req)
{
    (void)req;
}

static const struct coh_http_route routes[] = {
    {"GET", "/healthz", h},
    {"GET", "/v1/requests", h},
    {"POST", "/v1/requests", h},
    {"GET", "/v1/requests/{id}", h},
    {"POST", "/v1/requests/{id}/close", h},
    {"DELETE", "/v1/requests/{id}/consents/me", h},
    {"GET", "/v1/accounts/{address}/balance", h},
};
#define N (sizeof routes / sizeof routes[0])

static enum coh_route_match find(const char *m, const char *p, size_t *idx, char params[][160],
                                 int *n, char *allow)
{
    return coh_http_route_find(routes, N, m, p, idx, params, n, allow, 128);
}

static void test_router_literal_and_params(void **state)
{
    (void)state;
    size_t idx;
    char params[COH_HTTP_MAX_PARAMS][160], allow[128];
    int n;
    assert_int_equal(find("GET", "/healthz", &idx, params, &n, allow), COH_ROUTE_FOUND);
    assert_int_equal(idx, 0);
    assert_int_equal(n, 0);
    assert_int_equal(find("GET", "/v1/requests/0xabc", &idx, params, &n, allow), COH_ROUTE_FOUND);
    assert_int_equal(idx, 3);
    assert_int_equal(n, 1);
    assert_string_equal(params[0], "0xabc");
    assert_int_equal(find("POST", "/v1/requests/42/close", &idx, params, &n, allow),
                     COH_ROUTE_FOUND);
    assert_int_equal(idx, 4);
    assert_string_equal(params[0], "42");
    assert_int_equal(find("GET", "/v1/accounts/0x01/balance", &idx, params, &n, allow),
                     COH_ROUTE_FOUND);
    assert_string_equal(params[0], "0x01");
    /* HEAD is served by GET routes. */
    assert_int_equal(find("HEAD", "/healthz", &idx, params, &n, allow), COH_ROUTE_FOUND);
}

static void test_router_not_found(void **state)
{
    (void)state;
    size_t idx;
    char params[COH_HTTP_MAX_PARAMS][160], allow[128];
    int n;
    const char *paths[] = {"/",
                           "/healthz/",
                           "/healthzz",
                           "/v1/requests//close",
                           "/v1/requests/1/close/x",
                           "/v1/requests/1/consents/you",
                           "/v1",
                           ""};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        assert_int_equal(find("GET", paths[i], &idx, params, &n, allow), COH_ROUTE_NONE);
}

static void test_router_wrong_method_allow(void **state)
{
    (void)state;
    size_t idx;
    char params[COH_HTTP_MAX_PARAMS][160], allow[128];
    int n;
    assert_int_equal(find("DELETE", "/v1/requests", &idx, params, &n, allow),
                     COH_ROUTE_WRONG_METHOD);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(idx, 1);
    assert_int_equal(find("PUT", "/v1/requests/7/close", &idx, params, &n, allow),
                     COH_ROUTE_WRONG_METHOD);
    assert_string_equal(allow, "POST");
}

static void test_router_long_segment_refused(void **state)
{
    (void)state;
    size_t idx;
    char params[COH_HTTP_MAX_PARAMS][160], allow[128];
    int n;
    char path[400] = "/v1/requests/";
    memset(path + strlen(path), 'a', 300);
    path[313] = '\0';
    assert_int_equal(find("GET", path, &idx, params, &n, allow), COH_ROUTE_NONE);
}

static void test_ratelimit(void **state)
{
    (void)state;
    struct coh_ratelimit *r = coh_ratelimit_new(0.001, 3);
    int retry = 0;
    for (int i = 0; i < 3; i++)
        assert_true(coh_ratelimit_take(r, "ip:127.0.0.1", &retry));
    assert_false(coh_ratelimit_take(r, "ip:127.0.0.1", &retry));
    assert_true(retry >= 1);
    /* Another key has its own bucket. */
    assert_true(coh_ratelimit_take(r, "ip:127.0.0.2", &retry));
    coh_ratelimit_free(r);
    coh_ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_literal_and_params),
        cmocka_unit_test(test_router_not_found),
        cmocka_unit_test(test_router_wrong_method_allow),
        cmocka_unit_test(test_router_long_segment_refused),
        cmocka_unit_test(test_ratelimit),
    };
    if (coh_process_harden() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
