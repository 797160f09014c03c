/*
 * http_client: one libcurl easy handle per call, which is plenty for a command that makes
 * two or three requests. Redirects are not followed (a POST must not wander off to another
 * host with a signed message), only http and https are allowed, and the whole exchange is
 * bounded by COH_CLI_HTTP_TIMEOUT_S and COH_CLI_HTTP_MAX_BODY.
 */
#include "cli/http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
    char *buf;
    size_t len, cap;
    int too_large;
};

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
    struct sink *s = user;
    size_t add = size * n;
    if (s->len + add > COH_CLI_HTTP_MAX_BODY) {
        s->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + add + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

void coh_cli_http_resp_clear(struct coh_cli_http_resp *r)
{
    if (!r)
        return;
    if (r->body) /* answers may carry bearer tokens */
        sodium_memzero(r->body, r->body_len);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int transport_error(coh_err *err, CURLcode rc, const char *detail, const char *url)
{
    int code = COH_ERR_UNAVAILABLE;
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
        code = COH_ERR_INVALID;
    else if (rc == CURLE_OUT_OF_MEMORY)
        code = COH_ERR_NOMEM;
    return coh_err_set(err, code, "cannot reach %s: %s", url,
                       detail[0] ? detail : curl_easy_strerror(rc));
}

int coh_cli_http_request(struct coh_cli_http_resp *out, const char *url, const char *json_body,
                         const char *bearer, coh_err *err)
{
    memset(out, 0, sizeof *out);
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK)
        return coh_err_set(err, COH_ERR_UNAVAILABLE, "cannot initialize libcurl");
    CURL *h = curl_easy_init();
    if (!h)
        return coh_err_set(err, COH_ERR_NOMEM, "cannot initialize libcurl");

    struct curl_slist *hdrs = NULL;
    char auth[512] = "";
    struct sink sink = {0};
    char detail[CURL_ERROR_SIZE] = "";
    int fail = 0;
    if (bearer) {
        int n = snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        if (n < 0 || (size_t)n >= sizeof auth)
            fail = coh_err_set(err, COH_ERR_INVALID, "bearer token too long");
    }
    struct curl_slist *t = curl_slist_append(NULL, "Accept: application/json");
    hdrs = t;
    if (t && json_body)
        t = curl_slist_append(hdrs, "Content-Type: application/json");
    if (t && bearer)
        t = curl_slist_append(hdrs, auth);
    if (!t && !fail)
        fail = coh_err_set(err, COH_ERR_NOMEM, "out of memory");

    CURLcode rc = CURLE_OK;
    if (!fail) {
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)COH_CLI_HTTP_TIMEOUT_S);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)COH_CLI_HTTP_TIMEOUT_S);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "cohort-cli");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
        if (json_body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json_body));
        }
        rc = curl_easy_perform(h);
        if (sink.too_large)
            fail = coh_err_set(err, COH_ERR_LIMIT, "the answer from %s exceeds %d bytes", url,
                               COH_CLI_HTTP_MAX_BODY);
        else if (rc != CURLE_OK)
            fail = transport_error(err, rc, detail, url);
    }
    if (!fail && !sink.buf) { /* an empty body is still a string */
        sink.buf = calloc(1, 1);
        if (!sink.buf)
            fail = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    if (!fail) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        char *ct = NULL;
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
            size_t n = strcspn(ct, "; \t");
            if (n >= sizeof out->content_type)
                n = sizeof out->content_type - 1;
            for (size_t i = 0; i < n; i++)
                out->content_type[i] = (char)tolower((unsigned char)ct[i]);
            out->content_type[n] = '\0';
        }
        out->body = sink.buf;
        out->body_len = sink.len;
        sink.buf = NULL;
    }
    free(sink.buf);
    curl_slist_free_all(hdrs);
    sodium_memzero(auth, sizeof auth);
    curl_easy_cleanup(h);
    return fail;
}

/* The body as a JSON object (new reference), or NULL if it is not one. */
static json_t *body_object(const struct coh_cli_http_resp *r)
{
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Copies s into out with control characters as spaces, so the message stays one line. */
static void one_line(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out[i] = '\0';
}

int coh_cli_http_call(json_t **out, long *status, const char *url, const char *json_body,
                      const char *bearer, coh_err *err)
{
    *out = NULL;
    *status = 0;
    struct coh_cli_http_resp r;
    int rc = coh_cli_http_request(&r, url, json_body, bearer, err);
    if (rc)
        return rc;
    *status = r.status;
    json_t *j = r.body_len ? body_object(&r) : NULL;
    if (r.status >= 200 && r.status < 300) {
        if (r.body_len && !j)
            rc = coh_err_set(err, COH_ERR_INVALID, "%s answered HTTP %ld without a JSON object",
                             url, r.status);
        else
            *out = j;
    } else {
        const char *d = NULL;
        if (strcmp(r.content_type, "application/problem+json") == 0) {
            d = json_string_value(json_object_get(j, "detail"));
            if (!d)
                d = json_string_value(json_object_get(j, "title"));
        }
        char text[200];
        one_line(text, sizeof text, d ? d : url);
        rc = d ? coh_err_set(err, COH_ERR_INVALID, "HTTP %ld: %s", r.status, text)
               : coh_err_set(err, COH_ERR_INVALID, "HTTP %ld from %s", r.status, text);
        json_decref(j);
    }
    coh_cli_http_resp_clear(&r);
    return rc;
}
