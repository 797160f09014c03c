/*
 * h_ledger: the public ledger. GET /v1/ledger/entries (cursor pagination ?after=&limit=,
 * filters ?account=&kind=&request=), GET /v1/ledger/entries/{seq} (with its inclusion proof
 * and anchor), GET /v1/accounts/{address}/balance, GET /v1/me/credits. The ledger is public so
 * anyone can re-walk the chain with `cohort verify`; it names researchers' accounts and, for
 * contributors, only counts and roots. What an address earned, claimed and may claim is served
 * to that address alone, signed in (docs/LEDGER.md). Every query parameter is validated and a
 * bad one is a 422 naming it; amounts are decimal strings.
 */
#include "crypto/crypto.h"
#include "db/db.h"
#include "http/handlers.h"
#include "market/market.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static int bad_param(struct coh_http_req *req, const char *name, const char *why)
{
    coh_http_problem_ext(req, COH_PROBLEM_INVALID_PARAMETER,
                         json_pack("{s:s,s:s}", "parameter", name, "in", "query"), "'%s' %s", name,
                         why);
    return -1;
}

/* Reads ?account=: an address (any case, EIP-55 checked when mixed) or an account name. */
static int account_param(struct coh_http_req *req, char out[COH_LEDGER_STR_MAX + 1])
{
    out[0] = '\0';
    if (coh_http_query_get(req, "account", out, COH_LEDGER_STR_MAX + 1) < 0)
        return 0;
    if (strncmp(out, "0x", 2) == 0 || strncmp(out, "0X", 2) == 0) {
        uint8_t a[20];
        if (coh_crypto_address_parse(a, out) != 0)
            return bad_param(req, "account", "is not a valid address");
        coh_hex_encode(out, a, 20, 1);
        return 0;
    }
    const char *colon = strchr(out, ':');
    if (strcmp(out, "chain") != 0 && (!colon || strlen(colon + 1) < 3))
        return bad_param(req, "account",
                         "must be an address, 'chain', or an account such as available:0x...");
    if (colon)
        lower(out);
    return 0;
}

void coh_h_ledger_entries(struct coh_http_req *req)
{
    char account[COH_LEDGER_STR_MAX + 1], kind[32] = "", request[80] = "";
    struct coh_db_ledger_filter f = {.after = 0, .limit = PAGE_DEFAULT};
    long long after, limit;
    if (coh_http_query_int(req, "after", 0, 0, LLONG_MAX, &after) ||
        coh_http_query_int(req, "limit", PAGE_DEFAULT, 1, PAGE_MAX, &limit))
        return;
    f.after = (uint64_t)after;
    f.limit = (int)limit;
    if (account_param(req, account) != 0)
        return;
    if (coh_http_query_get(req, "kind", kind, sizeof kind) >= 0 && !coh_ledger_kind_parse(kind)) {
        bad_param(req, "kind",
                  "must be one of deposit, escrow, reward, refund, withdrawal, claim, "
                  "key_rotation");
        return;
    }
    if (coh_http_query_get(req, "request", request, sizeof request) >= 0) {
        uint8_t id[32];
        if (coh_hex_decode_exact(id, 32, request) != 0 || strncmp(request, "0x", 2) != 0) {
            bad_param(req, "request", "must be a request id: 0x and 64 hex digits");
            return;
        }
        lower(request);
    }
    f.account = account;
    f.kind = kind;
    f.request = request;
    coh_ledger_entry *es = NULL;
    size_t n = 0;
    coh_err err = {0};
    if (coh_db_ledger_entries(&es, &n, req->app->read_db, &f, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, coh_ledger_entry_to_json(&es[i]));
    /* docs/API.md: a sequence number is a JSON number. */
    json_t *next = n == (size_t)f.limit ? json_integer((json_int_t)es[n - 1].seq) : json_null();
    free(es);
    coh_http_send_json(req, 200,
                       json_pack("{s:o,s:o,s:i}", "entries", list, "next", next, "limit", f.limit));
}

void coh_h_ledger_entry(struct coh_http_req *req)
{
    long long seq;
    if (coh_http_param_int(req, 0, "seq", 1, LLONG_MAX, &seq))
        return;
    coh_ledger_entry e;
    coh_err err = {0};
    if (coh_db_ledger_entry_get(&e, req->app->read_db, seq, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    /* The batch that holds it: inclusion proof and anchor (both null until batched). */
    json_t *anchor = coh_db_chain_entry_anchor_json(req->app->read_db, seq, &err);
    if (!anchor) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *j = coh_ledger_entry_to_json(&e);
    if (j)
        json_object_update(j, anchor);
    json_decref(anchor);
    coh_http_send_json(req, 200, j);
}

int coh_http_address_param(struct coh_http_req *req, int i, char lower[COH_ADDR_HEX_SIZE])
{
    uint8_t a[20];
    int rc = coh_crypto_address_parse(a, coh_http_param(req, i));
    if (rc) {
        coh_http_problem(req, COH_PROBLEM_INVALID_ADDRESS, "%s", coh_crypto_strerror(rc));
        return 0;
    }
    coh_hex_encode(lower, a, 20, 1);
    return 1;
}

void coh_h_account_balance(struct coh_http_req *req)
{
    char addr[COH_ADDR_HEX_SIZE];
    if (!coh_http_address_param(req, 0, addr))
        return;
    /* Signed in as the address: everything; anyone else: the researcher's accounts only. */
    int own = 0;
    if (coh_http_header(req, "Authorization")) {
        if (!coh_http_auth_require(req))
            return;
        own = strcmp(req->account, addr) == 0;
    }
    struct coh_db_ledger_balance b;
    coh_err err = {0};
    if (coh_db_ledger_balance(&b, req->app->db, addr, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:I}", "address", addr, "available", b.available,
                          "escrowed", b.escrowed, "seq", (json_int_t)b.seq);
    if (j && own)
        json_object_update_new(j, json_pack("{s:s,s:s,s:s,s:s,s:s}", "earned", b.earned,
                                            "pending", b.pending, "claimable", b.claimable,
                                            "claimed", b.claimed, "anchored", b.anchored));
    coh_http_send_json(req, 200, j);
}

void coh_h_me_credits(struct coh_http_req *req)
{
    if (!coh_http_auth_require(req))
        return;
    json_t *list = NULL;
    coh_err err = {0};
    if (coh_svc_credits_view(&list, req->app->db, req->account, &err)) {
        coh_http_send_err(req, &err);
        return;
    }
    coh_http_send_json(req, 200, json_pack("{s:o}", "credits", list));
}
