/*
 * fuzz_clientip: trusted_proxies lists and forwarding headers. Input: a first byte choosing
 * the header (even: X-Forwarded-For, odd: Forwarded), then lines: the trusted_proxies value,
 * the TCP peer, and the header's lines. Properties: a refused list leaves no entries; the
 * client is always a parseable address, NUL-terminated inside its buffer; from a peer that is
 * not trusted it is the peer itself whatever the header says; the bucket key is bounded.
 */
#include "fuzz.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <string.h>

#define MAX_LINES 8

static int is_address(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *header = (data[0] & 1) ? "forwarded" : "x-forwarded-for";
    char *text = fuzz_strndup(data + 1, size - 1);
    char *lines[2 + MAX_LINES];
    size_t n = 0;
    for (char *p = text; n < 2 + MAX_LINES;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    struct coh_http_proxies tp;
    coh_err err = {0};
    if (coh_http_proxies_parse(&tp, lines[0], header, &err) != 0) {
        FUZZ_CHECK(tp.n == 0);
        free(text);
        return 0;
    }
    FUZZ_CHECK(tp.n >= 0 && tp.n <= COH_HTTP_MAX_PROXIES);
    const char *peer = n > 1 ? lines[1] : "127.0.0.1";
    if (!is_address(peer))
        peer = "127.0.0.1"; /* civetweb's remote_addr is always numeric */
    char out[COH_HTTP_ADDR_MAX + 8];
    memset(out, 'x', sizeof out);
    coh_http_client_addr(out, &tp, peer, (const char *const *)(lines + 2), n > 2 ? n - 2 : 0);
    FUZZ_CHECK(memchr(out, '\0', COH_HTTP_ADDR_MAX) != NULL);
    FUZZ_CHECK(out[COH_HTTP_ADDR_MAX] == 'x');
    FUZZ_CHECK(is_address(out));
    char alone[COH_HTTP_ADDR_MAX];
    coh_http_client_addr(alone, NULL, peer, NULL, 0); /* the peer, canonical */
    struct coh_http_proxies none;
    FUZZ_CHECK(coh_http_proxies_parse(&none, "", header, &err) == 0);
    char untrusted[COH_HTTP_ADDR_MAX];
    coh_http_client_addr(untrusted, &none, peer, (const char *const *)(lines + 2),
                         n > 2 ? n - 2 : 0);
    FUZZ_CHECK(strcmp(untrusted, alone) == 0);
    char bucket[64];
    coh_http_client_bucket(bucket, sizeof bucket, out);
    FUZZ_CHECK(memchr(bucket, '\0', sizeof bucket) != NULL);
    free(text);
    return 0;
}
