/*
 * auth: bearer tokens. A token is "coh_" + 64 hex chars (256 random bits); only its BLAKE2b
 * hash is stored, so a database leak yields no usable token. Lookup is by hash, so no token
 * comparison happens in this process at all.
 */
#include "http/http.h"
#include "http/handlers.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void coh_http_token_hash(uint8_t out[32], const char *token)
{
    crypto_generichash(out, 32, (const uint8_t *)token, strlen(token), NULL, 0);
}

void coh_http_token_new(char out[COH_HTTP_TOKEN_LEN + 1])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    memcpy(out, "coh_", 4);
    coh_hex_encode(out + 4, raw, sizeof raw, 0);
    sodium_memzero(raw, sizeof raw);
}

int coh_http_auth_require(struct coh_http_req *req)
{
    const char *h = coh_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        coh_http_problem(req, COH_PROBLEM_UNAUTHENTICATED,
                         "send 'Authorization: Bearer <token>' from POST /v1/auth/siwe");
        return 0;
    }
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    uint8_t hash[32];
    coh_http_token_hash(hash, token);
    struct coh_db_session s;
    coh_err err = {0};
    int rc = strlen(token) == COH_HTTP_TOKEN_LEN && strncmp(token, "coh_", 4) == 0
                 ? coh_db_session_find(&s, req->app->db, hash, &err)
                 : COH_ERR_NOTFOUND;
    if (rc == COH_ERR_NOTFOUND) {
        coh_http_problem(req, COH_PROBLEM_INVALID_TOKEN,
                         "the token is unknown, expired or revoked; sign in again");
        return 0;
    }
    if (rc) {
        coh_http_send_err(req, &err);
        return 0;
    }
    snprintf(req->account, sizeof req->account, "%s", s.address);
    req->session_id = s.id;
    return 1;
}
