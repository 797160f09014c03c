/*
 * http: the REST API over civetweb. A table of routes (method + path pattern with {params})
 * dispatched by one civetweb handler; every error is RFC 9457 problem+json; every request is
 * counted in the metrics and written to the access log (no bodies, no tokens).
 */
#ifndef COH_HTTP_H
#define COH_HTTP_H

#include "core/core.h"
#include "db/db.h"
#include "http/problems.h"
#include "svc/svc.h"

#include <jansson.h>
#include <stddef.h>

/* Everything a handler may need; owned by cohortd, shared read-only by worker threads. */
struct coh_app {
    const coh_config *config;
    coh_db_pool *db;
    /* The public reads anyone may make (ledger entries, anchors): database_read_url's pool,
     * a replica that may lag by a moment, else db. */
    coh_db_pool *read_db;
    coh_secbuf *master_key; /* 32 bytes */
    const char *sql_dir;
    const char *web_dir;      /* static files served at / (may be NULL) */
    const char *openapi_path; /* served at /openapi.yaml */
    size_t max_body_bytes;
    struct coh_metrics *metrics;
    struct coh_ratelimit *ratelimit;         /* sign-in, per address and per client IP */
    struct coh_ratelimit *create_rate;       /* request creation, per researcher (may be NULL) */
    struct coh_ratelimit *consent_rate;      /* consents given or revoked, per account */
    struct coh_ratelimit *contribution_rate; /* contributions, per account */
    coh_secbuf *ledger_key;  /* 32-byte secp256k1 ledger signing key; NULL until loaded */
    char ledger_address[COH_ADDR_HEX_SIZE]; /* its address, lowercase 0x hex ("" when none) */
    struct coh_svc_claims_cache *claims;    /* GET /v1/claims trees (may be NULL: built per call) */
    struct coh_svc_token_cache *token;      /* GET /v1/chain's token (NULL: no chain, or none) */
    const struct coh_market_floors *floors; /* the operator's privacy floors (never NULL) */
    const struct coh_http_proxies *proxies; /* trusted_proxies (NULL: none; clientip.c) */
};

#define COH_HTTP_MAX_PARAMS 4
#define COH_HTTP_ADDR_MAX 46 /* INET6_ADDRSTRLEN: an address as text, with its NUL */

struct coh_http_req {
    struct mg_connection *conn;
    struct coh_app *app;
    const char *method;
    const char *path;  /* decoded, without query; never logged (holds addresses and ids) */
    const char *route; /* the matched template, "static" or "unmatched": what logs name */
    const char *query; /* raw, may be NULL */
    /* The client's address (coh_http_client_addr): the TCP peer, or behind a trusted proxy
     * the client it forwards for. What rate limits key on and the access log writes. */
    const char *remote;
    char client[COH_HTTP_ADDR_MAX];
    /* Keep-Alive timeout= to advertise, in seconds; -1: say Connection: close (the listener
     * does not keep connections, or this request's body was left unread). */
    int keep_alive_s;
    char *body; /* NUL-terminated, malloc'd, may be NULL */
    size_t body_len;
    int n_params;
    char params[COH_HTTP_MAX_PARAMS][160];
    /* Set by coh_http_auth_require: the signed-in account (lowercase 0x address). */
    char account[COH_ADDR_HEX_SIZE];
    long long session_id;
    /* Filled by the responders for the access log and metrics. */
    int status;
    size_t bytes_out;
};

typedef void (*coh_http_handler)(struct coh_http_req *req);

struct coh_http_route {
    const char *method;
    const char *pattern; /* "/v1/requests/{id}": a {name} matches one non-empty segment */
    coh_http_handler handler;
};

/* ---- server ------------------------------------------------------------------------- */
typedef struct coh_http_server coh_http_server;

/*
 * Starts listening on listen ("127.0.0.1:8080") with n_threads workers. A worker is held by
 * one connection at a time: request_timeout_ms bounds how long a client may take to send its
 * request head (a slow or stalled client is dropped then), keep_alive_ms how long an idle
 * keep-alive connection keeps its worker between requests. Responses kept alive advertise
 * "Keep-Alive: timeout=N" with N = keep_alive_ms / 1000 - 1 (whole seconds, at least 0): a
 * client that honours it (Node's fetch, browsers, most pools) stops reusing the connection a
 * full second before cohortd closes it, so its next request never meets a closed socket.
 */
COH_WUR int coh_http_server_new(coh_http_server **out, struct coh_app *app, const char *listen,
                                int n_threads, int request_timeout_ms, int keep_alive_ms,
                                coh_err *err);
void coh_http_server_free(coh_http_server *s);

/*
 * Starts the metrics listener on listen: GET /metrics only (anything else 404), two workers.
 * With a non-empty token, a scrape must send "Authorization: Bearer <token>" (401 otherwise;
 * compared in constant time). Free it with coh_http_server_free.
 */
COH_WUR int coh_http_metrics_server_new(coh_http_server **out, struct coh_app *app,
                                        const char *listen, const char *token, coh_err *err);

/* ---- routing (router.c) ------------------------------------------------------------- */
enum coh_route_match { COH_ROUTE_NONE, COH_ROUTE_FOUND, COH_ROUTE_WRONG_METHOD };

/*
 * Finds the route for method and path among routes[0..n). On FOUND, *route_index is set and
 * params filled; on WRONG_METHOD, allow gets the comma-separated methods the path accepts and
 * *route_index the first route of that path (for metrics labels).
 */
enum coh_route_match coh_http_route_find(const struct coh_http_route *routes, size_t n,
                                         const char *method, const char *path, size_t *route_index,
                                         char params[][160], int *n_params, char *allow,
                                         size_t allow_cap);

/* The API's route table (routes.c). */
extern const struct coh_http_route coh_http_routes[];
extern const size_t coh_http_routes_count;

/* ---- responses (respond.c) ------------------------------------------------------------ */
/* Sends body (stolen, may be NULL for no body) as application/json. */
void coh_http_send_json(struct coh_http_req *req, int status, json_t *body);
/* Sends an RFC 9457 problem of the table (problems.h): its type urn:cohort:problem:<slug>,
 * title and status, and the detail. */
void coh_http_problem(struct coh_http_req *req, enum coh_problem id, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like coh_http_problem, with extra members (stolen) merged into the problem object. */
void coh_http_problem_ext(struct coh_http_req *req, enum coh_problem id, json_t *extra,
                          const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));
/* Like coh_http_problem, with extra response headers ("Name: value\r\n" lines). */
void coh_http_problem_headers(struct coh_http_req *req, enum coh_problem id, const char *headers,
                              const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));
void coh_http_send_raw(struct coh_http_req *req, int status, const char *content_type,
                       const char *extra_headers, const void *body, size_t len);
/* Maps a coh_err to a problem: the table's problem named by err->reason when set, else
 * INVALID 422, NOTFOUND 404, CONFLICT 409, FORBIDDEN 403, LIMIT 429, UNAVAILABLE 503; anything
 * else is logged and answered 503 (never 500 with internals). */
void coh_http_send_err(struct coh_http_req *req, const coh_err *err);

/*
 * Parses the body as a JSON object. On failure sends 400 (naming line, column and byte
 * position) or 415 and returns NULL. The caller owns the result.
 */
json_t *coh_http_body_object(struct coh_http_req *req);

/* Returns the value of a query parameter into out (decoded), or -1 if absent (out unchanged). */
int coh_http_query_get(const struct coh_http_req *req, const char *name, char *out, size_t cap);
/*
 * The one integer parameter parser (docs/API.md). coh_http_query_int reads the query
 * parameter name into *out: absent gives def; present, it must be decimal digits only (no
 * sign, space, exponent or fraction) within [min, max] (max LLONG_MAX for no upper bound).
 * Otherwise it answers 422 invalid-parameter with members parameter (the name) and in
 * ("query"), and returns -1; 0 when *out is set. coh_http_param_int does the same for path
 * parameter i, named name (no default: the route matched a segment).
 */
int coh_http_query_int(struct coh_http_req *req, const char *name, long long def, long long min,
                       long long max, long long *out);
int coh_http_param_int(struct coh_http_req *req, int i, const char *name, long long min,
                       long long max, long long *out);
/*
 * A page cursor of (created_at, id), as lists that page newest first give it in `next`:
 * before_us (microseconds since 1970) and before_id (0x + 64 hex), both or neither. *us = -1 and
 * id "" when absent. Answers 422 invalid-parameter and returns -1 otherwise.
 */
int coh_http_query_cursor(struct coh_http_req *req, long long *us, char id[COH_HASH_HEX_SIZE]);
const char *coh_http_header(const struct coh_http_req *req, const char *name);
/* Path parameter by position. */
const char *coh_http_param(const struct coh_http_req *req, int i);

/* ---- the API's encoding (vocab.c, docs/API.md) ----------------------------------------- */
/* A request object as the API writes it: privacy.epsilon, delta and max_suppression as
 * decimal strings (stored and hashed as wave 2 had them). Changes request in place and returns
 * it (NULL passes through). */
json_t *coh_http_request_out(json_t *request);

/* ---- the client's address (clientip.c) ------------------------------------------------ */
#define COH_HTTP_MAX_PROXIES 64

enum coh_http_fwd_header {
    COH_HTTP_FWD_XFF,       /* X-Forwarded-For: a, b, c */
    COH_HTTP_FWD_FORWARDED, /* RFC 7239 Forwarded: for=a, for="[b]:port";proto=https */
};

/* A network: addr (IPv4 as IPv4-mapped IPv6) and its prefix length, 0..128 over those 16
 * bytes (an IPv4 /n is 96 + n). */
struct coh_http_net {
    uint8_t addr[16];
    int bits;
};

/* The operator's trusted proxies and the one forwarding header they write. */
struct coh_http_proxies {
    int n; /* 0..COH_HTTP_MAX_PROXIES; 0: no proxy is trusted, headers are never read */
    enum coh_http_fwd_header header;
    struct coh_http_net net[COH_HTTP_MAX_PROXIES];
};

/*
 * Parses list, addresses and CIDR ranges of either family separated by commas or spaces
 * ("127.0.0.1, 10.0.0.0/8 fd00::/8"; empty: none), and header ("x-forwarded-for" or
 * "forwarded"; NULL: the former). An entry with bits set after its prefix length
 * ("10.0.0.5/24") is refused as a likely typo. Returns 0, or COH_ERR_INVALID naming the entry
 * (out is then empty).
 */
COH_WUR int coh_http_proxies_parse(struct coh_http_proxies *out, const char *list,
                                   const char *header, coh_err *err);
/* The same from the settings trusted_proxies and forwarded_header; the message names the
 * setting's origin (file:line or environment). */
COH_WUR int coh_http_proxies_from_config(struct coh_http_proxies *out, const coh_config *c,
                                         coh_err *err);
/*
 * The one answer to "which address is this client": writes to out the canonical text of peer
 * (civetweb's remote_addr) unless peer is in tp; then walks values (the forwarding header's
 * lines, in order; tp->header says which header they are) from the right and writes the first
 * address that is not in tp. An element that is not an address stops the walk at the trusted
 * hop to its right. tp may be NULL.
 */
void coh_http_client_addr(char out[COH_HTTP_ADDR_MAX], const struct coh_http_proxies *tp,
                          const char *peer, const char *const *values, size_t n_values);
/* The rate-limit key of a client address: the address itself, or for IPv6 its /64. */
void coh_http_client_bucket(char *out, size_t cap, const char *client);

/* ---- static files (static.c) ----------------------------------------------------------- */
/* Sends the file at path; returns 1 if sent, 0 if not a readable regular file. */
int coh_http_send_file(struct coh_http_req *req, const char *path, const char *extra_headers);
/* Serves a GET under web_dir (the web app); returns 1 if it answered, 0 to route on. */
int coh_http_static(struct coh_http_req *req);

/* ---- metrics (metrics.c) -------------------------------------------------------------- */
struct coh_metrics *coh_metrics_new(void);
void coh_metrics_free(struct coh_metrics *m);
void coh_metrics_observe(struct coh_metrics *m, const char *route, const char *method, int status,
                         double seconds);
/* Renders Prometheus text exposition format; caller frees. */
char *coh_metrics_render(struct coh_metrics *m, const struct coh_app *app);

/* ---- authentication (auth.c) ----------------------------------------------------------- */
/*
 * Requires a valid bearer token. On success fills req->account and req->session_id and
 * returns 1; otherwise sends 401 problem+json (with WWW-Authenticate) and returns 0.
 */
int coh_http_auth_require(struct coh_http_req *req);

/* ---- rate limiting (ratelimit.c) -------------------------------------------------------- */
struct coh_ratelimit *coh_ratelimit_new(double per_second, double burst);
void coh_ratelimit_free(struct coh_ratelimit *r);
/* Takes one token for key; returns 1 when allowed, 0 when limited (*retry_after seconds). */
int coh_ratelimit_take(struct coh_ratelimit *r, const char *key, int *retry_after);
/*
 * Takes one token of r for key (an account, a client IP). Returns 0 when allowed (also when r
 * is NULL: no limit); otherwise answers 429 rate-limited with Retry-After and the detail "too
 * many <what>; retry in N s", and returns 1.
 */
int coh_http_rate_limited(struct coh_http_req *req, struct coh_ratelimit *r, const char *key,
                          const char *what);

#endif
