/*
 * h_auth: Sign-In with Ethereum. GET /v1/auth/nonce issues a single-use nonce;
 * POST /v1/auth/siwe checks the EIP-4361 message and its EIP-191 signature against the
 * configured domain, URI and chain, consumes the nonce, and answers an opaque bearer token.
 *
 * Two token buckets of signin_rate_per_min (ratelimit.c), each answering 429 rate-limited
 * with Retry-After:
 * - per client (its address as coh_http_client_addr finds it behind trusted proxies; an IPv6
 *   client by its /64): every nonce and every sign-in attempt, checked before anything else;
 * - per signing address: only sign-ins whose signature verifies, so nobody but the key's holder
 *   can spend it. Charging it for every attempt naming an address let anyone lock a wallet out
 *   with bogus signatures.
 */
#include "crypto/crypto.h"
#include "http/handlers.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SIWE_MAX_MESSAGE 4096
#define SIWE_SKEW_MS 60000

uint64_t coh_http_chain_id(const struct coh_http_req *req)
{
    return (uint64_t)coh_config_int(req->app->config, "chain_id");
}

/* The authority part of public_url ("127.0.0.1:8080"), which SIWE calls the domain. */
static void public_authority(char *out, size_t cap, const char *url)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    size_t n = strcspn(s, "/?#");
    snprintf(out, cap, "%.*s", (int)n, s);
}

static int rate_limited(struct coh_http_req *req, const char *kind, const char *key)
{
    char k[96], what[64], bucket[64];
    if (strcmp(kind, "client") == 0) {
        coh_http_client_bucket(bucket, sizeof bucket, key);
        key = bucket;
    }
    snprintf(k, sizeof k, "%s:%s", kind, key);
    snprintf(what, sizeof what, "sign-in attempts for this %s", kind);
    return coh_http_rate_limited(req, req->app->ratelimit, k, what);
}

void coh_h_auth_nonce(struct coh_http_req *req)
{
    if (rate_limited(req, "client", req->remote))
        return;
    uint8_t raw[16];
    char nonce[33];
    randombytes_buf(raw, sizeof raw);
    coh_hex_encode(nonce, raw, sizeof raw, 0);
    long ttl = coh_config_int(req->app->config, "nonce_ttl_s");
    coh_err err = {0};
    if (coh_db_nonce_insert(req->app->db, nonce, ttl, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    char domain[256];
    const char *url = coh_config_str(req->app->config, "public_url");
    public_authority(domain, sizeof domain, url);
    coh_http_send_json(req, 200,
                       json_pack("{s:s,s:I,s:s,s:s,s:I}", "nonce", nonce, "expires_in", (json_int_t)ttl,
                                 "domain", domain, "uri", url, "chain_id",
                                 (json_int_t)coh_http_chain_id(req)));
}

static void siwe_failure(struct coh_http_req *req, int code)
{
    const char *why = coh_crypto_strerror(code);
    enum coh_problem p;
    switch (code) {
    case COH_SIWE_EDOMAIN_MISMATCH: p = COH_PROBLEM_SIWE_DOMAIN_MISMATCH; break;
    case COH_SIWE_EURI_MISMATCH: p = COH_PROBLEM_SIWE_URI_MISMATCH; break;
    case COH_SIWE_ECHAIN_MISMATCH: p = COH_PROBLEM_SIWE_CHAIN_MISMATCH; break;
    case COH_SIWE_EEXPIRED: p = COH_PROBLEM_SIWE_EXPIRED; break;
    case COH_SIWE_ENOT_YET_VALID: p = COH_PROBLEM_SIWE_NOT_YET_VALID; break;
    case COH_SIWE_EISSUED_FUTURE: p = COH_PROBLEM_SIWE_ISSUED_IN_FUTURE; break;
    case COH_SIWE_ESIGNER: p = COH_PROBLEM_SIWE_SIGNATURE_MISMATCH; break;
    case COH_SIWE_ESIGNATURE: p = COH_PROBLEM_MALFORMED_SIGNATURE; break;
    default: p = COH_PROBLEM_INVALID_SIWE_MESSAGE;
    }
    coh_http_problem(req, p, "%s", why);
}

void coh_h_auth_siwe(struct coh_http_req *req)
{
    if (rate_limited(req, "client", req->remote))
        return;
    json_t *body = coh_http_body_object(req);
    if (!body)
        return;
    const char *message = json_string_value(json_object_get(body, "message"));
    const char *signature = json_string_value(json_object_get(body, "signature"));
    if (!message || !signature) {
        json_decref(body);
        coh_http_problem(req, COH_PROBLEM_INVALID, "'message' and 'signature' must be strings");
        return;
    }
    size_t msg_len = strlen(message);
    if (msg_len > SIWE_MAX_MESSAGE) {
        json_decref(body);
        coh_http_problem(req, COH_PROBLEM_MESSAGE_TOO_LARGE,
                         "the message has %zu bytes; the limit is %d", msg_len, SIWE_MAX_MESSAGE);
        return;
    }
    coh_crypto_siwe_msg m;
    int rc = coh_crypto_siwe_parse(&m, message, msg_len);
    if (rc) {
        json_decref(body);
        siwe_failure(req, rc);
        return;
    }
    char addr[COH_ADDR_HEX_SIZE];
    coh_hex_encode(addr, m.address, 20, 1);
    uint8_t sig[65];
    long sig_len = coh_hex_decode(sig, sizeof sig, signature);
    if (sig_len != 65) {
        coh_http_problem(req, COH_PROBLEM_MALFORMED_SIGNATURE,
                         "signature must be 65 bytes of hex (r || s || v)");
    } else {
        char domain[256];
        const char *url = coh_config_str(req->app->config, "public_url");
        public_authority(domain, sizeof domain, url);
        coh_crypto_siwe_expect ex = {.domain = domain,
                                     .uri = url,
                                     .chain_id = coh_http_chain_id(req),
                                     .now_ms = (int64_t)time(NULL) * 1000,
                                     .skew_ms = SIWE_SKEW_MS,
                                     .check_issued_at = 1};
        rc = coh_crypto_siwe_verify(&m, sig, 65, &ex);
        coh_err err = {0};
        if (rc) {
            siwe_failure(req, rc);
        } else if (rate_limited(req, "address", addr)) {
            /* answered; the nonce stays unused until it expires */
        } else if ((rc = coh_db_nonce_consume(req->app->db, m.nonce, &err)) != 0) {
            if (rc == COH_ERR_FORBIDDEN)
                coh_http_problem(req, COH_PROBLEM_SIWE_NONCE_INVALID, "%s", err.msg);
            else
                coh_http_send_err(req, &err);
        } else {
            char token[COH_HTTP_TOKEN_LEN + 1];
            uint8_t hash[32];
            coh_http_token_new(token);
            coh_http_token_hash(hash, token);
            struct coh_db_session s;
            long ttl = coh_config_int(req->app->config, "session_ttl_s");
            if (coh_db_session_create(&s, req->app->db, addr, hash, ttl,
                                      coh_http_header(req, "User-Agent"), &err)) {
                coh_http_send_err(req, &err);
            } else {
                char did[COH_CRYPTO_DID_MAX];
                coh_crypto_did_format(did, coh_http_chain_id(req), m.address);
                coh_http_send_json(req, 200,
                                   json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "token", token,
                                             "token_type", "Bearer", "address", addr, "did",
                                             did, "session_id", (json_int_t)s.id, "expires_at",
                                             s.expires_at));
            }
            sodium_memzero(token, sizeof token);
        }
    }
    coh_crypto_siwe_msg_clear(&m);
    json_decref(body);
}

void coh_h_auth_logout(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    coh_err err = {0};
    if (coh_db_session_revoke(req->app->db, req->session_id, req->account, &err))
        coh_http_send_err(req, &err);
    else
        coh_http_send_raw(req, 204, "application/json", NULL, "", 0);
}

void coh_h_me_sessions(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    coh_err err = {0};
    json_t *list = coh_db_sessions_list(req->app->db, req->account, req->session_id, &err);
    if (!list)
        coh_http_send_err(req, &err);
    else
        coh_http_send_json(req, 200, json_pack("{s:o}", "sessions", list));
}

/* "Sign out everywhere": every session of the signed-in address, this one included. */
void coh_h_me_sessions_revoke_all(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    coh_err err = {0};
    long long n = 0;
    if (coh_db_sessions_revoke_all(req->app->db, req->account, &n, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    coh_log_info("revoked all %lld session(s) of an account", n);
    coh_http_send_raw(req, 204, "application/json", NULL, "", 0);
}
