/*
 * rpc: a JSON-RPC 2.0 client over libcurl for talking to an EVM node. Each call uses its own
 * easy handle (so one coh_chain_rpc may be shared by threads), a per-attempt timeout, and
 * retries with doubling backoff on transport failures only: connection errors, timeouts,
 * HTTP 5xx/429, or a body that is not a JSON-RPC response. A JSON-RPC error object is the
 * node's verdict and is returned at once, its message copied into err (it is public chain
 * data, never a secret). Retrying eth_sendRawTransaction is safe: the same signed bytes
 * have the same hash, and callers treat "already known" as success.
 */
#include "chain/chain.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct coh_chain_rpc {
    char *url;
    coh_chain_rpc_opts opts;
    pthread_mutex_t lock; /* guards next_id */
    uint64_t next_id;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *coh_chain_strerror(int code)
{
    switch (code) {
    case COH_CHAIN_ERLP:
        return "malformed or non-canonical RLP";
    case COH_CHAIN_ETRAILING:
        return "trailing bytes after RLP item";
    case COH_CHAIN_EDEPTH:
        return "RLP nesting too deep";
    case COH_CHAIN_ETXTYPE:
        return "not an EIP-1559 transaction";
    case COH_CHAIN_ETXFIELD:
        return "transaction field malformed";
    case COH_CHAIN_EZEROS:
        return "integer with leading zeros";
    case COH_CHAIN_EOVERFLOW:
        return "integer too large for its type";
    case COH_CHAIN_EFEE:
        return "inconsistent transaction fees";
    case COH_CHAIN_EABI:
        return "malformed ABI data";
    case COH_CHAIN_ERPC:
        return "node returned an error";
    case COH_CHAIN_ETRANSPORT:
        return "cannot reach the node";
    default:
        return coh_crypto_strerror(code);
    }
}

coh_chain_rpc *coh_chain_rpc_new(const char *url, const coh_chain_rpc_opts *opts)
{
    pthread_once(&curl_once, curl_init);
    coh_chain_rpc *rpc = calloc(1, sizeof *rpc);
    if (!rpc)
        return NULL;
    rpc->url = strdup(url);
    if (!rpc->url) {
        free(rpc);
        return NULL;
    }
    rpc->opts = (coh_chain_rpc_opts){10000, 3, 200};
    if (opts) {
        if (opts->timeout_ms > 0)
            rpc->opts.timeout_ms = opts->timeout_ms;
        if (opts->retries >= 0)
            rpc->opts.retries = opts->retries;
        if (opts->backoff_ms > 0)
            rpc->opts.backoff_ms = opts->backoff_ms;
    }
    pthread_mutex_init(&rpc->lock, NULL);
    rpc->next_id = 1;
    return rpc;
}

void coh_chain_rpc_free(coh_chain_rpc *rpc)
{
    if (!rpc)
        return;
    pthread_mutex_destroy(&rpc->lock);
    free(rpc->url);
    free(rpc);
}

typedef struct body {
    char *data;
    size_t len;
    int too_big;
} body;

#define RPC_MAX_BODY (64u << 20)

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > RPC_MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    char *p = realloc(b->data, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = 0;
    b->data = p;
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Posts request text; on success *resp is the parsed JSON body. Retries transport errors. */
static int post(coh_chain_rpc *rpc, json_t **resp, const char *request, const char *what,
                coh_err *err)
{
    *resp = NULL;
    long backoff = rpc->opts.backoff_ms;
    char last[200] = "no attempt";
    for (int attempt = 0; attempt <= rpc->opts.retries; attempt++) {
        if (attempt > 0) {
            sleep_ms(backoff);
            backoff *= 2;
        }
        CURL *c = curl_easy_init();
        if (!c)
            return coh_err_set(err, COH_ERR_NOMEM, "curl_easy_init failed");
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
        body b = {0};
        curl_easy_setopt(c, CURLOPT_URL, rpc->url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rpc->opts.timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rpc->opts.timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        CURLcode cr = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(hdr);
        curl_easy_cleanup(c);
        if (cr != CURLE_OK) {
            snprintf(last, sizeof last, "%s", curl_easy_strerror(cr));
        } else if (status == 429 || status >= 500) {
            snprintf(last, sizeof last, "HTTP %ld", status);
        } else {
            json_error_t je;
            json_t *j = b.data ? json_loads(b.data, 0, &je) : NULL;
            free(b.data);
            if (j) {
                *resp = j;
                return 0;
            }
            snprintf(last, sizeof last, "HTTP %ld with a body that is not JSON", status);
            continue;
        }
        free(b.data);
    }
    return coh_err_set(err, COH_CHAIN_ETRANSPORT, "%s: %s (after %d attempts)", what, last,
                       rpc->opts.retries + 1);
}

static uint64_t take_ids(coh_chain_rpc *rpc, size_t n)
{
    pthread_mutex_lock(&rpc->lock);
    uint64_t id = rpc->next_id;
    rpc->next_id += n;
    pthread_mutex_unlock(&rpc->lock);
    return id;
}

static json_t *make_request(uint64_t id, const char *method, json_t *params)
{
    return json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)id, "method",
                     method, "params", params ? params : json_array());
}

static char *hex_dup(const uint8_t *p, size_t len)
{
    char *h = malloc(2 * len + 3);
    if (h)
        coh_hex_encode(h, p, len, 1);
    return h;
}

json_t *coh_chain_json_hex(const uint8_t *b, size_t n)
{
    char *h = hex_dup(b, n);
    json_t *j = h ? json_string(h) : NULL;
    free(h);
    return j;
}

/* Extracts result or the node's error from one response object. */
static int take_result(json_t **result, json_t *resp, const char *method, coh_err *err)
{
    *result = NULL;
    json_t *e = json_object_get(resp, "error");
    if (e && !json_is_null(e)) {
        const char *msg = json_string_value(json_object_get(e, "message"));
        json_t *data = json_object_get(e, "data");
        const char *dstr = json_string_value(data);
        return coh_err_set(err, COH_CHAIN_ERPC, "%s: %s%s%s (code %lld)", method,
                           msg ? msg : "error without message", dstr ? ": " : "", dstr ? dstr : "",
                           (long long)json_integer_value(json_object_get(e, "code")));
    }
    json_t *r = json_object_get(resp, "result");
    if (!r)
        return coh_err_set(err, COH_CHAIN_ETRANSPORT, "%s: response has neither result nor error",
                           method);
    *result = json_incref(r);
    return 0;
}

int coh_chain_rpc_call(coh_chain_rpc *rpc, json_t **result, const char *method, json_t *params,
                       coh_err *err)
{
    *result = NULL;
    json_t *req = make_request(take_ids(rpc, 1), method, params);
    if (!req)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    json_t *resp;
    int r = post(rpc, &resp, text, method, err);
    free(text);
    if (r != 0)
        return r;
    r = take_result(result, resp, method, err);
    json_decref(resp);
    return r;
}

int coh_chain_rpc_batch(coh_chain_rpc *rpc, json_t **results, const char *const *methods,
                        json_t **params, size_t n, coh_err *err)
{
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;
    uint64_t id0 = take_ids(rpc, n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, make_request(id0 + i, methods[i], params[i]));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    json_t *resp;
    int r = post(rpc, &resp, text, "batch", err);
    free(text);
    if (r != 0)
        return r;
    if (!json_is_array(resp)) {
        /* A node without batch support answers with one error object. */
        json_t *dummy;
        r = take_result(&dummy, resp, "batch", err);
        json_decref(dummy);
        json_decref(resp);
        return r ? r : coh_err_set(err, COH_CHAIN_ETRANSPORT, "batch: answer is not an array");
    }
    int first = 0;
    size_t idx;
    json_t *item;
    json_array_foreach(resp, idx, item)
    {
        json_int_t id = json_integer_value(json_object_get(item, "id"));
        if (id < (json_int_t)id0 || id >= (json_int_t)(id0 + n))
            continue;
        size_t k = (size_t)(id - (json_int_t)id0);
        if (results[k] != NULL)
            continue; /* a repeated id: the first answer counts (and is not leaked) */
        coh_err e2 = {0};
        int rr = take_result(&results[k], item, methods[k], &e2);
        if (rr != 0 && first == 0) {
            first = rr;
            coh_err_set(err, rr, "%s", e2.msg);
        }
    }
    json_decref(resp);
    for (size_t i = 0; i < n && first == 0; i++)
        if (!results[i])
            first = coh_err_set(err, COH_CHAIN_ETRANSPORT, "%s: no answer in batch", methods[i]);
    return first;
}

int coh_chain_rpc_u64(coh_chain_rpc *rpc, uint64_t *out, const char *method, json_t *params,
                      coh_err *err)
{
    *out = 0;
    json_t *res;
    int r = coh_chain_rpc_call(rpc, &res, method, params, err);
    if (r != 0)
        return r;
    if (coh_chain_quantity_u64(out, json_string_value(res)) != 0)
        r = coh_err_set(err, COH_CHAIN_ETRANSPORT, "%s: result is not a 64-bit quantity", method);
    json_decref(res);
    return r;
}

int coh_chain_rpc_eth_call(coh_chain_rpc *rpc, uint8_t **out, size_t *out_len, const uint8_t to[20],
                           const uint8_t *data, size_t len, coh_err *err)
{
    return coh_chain_rpc_eth_call_at(rpc, out, out_len, to, data, len, "latest", err);
}

int coh_chain_rpc_eth_call_at(coh_chain_rpc *rpc, uint8_t **out, size_t *out_len,
                              const uint8_t to[20], const uint8_t *data, size_t len,
                              const char *block, coh_err *err)
{
    *out = NULL;
    *out_len = 0;
    char toh[COH_ADDR_HEX_SIZE];
    coh_hex_encode(toh, to, 20, 1);
    char *dh = hex_dup(data, len);
    if (!dh)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    json_t *params = json_pack("[{s:s, s:s}, s]", "to", toh, "data", dh, block);
    free(dh);
    json_t *res;
    int r = coh_chain_rpc_call(rpc, &res, "eth_call", params, err);
    if (r != 0)
        return r;
    const char *s = json_string_value(res);
    size_t n = s ? strlen(s) : 0;
    uint8_t *buf = malloc(n / 2 + 1);
    long got = (buf && s) ? coh_hex_decode(buf, n / 2 + 1, s) : -1;
    json_decref(res);
    if (got < 0) {
        free(buf);
        return coh_err_set(err, COH_CHAIN_ETRANSPORT, "eth_call: result is not hex");
    }
    *out = buf;
    *out_len = (size_t)got;
    return 0;
}

int coh_chain_rpc_send_raw(coh_chain_rpc *rpc, uint8_t hash[32], const uint8_t *raw, size_t len,
                           coh_err *err)
{
    memset(hash, 0, 32);
    char *h = hex_dup(raw, len);
    if (!h)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    json_t *res;
    int r = coh_chain_rpc_call(rpc, &res, "eth_sendRawTransaction", json_pack("[s]", h), err);
    free(h);
    if (r != 0)
        return r;
    if (coh_hex_decode_exact(hash, 32, json_string_value(res) ? json_string_value(res) : "") != 0)
        r = coh_err_set(err, COH_CHAIN_ETRANSPORT, "eth_sendRawTransaction: result not a hash");
    json_decref(res);
    return r;
}
