/*
 * clientip: which address a request comes from. cohortd is meant to run behind a
 * TLS-terminating reverse proxy, and then every TCP peer is the proxy: rate limits and the
 * access log need the client behind it.
 *
 * The client is the TCP peer, unless the peer is one of the operator's trusted_proxies. Only
 * then is one forwarding header read (forwarded_header: X-Forwarded-For, or RFC 7239
 * Forwarded for=), every line of it in order, and walked from the right: each hop was
 * appended by the hop to its right, so the first address that is not itself a trusted proxy is
 * the client. Anything to its left was written by the client and is never believed. An element
 * that is not an address ("unknown", an obfuscated "_node", garbage) stops the walk: the client
 * is then the last trusted hop, which can only make a limit stricter, never hand out a fresh
 * bucket. Only one header is read because a proxy that appends to one passes the other
 * through untouched, so a client could forge it.
 *
 * Addresses are held as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one
 * comparison serves both families and a dual-stack listener's "::ffff:10.0.0.1" peer matches
 * "10.0.0.0/8". Output is canonical text (inet_ntop; mapped addresses as dotted IPv4), so two
 * spellings of one address are one rate-limit bucket.
 *
 * Runs once per request: a parse of the peer and, behind a proxy, of one short header.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Hops kept from a forwarding header: the right-most ones, the only ones that can matter. */
#define HOPS_MAX 64

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses a bare numeric IPv4 or IPv6 address of n bytes (no port, brackets or zone) into 16
 * bytes; returns 1 for IPv4, 2 for IPv6, 0 when not an address. */
static int addr_parse(uint8_t out[16], const char *s, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        memcpy(out, v4_mapped_prefix, 12);
        memcpy(out + 12, &a4, 4);
        return 1;
    }
    return inet_pton(AF_INET6, buf, out) == 1 ? 2 : 0;
}

static int is_v4_mapped(const uint8_t a[16])
{
    return memcmp(a, v4_mapped_prefix, 12) == 0;
}

static void addr_format(char out[COH_HTTP_ADDR_MAX], const uint8_t a[16])
{
    if (is_v4_mapped(a))
        inet_ntop(AF_INET, a + 12, out, COH_HTTP_ADDR_MAX);
    else
        inet_ntop(AF_INET6, a, out, COH_HTTP_ADDR_MAX);
}

/* Returns 1 when the first bits of a and b are equal. */
static int prefix_equal(const uint8_t a[16], const uint8_t b[16], int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* Parses one entry, "addr" or "addr/bits": 0, -1 when malformed, -2 when bits are set after
 * the prefix length. */
static int net_parse(struct coh_http_net *out, const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    int fam = addr_parse(out->addr, s, alen);
    if (!fam)
        return -1;
    int max = fam == 1 ? 32 : 128, bits = max;
    if (slash) {
        size_t dn = n - alen - 1;
        if (dn == 0 || dn > 3)
            return -1;
        bits = 0;
        for (size_t i = 0; i < dn; i++) {
            if (!isdigit((unsigned char)slash[1 + i]))
                return -1;
            bits = bits * 10 + (slash[1 + i] - '0');
        }
        if (bits > max)
            return -1;
    }
    out->bits = fam == 1 ? 96 + bits : bits;
    /* Host bits set ("10.0.0.5/24") most likely mean a typo that trusts a whole network. */
    uint8_t masked[16];
    memcpy(masked, out->addr, 16);
    for (int i = out->bits; i < 128; i++)
        masked[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
    return memcmp(masked, out->addr, 16) == 0 ? 0 : -2;
}

int coh_http_proxies_parse(struct coh_http_proxies *out, const char *list, const char *header,
                           coh_err *err)
{
    memset(out, 0, sizeof *out);
    if (!header || strcasecmp(header, "x-forwarded-for") == 0)
        out->header = COH_HTTP_FWD_XFF;
    else if (strcasecmp(header, "forwarded") == 0)
        out->header = COH_HTTP_FWD_FORWARDED;
    else
        return coh_err_set(err, COH_ERR_INVALID,
                           "forwarded_header must be x-forwarded-for or forwarded, got '%s'",
                           header);
    const char *sep = ", \t";
    for (const char *p = list ? list : ""; *p;) {
        p += strspn(p, sep);
        size_t n = strcspn(p, sep);
        if (n == 0)
            break;
        if (out->n == COH_HTTP_MAX_PROXIES) {
            memset(out, 0, sizeof *out);
            return coh_err_set(err, COH_ERR_INVALID,
                               "trusted_proxies: more than %d entries; use CIDR ranges",
                               COH_HTTP_MAX_PROXIES);
        }
        int rc = net_parse(&out->net[out->n], p, n);
        if (rc == -2) {
            int len = (int)n;
            memset(out, 0, sizeof *out);
            return coh_err_set(err, COH_ERR_INVALID,
                               "trusted_proxies: '%.*s' has bits set after its prefix length; "
                               "write the network's first address",
                               len > 64 ? 64 : len, p);
        }
        if (rc != 0) {
            int len = (int)n;
            memset(out, 0, sizeof *out);
            return coh_err_set(err, COH_ERR_INVALID,
                               "trusted_proxies: '%.*s' is not an IPv4 or IPv6 address or CIDR "
                               "range (such as 10.0.0.0/8 or fd00::/8)",
                               len > 64 ? 64 : len, p);
        }
        out->n++;
        p += n;
    }
    return 0;
}

int coh_http_proxies_from_config(struct coh_http_proxies *out, const coh_config *c, coh_err *err)
{
    coh_err e = {0};
    if (coh_http_proxies_parse(out, coh_config_str(c, "trusted_proxies"),
                               coh_config_str(c, "forwarded_header"), &e))
        return coh_err_set(err, COH_ERR_INVALID, "config: %s: %s",
                           coh_config_origin(c, "trusted_proxies"), e.msg);
    return 0;
}

static int trusted(const struct coh_http_proxies *tp, const uint8_t a[16])
{
    for (int i = 0; i < tp->n; i++)
        if (prefix_equal(a, tp->net[i].addr, tp->net[i].bits))
            return 1;
    return 0;
}

/* One hop as a forwarding header writes it: the address, or 0 (unknown, obfuscated, bad). */
struct hop {
    int ok;
    uint8_t addr[16];
};

/* Trims optional whitespace around [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/*
 * A node as both headers may write it: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
 * "[2001:db8::1]" or "[2001:db8::1]:4711". Anything else is not an address.
 */
static int node_parse(uint8_t out[16], const char *s, size_t n)
{
    trim(&s, &n);
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return 0;
        size_t after = n - (size_t)(close - s) - 1;
        if (after && (close[1] != ':' || after == 1 || after > 6 ||
                      strspn(close + 2, "0123456789") < after - 1))
            return 0;
        return addr_parse(out, s + 1, (size_t)(close - s) - 1) == 2;
    }
    const char *colon = memchr(s, ':', n);
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
        /* one colon: IPv4 with a port */
        size_t port = n - (size_t)(colon - s) - 1;
        if (port == 0 || port > 5 || strspn(colon + 1, "0123456789") < port)
            return 0;
        return addr_parse(out, s, (size_t)(colon - s)) == 1;
    }
    return addr_parse(out, s, n) != 0;
}

/* Appends a hop to the ring of the last HOPS_MAX. */
static void hop_push(struct hop *hops, size_t *count, int ok, const uint8_t addr[16])
{
    struct hop *h = &hops[*count % HOPS_MAX];
    h->ok = ok;
    if (ok)
        memcpy(h->addr, addr, 16);
    (*count)++;
}

/* X-Forwarded-For: "client, proxy1, proxy2". */
static void xff_hops(struct hop *hops, size_t *count, const char *v)
{
    for (;;) {
        size_t n = strcspn(v, ",");
        uint8_t a[16] = {0};
        const char *s = v;
        size_t m = n;
        trim(&s, &m);
        if (m) /* empty elements (",,") are allowed by the list syntax and skipped */
            hop_push(hops, count, node_parse(a, s, m), a);
        if (v[n] == '\0')
            return;
        v += n + 1;
    }
}

/*
 * Forwarded (RFC 7239): elements separated by ',', each pairs "name=value" separated by ';',
 * a value a token or a quoted-string (which may hold ',' and ';'). Each element is one hop: its
 * for= node, or not an address when it has none.
 */
static void forwarded_hops(struct hop *hops, size_t *count, const char *v)
{
    const char *p = v;
    for (;;) {
        int have_for = 0, ok = 0;
        uint8_t a[16] = {0};
        int any = 0;
        for (;;) { /* the pairs of one element */
            while (*p == ' ' || *p == '\t' || *p == ';')
                p++;
            if (*p == '\0' || *p == ',')
                break;
            any = 1;
            const char *name = p;
            p += strcspn(p, "=;,");
            size_t name_len = (size_t)(p - name);
            trim(&name, &name_len);
            char val[80];
            size_t vn = 0;
            int bad = 0;
            if (*p == '=') {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                if (*p == '"') {
                    for (p++; *p && *p != '"'; p++) {
                        if (*p == '\\' && p[1])
                            p++;
                        if (vn + 1 < sizeof val)
                            val[vn++] = *p;
                        else
                            bad = 1;
                    }
                    if (*p == '"')
                        p++;
                    else
                        bad = 1;
                    while (*p == ' ' || *p == '\t')
                        p++;
                    if (*p && *p != ';' && *p != ',') { /* junk after the quoted string */
                        bad = 1;
                        p += strcspn(p, ";,");
                    }
                } else {
                    const char *t = p;
                    p += strcspn(p, ";,");
                    size_t tn = (size_t)(p - t);
                    trim(&t, &tn);
                    if (tn + 1 < sizeof val) {
                        memcpy(val, t, tn);
                        vn = tn;
                    } else {
                        bad = 1;
                    }
                }
            } else {
                bad = 1;
            }
            val[vn] = '\0';
            if (name_len == 3 && strncasecmp(name, "for", 3) == 0) {
                /* a second for= in one element is malformed: the hop is not believed */
                ok = !have_for && !bad && node_parse(a, val, vn);
                have_for++;
            }
        }
        if (any) /* empty elements (",,") are allowed by the list syntax and skipped */
            hop_push(hops, count, have_for == 1 && ok, a);
        if (*p == '\0')
            return;
        p++; /* the ',' */
    }
}

void coh_http_client_addr(char out[COH_HTTP_ADDR_MAX], const struct coh_http_proxies *tp,
                          const char *peer, const char *const *values, size_t n_values)
{
    uint8_t cur[16];
    if (!addr_parse(cur, peer, strlen(peer))) {
        /* Not from civetweb's numeric remote_addr; keep whatever it is, bounded. */
        snprintf(out, COH_HTTP_ADDR_MAX, "%s", peer);
        return;
    }
    if (tp && tp->n > 0 && trusted(tp, cur) && n_values > 0) {
        struct hop hops[HOPS_MAX];
        size_t count = 0;
        for (size_t i = 0; i < n_values; i++) {
            if (!values[i])
                continue;
            if (tp->header == COH_HTTP_FWD_FORWARDED)
                forwarded_hops(hops, &count, values[i]);
            else
                xff_hops(hops, &count, values[i]);
        }
        size_t kept = count < HOPS_MAX ? count : HOPS_MAX;
        for (size_t i = 0; i < kept; i++) {
            const struct hop *h = &hops[(count - 1 - i) % HOPS_MAX];
            if (!h->ok)
                break; /* the trusted hop to its right could not say: it is the client */
            memcpy(cur, h->addr, 16);
            if (!trusted(tp, cur))
                break;
        }
    }
    addr_format(out, cur);
}

void coh_http_client_bucket(char *out, size_t cap, const char *client)
{
    uint8_t a[16];
    int fam = addr_parse(a, client, strlen(client));
    if (fam != 2 || is_v4_mapped(a)) {
        snprintf(out, cap, "%s", client);
        return;
    }
    /* An IPv6 client is handed a /64 (RFC 6177): one address each would give it 2^64 buckets. */
    memset(a + 8, 0, 8);
    char text[COH_HTTP_ADDR_MAX];
    inet_ntop(AF_INET6, a, text, sizeof text);
    snprintf(out, cap, "%s/64", text);
}
