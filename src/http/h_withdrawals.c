/*
 * h_withdrawals: POST /v1/me/withdrawals. A signed-in account moves part of its unused
 * available balance (deposits not locked in escrow, refunds) to the pooled payable account
 * with a credit to its address, so the next anchor includes it in the claims tree and the
 * wallet can claim it on chain like any reward (coh_svc_withdraw).
 *
 * Body {"amount": "<decimal base units>", "idempotency_key": "..."}; the key may instead come
 * in an Idempotency-Key header (the header wins when both are sent). A key is required: a
 * retried request returns the original entry (200) and never moves funds twice; the same key
 * with another amount is 409. Short of funds: 402 insufficient-funds.
 */
#include "crypto/crypto.h"
#include "db/db.h"
#include "http/handlers.h"
#include "market/market.h"

#include <string.h>

#define KEY_MAX 64 /* client key bytes; the ledger key adds "withdrawal:<addr>:" (53) */

/* A decimal uint256 > 0 written without sign, spaces or leading zeros. */
static int parse_amount(uint8_t out[32], const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 78 || s[0] == '0' || strspn(s, "0123456789") != n)
        return -1;
    return coh_u256_from_dec(out, s) == 0 ? 0 : -1;
}

static int key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return 0;
    return 1;
}

void coh_h_withdrawals_create(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    json_t *body = coh_http_body_object(req);
    if (!body)
        return;
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    const char *key = coh_http_header(req, "Idempotency-Key");
    if (!key)
        key = json_string_value(json_object_get(body, "idempotency_key"));
    if (parse_amount(e.amount, json_string_value(json_object_get(body, "amount"))) != 0) {
        json_decref(body);
        coh_http_problem_ext(req, COH_PROBLEM_INVALID_PARAMETER,
                             json_pack("{s:s,s:s}", "parameter", "amount", "in", "body"),
                             "amount must be a positive integer of token base units "
                             "written as a decimal string, e.g. \"1000000000000000000\"");
        return;
    }
    if (!key_ok(key)) {
        json_decref(body);
        coh_http_problem_ext(req, COH_PROBLEM_INVALID_PARAMETER,
                             json_pack("{s:s,s:s}", "parameter", "idempotency_key", "in", "body"),
                             "send an Idempotency-Key header (or idempotency_key) of 1 to "
                             "%d printable characters, so a retry never withdraws twice",
                             KEY_MAX);
        return;
    }
    char client_key[KEY_MAX + 1];
    snprintf(client_key, sizeof client_key, "%s", key);
    uint8_t amount[32];
    memcpy(amount, e.amount, 32);
    json_decref(body); /* key pointed into body only when no header was sent: copied above */
    int replayed = 0;
    coh_err err = {0};
    int rc = coh_svc_withdraw(&e, &replayed, req->app->db, req->app->ledger_key, req->account,
                                 amount, client_key, &err);
    if (rc == COH_ERR_LIMIT) {
        struct coh_db_ledger_balance b;
        coh_err e2 = {0};
        const char *avail =
            coh_db_ledger_balance(&b, req->app->db, req->account, &e2) == 0 ? b.available : NULL;
        coh_http_problem_ext(req, COH_PROBLEM_INSUFFICIENT_FUNDS,
                             json_pack("{s:s?}", "available", avail),
                             "the amount exceeds your available balance%s%s", avail ? " of " : "",
                             avail ? avail : "");
        return;
    }
    if (rc == COH_ERR_CONFLICT && strstr(err.msg, "idempotency key")) {
        coh_http_problem(req, COH_PROBLEM_IDEMPOTENCY_CONFLICT,
                         "this idempotency key was used for a different withdrawal");
        return;
    }
    if (rc) {
        coh_http_send_err(req, &err);
        return;
    }
    coh_http_send_json(req, replayed ? 200 : 201, coh_ledger_entry_to_json(&e));
}
