/*
 * respond: every byte the API sends goes through here, so status, length and content type are
 * always set and recorded for the access log. Problems follow RFC 9457.
 */
#include "http/http.h"

#include <civetweb.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *reason(int status)
{
    const char *r = mg_get_response_code_text(NULL, status);
    return r ? r : "Unknown";
}

/* Whether the comma-separated header value has the token (case-insensitive). */
static int has_token(const char *v, const char *token)
{
    size_t tn = strlen(token);
    for (const char *p = v;;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m == tn && strncasecmp(p, token, tn) == 0)
            return 1;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

/*
 * The connection headers: what civetweb will do after this response (its should_keep_alive:
 * the client's Connection header when present, else keep-alive for HTTP/1.1 only), told to
 * the client. A response kept alive says how long cohortd waits for the next request
 * (Keep-Alive: timeout=, a second below the real idle close; server.c), so a client's pool
 * drops the idle connection before cohortd closes it instead of sending into a closed socket.
 */
static void connection_headers(char *out, size_t cap, const struct coh_http_req *req)
{
    const char *c = mg_get_header(req->conn, "Connection");
    const struct mg_request_info *ri = mg_get_request_info(req->conn);
    int http11 = ri && ri->http_version && strcmp(ri->http_version, "1.1") == 0;
    int keep = req->keep_alive_s >= 0 && (c ? has_token(c, "keep-alive") : http11);
    if (!keep)
        snprintf(out, cap, "Connection: close\r\n");
    else
        snprintf(out, cap, "%sKeep-Alive: timeout=%d\r\n", http11 ? "" : "Connection: keep-alive\r\n",
                 req->keep_alive_s);
}

void coh_http_send_raw(struct coh_http_req *req, int status, const char *content_type,
                       const char *extra_headers, const void *body, size_t len)
{
    req->status = status;
    req->bytes_out = len;
    int head_only = strcmp(req->method, "HEAD") == 0;
    char head[1024], conn[64];
    connection_headers(conn, sizeof conn, req);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s%s\r\n",
                      status, reason(status), content_type, len, conn,
                      extra_headers ? extra_headers : "");
    if (hl < 0 || (size_t)hl >= sizeof head)
        hl = 0;
    /* One write for head and body: two small writes meet Nagle and delayed ACK (40 ms). */
    size_t body_len = head_only ? 0 : len;
    char stack[8192];
    char *buf = (size_t)hl + body_len <= sizeof stack ? stack : malloc((size_t)hl + body_len);
    if (!buf) {
        mg_write(req->conn, head, (size_t)hl);
        mg_write(req->conn, body, body_len);
        return;
    }
    memcpy(buf, head, (size_t)hl);
    if (body_len)
        memcpy(buf + hl, body, body_len);
    mg_write(req->conn, buf, (size_t)hl + body_len);
    if (buf != stack)
        free(buf);
}

void coh_http_send_json(struct coh_http_req *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (body && !text) {
        coh_http_problem(req, COH_PROBLEM_UNAVAILABLE, "out of memory");
        return;
    }
    coh_http_send_raw(req, status, "application/json", NULL, text ? text : "",
                      text ? strlen(text) : 0);
    free(text);
}

/* Replaces every byte that does not belong to a well-formed UTF-8 sequence with '?': a
 * detail quoting the client's text cut at a byte count (%.40s) may split a character, which
 * JSON cannot carry. */
static void utf8_mend(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                            : (*p & 0xf8) == 0xf0 && *p <= 0xf4                         ? 4
                                                                                         : 0;
        int ok = n > 0;
        for (int i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        /* Overlong three-byte forms, surrogates and beyond U+10FFFF are not UTF-8 either. */
        if (ok && n == 3)
            ok = !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0);
        if (ok && n == 4)
            ok = !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static void send_problem_v(struct coh_http_req *req, enum coh_problem id, const char *headers,
                           json_t *extra, const char *fmt, va_list ap)
{
    if ((unsigned)id >= COH_PROBLEM_COUNT)
        id = COH_PROBLEM_UNAVAILABLE;
    const struct coh_problem_type *t = &coh_http_problem_types[id];
    char detail[512];
    vsnprintf(detail, sizeof detail, fmt, ap);
    utf8_mend(detail);
    char type[96], instance[512];
    snprintf(type, sizeof type, "urn:cohort:problem:%s", t->slug);
    snprintf(instance, sizeof instance, "%s", req->path ? req->path : "");
    utf8_mend(instance); /* the decoded path: /v1/x%FF is not UTF-8 */
    json_t *p = json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", type, "title", t->title, "status",
                          t->status, "detail", detail, "instance", instance);
    if (p && extra)
        json_object_update(p, extra);
    json_decref(extra);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    char hdr[256] = "";
    if (headers)
        snprintf(hdr, sizeof hdr, "%s", headers);
    else if (t->status == 401)
        snprintf(hdr, sizeof hdr, "WWW-Authenticate: Bearer realm=\"cohort\"\r\n");
    coh_http_send_raw(req, t->status, "application/problem+json", hdr, text ? text : "{}",
                      text ? strlen(text) : 2);
    free(text);
}

void coh_http_problem(struct coh_http_req *req, enum coh_problem id, const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    send_problem_v(req, id, NULL, NULL, detail_fmt, ap);
    va_end(ap);
}

void coh_http_problem_ext(struct coh_http_req *req, enum coh_problem id, json_t *extra,
                          const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    send_problem_v(req, id, NULL, extra, detail_fmt, ap);
    va_end(ap);
}

void coh_http_problem_headers(struct coh_http_req *req, enum coh_problem id, const char *headers,
                              const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    send_problem_v(req, id, headers, NULL, detail_fmt, ap);
    va_end(ap);
}

void coh_http_send_err(struct coh_http_req *req, const coh_err *err)
{
    /* A lower layer may name the precise refusal (coh_err.reason, a slug of the table). */
    int named = err->reason ? coh_http_problem_find(err->reason) : -1;
    if (named >= 0) {
        coh_http_problem(req, (enum coh_problem)named, "%s", err->msg);
        return;
    }
    switch (err->code) {
    case COH_ERR_INVALID:
        coh_http_problem(req, COH_PROBLEM_INVALID, "%s", err->msg);
        break;
    case COH_ERR_NOTFOUND:
        coh_http_problem(req, COH_PROBLEM_NOT_FOUND, "%s", err->msg);
        break;
    case COH_ERR_CONFLICT:
        coh_http_problem(req, COH_PROBLEM_CONFLICT, "%s", err->msg);
        break;
    case COH_ERR_FORBIDDEN:
        coh_http_problem(req, COH_PROBLEM_FORBIDDEN, "%s", err->msg);
        break;
    case COH_ERR_LIMIT:
        coh_http_problem(req, COH_PROBLEM_RATE_LIMITED, "%s", err->msg);
        break;
    default:
        /* Internal details go to the log only; the client learns the service is unavailable. */
        coh_log_error("request failed: %s %s: %s", req->method,
                      req->route ? req->route : "unmatched", err->msg);
        coh_http_problem(req, COH_PROBLEM_UNAVAILABLE,
                         "the service could not complete the request; retry later");
    }
}

/* Bodies nest a few levels (a request spec: spec.schema.fields[i].categories[j]). jansson
 * parses recursively and allows 2048 levels, far more than a civetweb worker's stack holds:
 * a body of 1000 '[' crashed the process. Deeper bodies are refused before parsing. */
#define BODY_MAX_DEPTH 32

/* Returns 1 if the JSON text nests arrays/objects deeper than max (strings are skipped). */
static int json_too_deep(const char *s, size_t n, int max)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

json_t *coh_http_body_object(struct coh_http_req *req)
{
    const char *ct = coh_http_header(req, "Content-Type");
    if (ct && strncmp(ct, "application/json", 16) != 0) {
        coh_http_problem(req, COH_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
                         "send the body as application/json");
        return NULL;
    }
    if (req->body && json_too_deep(req->body, req->body_len, BODY_MAX_DEPTH)) {
        coh_http_problem(req, COH_PROBLEM_MALFORMED_JSON, "the body nests deeper than %d levels",
                         BODY_MAX_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *v = req->body ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je)
                          : NULL;
    if (!req->body) {
        coh_http_problem(req, COH_PROBLEM_MALFORMED_JSON,
                         "the request body is empty; a JSON object is expected");
        return NULL;
    }
    if (!v) {
        coh_http_problem_ext(req, COH_PROBLEM_MALFORMED_JSON,
                             json_pack("{s:i,s:i,s:i}", "line", je.line, "column", je.column,
                                       "position", je.position),
                             "invalid JSON at line %d, column %d (byte %d): %s", je.line, je.column,
                             je.position, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        coh_http_problem(req, COH_PROBLEM_MALFORMED_JSON, "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

int coh_http_query_get(const struct coh_http_req *req, const char *name, char *out, size_t cap)
{
    if (!req->query || cap == 0)
        return -1;
    /* mg_get_var empties out when the name is absent; callers preset defaults there. */
    char *keep = strndup(out, cap - 1);
    int n = mg_get_var(req->query, strlen(req->query), name, out, cap);
    if (n < 0 && keep)
        memcpy(out, keep, strlen(keep) + 1);
    free(keep);
    return n < 0 ? -1 : n;
}

/* Decimal digits only (no sign, space, exponent or fraction), within [min, max]. */
static int parse_int(long long *out, const char *s, long long min, long long max)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
        return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned long long)(s[i] - '0'); /* 19 digits < 2^64: no overflow */
    if (v > (unsigned long long)LLONG_MAX || (long long)v < min || (long long)v > max)
        return -1;
    *out = (long long)v;
    return 0;
}

static int bad_int(struct coh_http_req *req, const char *name, const char *where, long long min,
                   long long max)
{
    if (max == LLONG_MAX)
        coh_http_problem_ext(req, COH_PROBLEM_INVALID_PARAMETER,
                             json_pack("{s:s,s:s}", "parameter", name, "in", where),
                             "'%s' must be an integer of at least %lld", name, min);
    else
        coh_http_problem_ext(req, COH_PROBLEM_INVALID_PARAMETER,
                             json_pack("{s:s,s:s}", "parameter", name, "in", where),
                             "'%s' must be an integer from %lld to %lld", name, min, max);
    return -1;
}

int coh_http_query_int(struct coh_http_req *req, const char *name, long long def, long long min,
                       long long max, long long *out)
{
    *out = def;
    if (!req->query)
        return 0;
    char buf[32];
    int n = mg_get_var(req->query, strlen(req->query), name, buf, sizeof buf);
    if (n == -1)
        return 0; /* absent */
    if (n < 0 || parse_int(out, buf, min, max) != 0) {
        *out = def;
        return bad_int(req, name, "query", min, max);
    }
    return 0;
}

int coh_http_param_int(struct coh_http_req *req, int i, const char *name, long long min,
                       long long max, long long *out)
{
    *out = 0;
    if (parse_int(out, coh_http_param(req, i), min, max) != 0)
        return bad_int(req, name, "path", min, max);
    return 0;
}

int coh_http_query_cursor(struct coh_http_req *req, long long *us, char id[COH_HASH_HEX_SIZE])
{
    id[0] = '\0';
    /* At most 9999-12-31 in microseconds: PostgreSQL's intervals end there (beyond: 22008). */
    if (coh_http_query_int(req, "before_us", -1, 0, 253402300799999999LL, us))
        return -1;
    char buf[80] = "";
    uint8_t raw[32];
    int has_id = coh_http_query_get(req, "before_id", buf, sizeof buf) >= 0;
    if ((has_id && (strncmp(buf, "0x", 2) != 0 || coh_hex_decode_exact(raw, sizeof raw, buf))) ||
        has_id != (*us >= 0)) {
        const char *name = has_id && *us < 0 ? "before_us" : "before_id";
        coh_http_problem_ext(req, COH_PROBLEM_INVALID_PARAMETER,
                             json_pack("{s:s,s:s}", "parameter", name, "in", "query"),
                             "'before_us' and 'before_id' come together, as the previous page's "
                             "next gave them ('before_id': 0x and 64 hex digits)");
        *us = -1;
        return -1;
    }
    if (has_id)
        coh_hex_encode(id, raw, 32, 1);
    return 0;
}

const char *coh_http_header(const struct coh_http_req *req, const char *name)
{
    return mg_get_header(req->conn, name);
}

const char *coh_http_param(const struct coh_http_req *req, int i)
{
    return i < req->n_params ? req->params[i] : "";
}
