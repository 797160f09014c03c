/*
 * server: civetweb glue. One catch-all handler routes every request through the table in
 * routes.c, enforces the body limit before reading, answers unknown paths and wrong methods
 * with problem+json, then records metrics and one access-log line (method, route template,
 * status, sizes, duration, client IP; never the raw path, which holds wallet addresses and
 * request ids, nor bodies, query strings or headers).
 *
 * /metrics is not on this listener: a second civetweb context (metrics_listen, loopback by
 * default) serves only it, optionally behind a bearer token, so a crawler of the public API
 * cannot watch activity (docs/PRIVACY.md, who we protect).
 */
#include "http/handlers.h"
#include "http/http.h"

#include <civetweb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct coh_http_server {
    struct mg_context *ctx;
    struct coh_app *app;
    int keep_alive_hint_s; /* Keep-Alive timeout= advertised, seconds; -1: no keep-alive */
    /* Metrics listener only: BLAKE2b of metrics_token, so the comparison is constant time
     * whatever the presented token's length; has_token 0 means no token is required. */
    int has_token;
    unsigned char token_hash[crypto_generichash_BYTES];
};


static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the body into req->body; returns 0, or sends 413/400 and returns -1. */
static int read_body(struct coh_http_req *req, long long content_length)
{
    size_t max = req->app->max_body_bytes;
    if (content_length > (long long)max) {
        req->keep_alive_s = -1; /* the body stays unread */
        coh_http_problem(req, COH_PROBLEM_BODY_TOO_LARGE,
                         "the body has %lld bytes; the limit is %zu", content_length, max);
        return -1;
    }
    size_t cap = content_length >= 0 ? (size_t)content_length + 1 : 4096;
    char *buf = malloc(cap);
    size_t n = 0;
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > max + 1)
                break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        int r = mg_read(req->conn, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n > max)
            break;
    }
    if (!buf) {
        req->keep_alive_s = -1;
        coh_http_problem(req, COH_PROBLEM_UNAVAILABLE, "out of memory");
        return -1;
    }
    if (n > max) {
        free(buf);
        req->keep_alive_s = -1; /* the rest of the body stays unread */
        coh_http_problem(req, COH_PROBLEM_BODY_TOO_LARGE, "the body exceeds the limit of %zu bytes",
                         max);
        return -1;
    }
    buf[n] = '\0';
    if (n == 0) {
        free(buf);
        return 0;
    }
    req->body = buf;
    req->body_len = n;
    return 0;
}

/* Appends s to out as JSON string content (RFC 8259 escaping); returns the new length. */
static size_t json_escape(char *out, size_t n, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[c >> 4];
            out[n + 5] = hex[c & 15];
            n += 6;
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

/*
 * One JSON line per request, built by hand: this runs on every request (see bench/http).
 * route is the template ("/v1/claims/{address}"), "static" or "unmatched", never req->path.
 * The client IP stays: beside a template it tells which client used which kind of endpoint,
 * which ops need for abuse and rate limits, and no longer which wallet or study it asked for.
 */
static void access_log(const struct coh_http_req *req, const char *route, double seconds,
                       long long bytes_in)
{
    char line[1024], when[40];
    coh_log_timestamp(when, sizeof when);
    size_t n = (size_t)snprintf(line, sizeof line,
                                "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"method\":\"",
                                when);
    n = json_escape(line, n, sizeof line - 200, req->method);
    n += (size_t)snprintf(line + n, sizeof line - n, "\",\"route\":\"");
    n = json_escape(line, n, sizeof line - 200, route);
    snprintf(line + n, sizeof line - n,
             "\",\"status\":%d,\"bytes_in\":%lld,\"bytes_out\":%zu,\"duration_ms\":%.3f,"
             "\"remote\":\"%s\"}",
             req->status, bytes_in > 0 ? bytes_in : 0, req->bytes_out, seconds * 1000.0,
             req->remote);
    coh_log_json_line(line);
}

/*
 * Sets req->client (and req->remote to it) from the TCP peer and, when the peer is a trusted
 * proxy, every line of the one forwarding header it writes (clientip.c).
 *
 * civetweb 1.15 keeps the first MG_MAX_HEADERS (64) header lines and silently drops the rest.
 * A proxy that adds its own X-Forwarded-For line at the end (HAProxy's option forwardfor
 * does) would then lose it behind 64 lines from the client, and the client's forged line would
 * be read. So a request with that many header lines has no believable forwarding header: its
 * client is the proxy itself (which can only limit it more).
 */
static void client_of(struct coh_http_req *req, const struct mg_request_info *ri)
{
    const struct coh_http_proxies *tp = req->app->proxies;
    const char *values[MG_MAX_HEADERS];
    size_t n = 0;
    if (tp && tp->n > 0 && ri->num_headers < MG_MAX_HEADERS) {
        const char *name = tp->header == COH_HTTP_FWD_FORWARDED ? "Forwarded" : "X-Forwarded-For";
        for (int i = 0; i < ri->num_headers && i < MG_MAX_HEADERS; i++)
            if (ri->http_headers[i].name && strcasecmp(ri->http_headers[i].name, name) == 0)
                values[n++] = ri->http_headers[i].value;
    }
    coh_http_client_addr(req->client, tp, ri->remote_addr, values, n);
    req->remote = req->client;
}

/* Whether the request carries a body: one that is not read must not be taken for the next
 * request, so such a response closes the connection. */
static int has_body(const struct mg_request_info *ri, struct mg_connection *conn)
{
    return ri->content_length > 0 || mg_get_header(conn, "Transfer-Encoding") != NULL;
}

static int dispatch(struct mg_connection *conn, void *cbdata)
{
    coh_http_server *s = cbdata;
    struct coh_app *app = s->app;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    double t0 = now_s();
    struct coh_http_req req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.app = app;
    req.method = ri->request_method;
    req.path = ri->local_uri ? ri->local_uri : "/";
    req.query = ri->query_string;
    req.keep_alive_s = s->keep_alive_hint_s;
    client_of(&req, ri);

    size_t idx = 0;
    char allow[128];
    const char *route = "unmatched";
    req.route = route;
    enum coh_route_match m =
        coh_http_route_find(coh_http_routes, coh_http_routes_count, req.method, req.path, &idx,
                            req.params, &req.n_params, allow, sizeof allow);
    if (m != COH_ROUTE_FOUND && has_body(ri, conn))
        req.keep_alive_s = -1;
    if (m == COH_ROUTE_FOUND) {
        route = coh_http_routes[idx].pattern;
        req.route = route;
        if (read_body(&req, ri->content_length) == 0)
            coh_http_routes[idx].handler(&req);
    } else if (m == COH_ROUTE_WRONG_METHOD) {
        route = coh_http_routes[idx].pattern;
        req.route = route;
        char hdr[160];
        snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
        coh_http_problem_headers(&req, COH_PROBLEM_METHOD_NOT_ALLOWED, hdr, "allowed: %s", allow);
    } else if (app->web_dir && (strcmp(req.method, "GET") == 0 || strcmp(req.method, "HEAD") == 0) &&
               strncmp(req.path, "/v1/", 4) != 0 && strcmp(req.path, "/metrics") != 0 &&
               coh_http_static(&req)) {
        route = "static";
    } else {
        /* /metrics lands here too (not the app shell): it lives on metrics_listen. */
        coh_http_problem(&req, COH_PROBLEM_NOT_FOUND, "no resource at %s", req.path);
    }
    if (req.status == 0) {
        /* A handler that forgot to answer is a bug; the client still gets a problem. */
        coh_log_error("handler for %s %s sent no response", req.method, route);
        coh_http_problem(&req, COH_PROBLEM_UNAVAILABLE, "no response");
    }
    free(req.body);
    double dt = now_s() - t0;
    coh_metrics_observe(app->metrics, route, req.method, req.status, dt);
    access_log(&req, route, dt, ri->content_length);
    return req.status;
}

/*
 * Errors civetweb finds itself (malformed request line or headers, bad Content-Length,
 * timeouts) never reach dispatch: answer them as problem+json too, and close the connection,
 * since what follows a malformed request cannot be trusted to be a request.
 */
static int civetweb_error(struct mg_connection *conn, int status, const char *errmsg)
{
    (void)errmsg; /* may quote the client's bytes; the status says enough */
    const char *title = mg_get_response_code_text(NULL, status);
    /* No request to answer through respond.c: the table's bad-http, with civetweb's status
     * (400 for a malformed request, or the 4xx/5xx civetweb chose). */
    const struct coh_problem_type *t = &coh_http_problem_types[COH_PROBLEM_BAD_HTTP];
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"type\":\"urn:cohort:problem:%s\",\"title\":\"%s\",\"status\":%d,"
                     "\"detail\":\"the HTTP request could not be read\"}",
                     t->slug, t->title, status);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\n"
              "Connection: close\r\nCache-Control: no-store\r\n\r\n%s",
              status, title ? title : "Error", n, body);
    return 0;
}

int coh_http_server_new(coh_http_server **out, struct coh_app *app, const char *listen,
                        int n_threads, int request_timeout_ms, int keep_alive_ms, coh_err *err)
{
    *out = NULL;
    coh_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    char threads[16], request_timeout[16], keep_alive[16];
    snprintf(threads, sizeof threads, "%d", n_threads);
    snprintf(request_timeout, sizeof request_timeout, "%d", request_timeout_ms);
    snprintf(keep_alive, sizeof keep_alive, "%d", keep_alive_ms);
    const char *options[] = {"listening_ports", listen,
                             "num_threads", threads,
                             "enable_keep_alive", "yes",
                             "keep_alive_timeout_ms", keep_alive,
                             "request_timeout_ms", request_timeout,
                             "decode_url", "yes",
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.http_error = civetweb_error;
    s->app = app;
    /* A whole second below the real close: the hint is in whole seconds, and a client's idle
     * timer and the close both run a little late. */
    s->keep_alive_hint_s = keep_alive_ms >= 2000 ? keep_alive_ms / 1000 - 1 : 0;
    s->ctx = mg_start(&cb, app, options);
    if (!s->ctx) {
        free(s);
        return coh_err_set(err, COH_ERR_IO,
                           "listen: cannot listen on %s (address in use or invalid)", listen);
    }
    mg_set_request_handler(s->ctx, "/", dispatch, s);
    *out = s;
    return 0;
}

void coh_http_server_free(coh_http_server *s)
{
    if (!s)
        return;
    mg_stop(s->ctx);
    sodium_memzero(s, sizeof *s);
    free(s);
}

/* ---- the metrics listener --------------------------------------------------------------- */

/* Returns 1 when the request carries "Authorization: Bearer <the token>". */
static int metrics_token_ok(const coh_http_server *s, const struct coh_http_req *req)
{
    const char *h = coh_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    unsigned char got[crypto_generichash_BYTES];
    crypto_generichash(got, sizeof got, (const unsigned char *)h, strlen(h), NULL, 0);
    return sodium_memcmp(got, s->token_hash, sizeof got) == 0;
}

/*
 * Serves GET /metrics and nothing else. Scrapes are neither counted nor access-logged: a
 * scraper every 15 s would drown the API's own series and lines.
 */
static int metrics_dispatch(struct mg_connection *conn, void *cbdata)
{
    coh_http_server *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct coh_http_req req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.app = s->app;
    req.method = ri->request_method;
    req.path = ri->local_uri ? ri->local_uri : "/";
    req.query = ri->query_string;
    req.keep_alive_s = -1; /* this listener keeps no connection */
    client_of(&req, ri);
    req.route = "/metrics";
    if (strcmp(req.path, "/metrics") != 0) {
        req.route = "unmatched";
        coh_http_problem(&req, COH_PROBLEM_NOT_FOUND, "this listener serves only /metrics");
    } else if (strcmp(req.method, "GET") != 0 && strcmp(req.method, "HEAD") != 0) {
        coh_http_problem_headers(&req, COH_PROBLEM_METHOD_NOT_ALLOWED, "Allow: GET\r\n",
                                 "allowed: GET");
    } else if (s->has_token && !metrics_token_ok(s, &req)) {
        coh_http_problem_headers(&req, COH_PROBLEM_UNAUTHENTICATED,
                                 "WWW-Authenticate: Bearer realm=\"metrics\"\r\n",
                                 "send Authorization: Bearer <metrics_token>");
    } else {
        coh_h_metrics(&req);
    }
    return req.status;
}

int coh_http_metrics_server_new(coh_http_server **out, struct coh_app *app, const char *listen,
                                const char *token, coh_err *err)
{
    *out = NULL;
    coh_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    s->app = app;
    if (token && *token) {
        s->has_token = 1;
        crypto_generichash(s->token_hash, sizeof s->token_hash, (const unsigned char *)token,
                           strlen(token), NULL, 0);
    }
    /* Two workers and no keep-alive: one scraper, and an idle connection must not hold one. */
    const char *options[] = {"listening_ports", listen,
                             "num_threads", "2",
                             "enable_keep_alive", "no",
                             "request_timeout_ms", "5000",
                             "decode_url", "yes",
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.http_error = civetweb_error;
    s->ctx = mg_start(&cb, app, options);
    if (!s->ctx) {
        sodium_memzero(s, sizeof *s);
        free(s);
        return coh_err_set(err, COH_ERR_IO,
                           "metrics_listen: cannot listen on %s (address in use or invalid)",
                           listen);
    }
    mg_set_request_handler(s->ctx, "/", metrics_dispatch, s);
    *out = s;
    return 0;
}
