/*
 * siwe: Sign-In with Ethereum (EIP-4361). The message text arrives from a browser and is
 * the very thing the user signed, so the parser follows the EIP's ABNF line by line and
 * refuses anything else (field order, blank lines, characters outside RFC 3986 sets,
 * non-EIP-55 addresses, impossible dates); each rejection has its own error code so the
 * API can say what was wrong. Verification checks the server's expectations and the
 * EIP-191 signature. Whether the nonce is one the server issued, and unused, is the
 * caller's job: the parsed nonce is exposed for that.
 *
 * Memory: parse makes one allocation holding the exact text (for the signature) and a
 * working copy cut into NUL-terminated fields, plus the resources pointer array.
 */
#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

#define HEADER_SUFFIX " wants you to sign in with your Ethereum account:"

/* ---- RFC 3986 character classes ----------------------------------------------------------- */

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_unreserved(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_subdelim(int c)
{
    return c && strchr("!$&'()*+,;=", c) != NULL;
}

static int is_gendelim(int c)
{
    return c && strchr(":/?#[]@", c) != NULL;
}

/* Length of a valid pct-encoded triplet at s, or 0. */
static int pct(const char *s)
{
    return s[0] == '%' && is_hex(s[1]) && is_hex(s[2]) ? 3 : 0;
}

/* True if s[0..n) is made of unreserved / pct-encoded / sub-delims / chars in extra. */
static int all_of(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n;) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 3 > n || !pct(s + i))
                return 0;
            i += 3;
        } else if (is_unreserved(c) || is_subdelim(c) || (c && strchr(extra, c))) {
            i++;
        } else {
            return 0;
        }
    }
    return 1;
}

/* authority = [ userinfo "@" ] host [ ":" port ]; need_host: host must be non-empty. */
static int valid_authority(const char *s, size_t n, int need_host)
{
    const char *at = memchr(s, '@', n);
    if (at) {
        if (!all_of(s, (size_t)(at - s), ":"))
            return 0;
        n -= (size_t)(at - s) + 1;
        s = at + 1;
    }
    size_t host_n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return 0;
        for (const char *p = s + 1; p < close; p++)
            if (!is_hex(*p) && *p != ':' && *p != '.' && *p != 'v' && *p != 'V')
                return 0;
        host_n = (size_t)(close - s) + 1;
    } else {
        host_n = 0;
        while (host_n < n && s[host_n] != ':')
            host_n++;
        if (!all_of(s, host_n, ""))
            return 0;
    }
    if (need_host && host_n == 0)
        return 0;
    if (host_n < n) {
        if (s[host_n] != ':')
            return 0;
        for (size_t i = host_n + 1; i < n; i++)
            if (!is_digit(s[i]))
                return 0;
    }
    return 1;
}

static int valid_scheme(const char *s, size_t n)
{
    if (n == 0 || !is_alpha(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

/* URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ] (RFC 3986 section 3). */
static int valid_uri(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon || !valid_scheme(s, (size_t)(colon - s)))
        return 0;
    const char *p = colon + 1;
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        size_t n = strcspn(p, "/?#");
        if (!valid_authority(p, n, 0))
            return 0;
        p += n;
    }
    int in_fragment = 0;
    size_t n = strlen(p);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '#') {
            if (in_fragment)
                return 0;
            in_fragment = 1;
        } else if (p[i] == '%') {
            if (!pct(p + i))
                return 0;
            i += 2;
        } else if (!is_unreserved(p[i]) && !is_subdelim(p[i]) && !strchr(":@/?", p[i])) {
            return 0;
        }
    }
    return 1;
}

/* ---- RFC 3339 ----------------------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int coh_crypto_rfc3339_parse(int64_t *unix_ms, const char *s)
{
    *unix_ms = 0;
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return COH_CRYPTO_ETIME;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
        sec > 60)
        return COH_CRYPTO_ETIME;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return COH_CRYPTO_ETIME;
        int nd = 0;
        for (; is_digit(*p); p++, nd++)
            if (nd < 3) /* digits below a millisecond are truncated */
                ms = ms * 10 + (*p - '0');
        for (; nd < 3; nd++) /* ".5" is 500 ms */
            ms *= 10;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return COH_CRYPTO_ETIME;
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return COH_CRYPTO_ETIME;
    }
    if (*p)
        return COH_CRYPTO_ETIME;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *unix_ms = secs * 1000 + ms;
    return 0;
}

/* ---- parser ------------------------------------------------------------------------------- */

void coh_crypto_siwe_msg_clear(coh_crypto_siwe_msg *m)
{
    if (!m)
        return;
    free(m->mem_);
    free((void *)m->resources);
    memset(m, 0, sizeof *m);
}

/* If line starts with tag, returns the rest; otherwise NULL. */
static const char *tagged(const char *line, const char *tag)
{
    size_t n = strlen(tag);
    return line && strncmp(line, tag, n) == 0 ? line + n : NULL;
}

static int parse_lines(coh_crypto_siwe_msg *m, char **lines, size_t nl)
{
    size_t i = 0;
    /* [ scheme "://" ] domain " wants you to sign in with your Ethereum account:" */
    char *l = lines[i++];
    size_t sl = strlen(HEADER_SUFFIX), ll = strlen(l);
    if (ll < sl || strcmp(l + ll - sl, HEADER_SUFFIX) != 0)
        return COH_SIWE_EFORMAT;
    l[ll - sl] = '\0';
    char *sep = strstr(l, "://");
    if (sep) {
        *sep = '\0';
        if (!valid_scheme(l, strlen(l)))
            return COH_SIWE_EDOMAIN;
        m->scheme = l;
        l = sep + 3;
    }
    if (!valid_authority(l, strlen(l), 1))
        return COH_SIWE_EDOMAIN;
    m->domain = l;

    if (i >= nl)
        return COH_SIWE_EADDRESS;
    l = lines[i++];
    int rc = coh_crypto_address_parse_eip55(m->address, l);
    if (rc)
        return rc == COH_CRYPTO_ECHECKSUM ? COH_SIWE_ECHECKSUM : COH_SIWE_EADDRESS;
    m->address_text = l;
    if (i >= nl || lines[i++][0] != '\0')
        return COH_SIWE_EFORMAT;

    /* LF [ statement LF ] LF: one line, then a blank line; or no statement at all. */
    if (i + 1 >= nl)
        return COH_SIWE_EFORMAT;
    if (lines[i][0] != '\0' || lines[i + 1][0] == '\0') {
        m->statement = lines[i++];
        for (const char *p = m->statement; *p; p++)
            if (!is_unreserved(*p) && !is_subdelim(*p) && !is_gendelim(*p) && *p != ' ')
                return COH_SIWE_ESTATEMENT;
        if (lines[i][0] != '\0')
            return COH_SIWE_ESTATEMENT; /* a statement is a single line */
    }
    i++;

    const char *v;
    if (i >= nl || !(v = tagged(lines[i], "URI: ")) || !valid_uri(v))
        return COH_SIWE_EURI;
    m->uri = v;
    i++;
    if (i >= nl || !(v = tagged(lines[i], "Version: ")) || strcmp(v, "1") != 0)
        return COH_SIWE_EVERSION;
    m->version = v;
    i++;
    if (i >= nl || !(v = tagged(lines[i], "Chain ID: ")) || !*v)
        return COH_SIWE_ECHAIN_ID;
    uint64_t chain = 0;
    for (const char *p = v; *p; p++) {
        if (!is_digit(*p) || chain > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return COH_SIWE_ECHAIN_ID;
        chain = chain * 10 + (uint64_t)(*p - '0');
    }
    m->chain_id = chain;
    i++;
    if (i >= nl || !(v = tagged(lines[i], "Nonce: ")) || strlen(v) < 8)
        return COH_SIWE_ENONCE;
    for (const char *p = v; *p; p++)
        if (!is_alpha(*p) && !is_digit(*p))
            return COH_SIWE_ENONCE;
    m->nonce = v;
    i++;
    if (i >= nl || !(v = tagged(lines[i], "Issued At: ")) ||
        coh_crypto_rfc3339_parse(&m->issued_at_ms, v) != 0)
        return COH_SIWE_EISSUED_AT;
    m->issued_at = v;
    i++;
    if (i < nl && (v = tagged(lines[i], "Expiration Time: "))) {
        if (coh_crypto_rfc3339_parse(&m->expiration_time_ms, v) != 0)
            return COH_SIWE_EEXPIRATION;
        m->expiration_time = v;
        i++;
    }
    if (i < nl && (v = tagged(lines[i], "Not Before: "))) {
        if (coh_crypto_rfc3339_parse(&m->not_before_ms, v) != 0)
            return COH_SIWE_ENOT_BEFORE;
        m->not_before = v;
        i++;
    }
    if (i < nl && (v = tagged(lines[i], "Request ID: "))) {
        if (!all_of(v, strlen(v), ":@"))
            return COH_SIWE_EREQUEST_ID;
        m->request_id = v;
        i++;
    }
    if (i < nl && strcmp(lines[i], "Resources:") == 0) {
        i++;
        m->resources = calloc(nl - i + 1, sizeof *m->resources);
        if (!m->resources)
            return COH_ERR_NOMEM;
        for (; i < nl; i++) {
            if (!(v = tagged(lines[i], "- ")) || !valid_uri(v))
                return COH_SIWE_ERESOURCES;
            m->resources[m->n_resources++] = v;
        }
    }
    return i == nl ? 0 : COH_SIWE_EFORMAT;
}

int coh_crypto_siwe_parse(coh_crypto_siwe_msg *out, const char *text, size_t len)
{
    memset(out, 0, sizeof *out);
    if (!text || memchr(text, '\0', len))
        return COH_SIWE_EFORMAT;
    char *mem = malloc(2 * len + 2);
    if (!mem)
        return COH_ERR_NOMEM;
    memcpy(mem, text, len);
    mem[len] = '\0';
    char *work = mem + len + 1;
    memcpy(work, text, len); /* text need not be NUL-terminated: read len bytes only */
    work[len] = '\0';
    size_t nl = 1;
    for (size_t i = 0; i < len; i++)
        nl += work[i] == '\n';
    char **lines = malloc(nl * sizeof *lines);
    if (!lines) {
        free(mem);
        return COH_ERR_NOMEM;
    }
    size_t k = 0;
    lines[k++] = work;
    for (size_t i = 0; i < len; i++)
        if (work[i] == '\n') {
            work[i] = '\0';
            lines[k++] = work + i + 1;
        }
    out->mem_ = mem;
    int rc = parse_lines(out, lines, nl);
    free(lines);
    if (rc) {
        coh_crypto_siwe_msg_clear(out);
        return rc;
    }
    out->text = mem;
    out->text_len = len;
    return 0;
}

/* ---- verification ------------------------------------------------------------------------- */

int coh_crypto_siwe_verify(const coh_crypto_siwe_msg *m, const uint8_t *sig, size_t sig_len,
                           const coh_crypto_siwe_expect *e)
{
    if (!m || !m->text || !e || !e->domain || e->skew_ms < 0)
        return COH_ERR_INVALID; /* caller bug, not client input */
    if (strcmp(m->domain, e->domain) != 0)
        return COH_SIWE_EDOMAIN_MISMATCH;
    if (e->uri && strcmp(m->uri, e->uri) != 0)
        return COH_SIWE_EURI_MISMATCH;
    if (m->chain_id != e->chain_id)
        return COH_SIWE_ECHAIN_MISMATCH;
    if (m->expiration_time && e->now_ms >= m->expiration_time_ms + e->skew_ms)
        return COH_SIWE_EEXPIRED;
    if (m->not_before && e->now_ms + e->skew_ms < m->not_before_ms)
        return COH_SIWE_ENOT_YET_VALID;
    if (e->check_issued_at && m->issued_at_ms > e->now_ms + e->skew_ms)
        return COH_SIWE_EISSUED_FUTURE;
    uint8_t h[32], who[20];
    coh_crypto_personal_hash(h, m->text, m->text_len);
    if (coh_crypto_recover(who, h, sig, sig_len) != 0)
        return COH_SIWE_ESIGNATURE;
    return memcmp(who, m->address, 20) == 0 ? 0 : COH_SIWE_ESIGNER;
}
