/* Unit tests for the http module's pure parts: router matching, 405 Allow lists, path
 * parameters, rate limiting, metrics exposition, trusted proxies and the client address. */
#include "http/http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
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

/* ---- trusted proxies and the client address (clientip.c) ---------------------------------- */

static void proxies(struct coh_http_proxies *tp, const char *list, const char *header)
{
    coh_err err = {0};
    assert_int_equal(coh_http_proxies_parse(tp, list, header, &err), 0);
}

static void refused(const char *list, const char *header, const char *phrase)
{
    struct coh_http_proxies tp;
    coh_err err = {0};
    assert_int_equal(coh_http_proxies_parse(&tp, list, header, &err), COH_ERR_INVALID);
    assert_int_equal(tp.n, 0);
    if (!strstr(err.msg, phrase))
        fail_msg("'%s': message '%s' lacks '%s'", list, err.msg, phrase);
}

static void test_proxies_parse(void **state)
{
    (void)state;
    struct coh_http_proxies tp;
    proxies(&tp, "", NULL);
    assert_int_equal(tp.n, 0);
    assert_int_equal(tp.header, COH_HTTP_FWD_XFF);
    proxies(&tp, "127.0.0.1, ::1 10.0.0.0/8,fd00::/8 ,\t192.168.1.0/24", "Forwarded");
    assert_int_equal(tp.n, 5);
    assert_int_equal(tp.header, COH_HTTP_FWD_FORWARDED);
    assert_int_equal(tp.net[0].bits, 128); /* an IPv4 host is ::ffff:a.b.c.d/128 */
    assert_int_equal(tp.net[1].bits, 128);
    assert_int_equal(tp.net[2].bits, 104);
    assert_int_equal(tp.net[3].bits, 8);
    proxies(&tp, "0.0.0.0/0", "x-forwarded-for");
    assert_int_equal(tp.net[0].bits, 96);
    proxies(&tp, "::/0", NULL);
    assert_int_equal(tp.net[0].bits, 0);

    refused("10.0.0.5/24", NULL, "bits set after its prefix length");
    refused("10.0.0.0/33", NULL, "not an IPv4 or IPv6 address");
    refused("fd00::/129", NULL, "'fd00::/129'");
    refused("10.0.0.0/", NULL, "not an IPv4");
    refused("10.0.0.0/x", NULL, "not an IPv4");
    refused("10.0.0.0/0008", NULL, "not an IPv4");
    refused("localhost", NULL, "'localhost'");
    refused("127.0.0.1, 10.0.0.256", NULL, "'10.0.0.256'");
    refused("[::1]", NULL, "not an IPv4");
    refused("fe80::1%eth0", NULL, "not an IPv4");
    refused("010.0.0.1", NULL, "not an IPv4"); /* no octal guessing */
    refused("127.0.0.1", "x-real-ip", "forwarded_header");
    char many[2048] = "";
    for (int i = 0; i <= COH_HTTP_MAX_PROXIES; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "10.0.%d.1,", i);
    refused(many, NULL, "more than");
}

/* The client for peer and header lines v (NULL-terminated). */
static const char *client(const struct coh_http_proxies *tp, const char *peer, const char *v0,
                          const char *v1)
{
    static char out[COH_HTTP_ADDR_MAX];
    const char *values[] = {v0, v1};
    size_t n = v1 ? 2 : v0 ? 1 : 0;
    coh_http_client_addr(out, tp, peer, values, n);
    return out;
}

static void test_client_addr_xff(void **state)
{
    (void)state;
    struct coh_http_proxies none, tp;
    proxies(&none, "", NULL);
    proxies(&tp, "127.0.0.1, 10.0.0.0/8, fd00::/8", NULL);
    /* No trusted proxy, or an untrusted peer: the header is ignored. */
    assert_string_equal(client(&none, "127.0.0.1", "203.0.113.9", NULL), "127.0.0.1");
    assert_string_equal(client(NULL, "127.0.0.1", "203.0.113.9", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "198.51.100.7", "203.0.113.9", NULL), "198.51.100.7");
    /* A trusted peer: the right-most address that is not a trusted proxy. */
    assert_string_equal(client(&tp, "127.0.0.1", "203.0.113.9", NULL), "203.0.113.9");
    assert_string_equal(client(&tp, "127.0.0.1", "6.6.6.6, 203.0.113.9", NULL), "203.0.113.9");
    assert_string_equal(client(&tp, "127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", NULL),
                        "203.0.113.9");
    assert_string_equal(client(&tp, "10.9.9.9", " 203.0.113.9 ,10.1.2.3 ", NULL), "203.0.113.9");
    /* Several header lines are one list, in order: a forged first line changes nothing. */
    assert_string_equal(client(&tp, "127.0.0.1", "6.6.6.6", "203.0.113.9"), "203.0.113.9");
    assert_string_equal(client(&tp, "127.0.0.1", "1.1.1.1, 10.0.0.1", "10.0.0.2"), "1.1.1.1");
    /* Ports and brackets as proxies write them; IPv6 canonical. */
    assert_string_equal(client(&tp, "127.0.0.1", "203.0.113.9:4711", NULL), "203.0.113.9");
    assert_string_equal(client(&tp, "127.0.0.1", "[2001:DB8:0::1]:443", NULL), "2001:db8::1");
    assert_string_equal(client(&tp, "127.0.0.1", "2001:db8:0:0::1", NULL), "2001:db8::1");
    assert_string_equal(client(&tp, "127.0.0.1", "[2001:db8::1]", NULL), "2001:db8::1");
    /* An IPv6 peer in a trusted range, and an IPv4-mapped peer of a dual-stack listener. */
    assert_string_equal(client(&tp, "fd00::5", "203.0.113.9", NULL), "203.0.113.9");
    assert_string_equal(client(&tp, "::ffff:10.0.0.1", "203.0.113.9", NULL), "203.0.113.9");
    assert_string_equal(client(&tp, "::ffff:198.51.100.7", "203.0.113.9", NULL), "198.51.100.7");
    /* Every hop trusted: the left-most. */
    assert_string_equal(client(&tp, "127.0.0.1", "10.0.0.7, 10.0.0.8", NULL), "10.0.0.7");
    /* No header, or an empty one: the trusted peer itself. */
    assert_string_equal(client(&tp, "127.0.0.1", NULL, NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", " , ", NULL), "127.0.0.1");
    /* Not an address: the walk stops at the trusted hop to its right, never further left. */
    assert_string_equal(client(&tp, "127.0.0.1", "6.6.6.6, unknown", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "6.6.6.6, garbage, 10.0.0.3", NULL), "10.0.0.3");
    assert_string_equal(client(&tp, "127.0.0.1", "203.0.113.9:", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "203.0.113.9:99999x", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "[2001:db8::1", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "[203.0.113.9]", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "fe80::1%eth0", NULL), "127.0.0.1");
    /* An address longer than any address, and a long list: bounded, right-most wins. */
    char big[8192];
    size_t n = 0;
    for (int i = 0; n + 40 < sizeof big; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "10.0.%d.%d, ", i / 250, i % 250);
    snprintf(big + n, sizeof big - n, "203.0.113.9, 10.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", big, NULL), "203.0.113.9");
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_string_equal(client(&tp, "127.0.0.1", big, NULL), "127.0.0.1");
    /* The peer itself is written canonically. */
    assert_string_equal(client(&none, "::ffff:198.51.100.7", NULL, NULL), "198.51.100.7");
    assert_string_equal(client(&none, "2001:DB8::0:1", NULL, NULL), "2001:db8::1");
}

static void test_client_addr_forwarded(void **state)
{
    (void)state;
    struct coh_http_proxies tp;
    proxies(&tp, "127.0.0.1, 10.0.0.0/8", "forwarded");
    /* RFC 7239's examples. */
    assert_string_equal(client(&tp, "127.0.0.1", "for=\"_gazonk\"", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "For=\"[2001:db8:cafe::17]:4711\"", NULL),
                        "2001:db8:cafe::17");
    assert_string_equal(client(&tp, "127.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43",
                               NULL),
                        "192.0.2.60");
    assert_string_equal(client(&tp, "127.0.0.1", "for=192.0.2.43, for=198.51.100.17", NULL),
                        "198.51.100.17");
    assert_string_equal(client(&tp, "127.0.0.1", "for=192.0.2.43, for=10.0.0.2;proto=https", NULL),
                        "192.0.2.43");
    /* Parameters in any order, spaces, quoted values holding ',' and ';'. */
    assert_string_equal(client(&tp, "127.0.0.1",
                               "for=6.6.6.6, proto=https; host=\"a,b;c\" ;for=\"192.0.2.8:80\"",
                               NULL),
                        "192.0.2.8");
    assert_string_equal(client(&tp, "127.0.0.1", "for=\"192.0.\\2.9\"", NULL), "192.0.2.9");
    /* A hop without for=, with two, or with junk: not believed, the walk stops there. */
    assert_string_equal(client(&tp, "127.0.0.1", "for=6.6.6.6, proto=https", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "for=6.6.6.6;for=7.7.7.7", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "for=\"6.6.6.6\"x", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "for=\"6.6.6.6", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "for", NULL), "127.0.0.1");
    assert_string_equal(client(&tp, "127.0.0.1", "for=unknown", NULL), "127.0.0.1");
    /* Empty elements are skipped; lines join in order. */
    assert_string_equal(client(&tp, "127.0.0.1", ",, for=192.0.2.1 ,,", NULL), "192.0.2.1");
    assert_string_equal(client(&tp, "127.0.0.1", "for=6.6.6.6", "for=192.0.2.1"), "192.0.2.1");
    /* X-Forwarded-For is not read when forwarded is the header (the caller passes Forwarded
     * lines only), and an XFF-style list is not a Forwarded element. */
    assert_string_equal(client(&tp, "127.0.0.1", "192.0.2.1", NULL), "127.0.0.1");
}

static void test_client_bucket(void **state)
{
    (void)state;
    char b[64];
    coh_http_client_bucket(b, sizeof b, "203.0.113.9");
    assert_string_equal(b, "203.0.113.9");
    coh_http_client_bucket(b, sizeof b, "2001:db8:1:2:aaaa:bbbb:cccc:dddd");
    assert_string_equal(b, "2001:db8:1:2::/64");
    char c[64];
    coh_http_client_bucket(c, sizeof c, "2001:db8:1:2::1");
    assert_string_equal(b, c);
    coh_http_client_bucket(c, sizeof c, "2001:db8:1:3::1");
    assert_string_not_equal(b, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_literal_and_params),
        cmocka_unit_test(test_router_not_found),
        cmocka_unit_test(test_router_wrong_method_allow),
        cmocka_unit_test(test_router_long_segment_refused),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_proxies_parse),
        cmocka_unit_test(test_client_addr_xff),
        cmocka_unit_test(test_client_addr_forwarded),
        cmocka_unit_test(test_client_bucket),
    };
    if (coh_process_harden() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
