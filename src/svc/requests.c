/*
 * requests: a request is created and becomes visible only with its escrow locked; a draft left
 * behind by a creation that failed half-way is swept, its escrow refunded. Both halves of the
 * invariant "no escrow for an invisible request" live here.
 */
#include "svc/svc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The invite codes' hashes of a validated invite spec: the researcher's own (code_hashes), or n
 * codes made here from the CSPRNG (*codes, their text, shown once). *hashes NULL for open.
 */
static int invite_codes(uint8_t (**hashes)[32], size_t *n, json_t **codes, const json_t *spec,
                        const json_t *body, coh_err *err)
{
    *hashes = NULL;
    *n = 0;
    if (strcmp(coh_market_enrollment_mode(spec), "invite") != 0)
        return 0;
    json_t *own = json_object_get(json_object_get(body, "enrollment"), "code_hashes");
    if (own)
        return coh_market_invite_hashes(hashes, n, own, "enrollment.code_hashes", err);
    size_t want =
        (size_t)json_integer_value(json_object_get(json_object_get(spec, "enrollment"), "codes"));
    uint8_t(*h)[32] = malloc(want * 32);
    json_t *list = json_array();
    if (!h || !list) {
        free(h);
        json_decref(list);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < want; i++) {
        uint8_t raw[COH_MARKET_INVITE_CODE_BYTES];
        char text[COH_MARKET_INVITE_CODE_SIZE];
        randombytes_buf(raw, sizeof raw);
        coh_market_invite_code_text(text, raw);
        if (coh_market_invite_code_hash(h[i], text) != 0 ||
            json_array_append_new(list, json_string(text)) != 0) {
            free(h);
            json_decref(list);
            return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        }
        sodium_memzero(raw, sizeof raw);
        sodium_memzero(text, sizeof text);
    }
    *hashes = h;
    *n = want;
    *codes = list;
    return 0;
}

/*
 * Validates the whole specification (against the operator's floors), creates the request's
 * X25519 key pair (the secret wrapped under the master key, bound to the request id, never
 * stored in the clear), inserts the request as a draft with its invite codes' hashes, locks
 * reward x max_contributors in escrow and opens it: a draft, posted escrow, open, each
 * committed on its own.
 */
int coh_svc_request_create(char id[COH_HASH_HEX_SIZE], json_t **codes, coh_db_pool *db,
                           const coh_secbuf *master_key, const coh_secbuf *ledger_key,
                           const coh_market_floors *floors, const char *owner, const json_t *body,
                           int64_t now_s, coh_err *err)
{
    *codes = NULL;
    json_t *spec = NULL;
    int rc = coh_market_spec_validate(&spec, body, now_s, floors, err);
    if (!rc && (rc = coh_market_escrow_check(spec, floors, err)) != 0)
        json_decref(spec);
    if (rc)
        return rc == COH_ERR_NOMEM ? rc : COH_ERR_INVALID;
    uint8_t(*hashes)[32] = NULL;
    size_t n_codes = 0;
    if ((rc = invite_codes(&hashes, &n_codes, codes, spec, body, err)) != 0) {
        json_decref(spec);
        return rc;
    }
    uint8_t raw_id[32], fields_hash[32], pk[32];
    char fh[COH_HASH_HEX_SIZE], pk_hex[COH_HASH_HEX_SIZE];
    randombytes_buf(raw_id, sizeof raw_id);
    coh_hex_encode(id, raw_id, 32, 1);
    coh_secbuf *sk = NULL;
    uint8_t wrapped[COH_MARKET_REQKEY_BYTES] = {0};
    char wrapped_hex[2 * sizeof wrapped + 1];
    char *spec_text = json_dumps(spec, JSON_COMPACT);
    if (!spec_text || coh_crypto_jcs_keccak(fields_hash, json_object_get(spec, "schema")) != 0 ||
        coh_crypto_box_keypair(pk, &sk) != 0 ||
        coh_market_reqkey_wrap(wrapped, master_key, id, sk) != 0)
        rc = coh_err_set(err, COH_ERR_CRYPTO, "cannot create the request's keys");
    coh_secbuf_free(sk);
    coh_hex_encode(fh, fields_hash, 32, 1);
    coh_hex_encode(pk_hex, pk, 32, 1);
    coh_hex_encode(wrapped_hex, wrapped, sizeof wrapped, 0);
    int64_t closes_ms = 0;
    if (!rc &&
        coh_crypto_rfc3339_parse(&closes_ms, json_string_value(json_object_get(spec, "closes_at"))))
        rc = coh_err_set(err, COH_ERR_INVALID, "closes_at is not RFC 3339");
    long long expiry =
        closes_ms / 1000 + json_integer_value(json_object_get(spec, "retention_days")) * 86400LL;
    if (!rc)
        rc = coh_db_request_insert(db, id, owner, spec_text, fh, expiry, pk_hex, wrapped_hex, err);
    free(spec_text);
    /* While a draft: a creation that fails from here on is swept, codes and all unseen. */
    if (!rc && hashes)
        rc = coh_db_invite_codes_insert(db, id, (const uint8_t(*)[32])hashes, n_codes, err);
    free(hashes);
    if (!rc) {
        rc = coh_svc_escrow(
            db, ledger_key, id, owner, json_string_value(json_object_get(spec, "reward")),
            (uint32_t)json_integer_value(json_object_get(spec, "max_contributors")), err);
        if (rc == COH_ERR_LIMIT) {
            coh_err e2;
            if (coh_db_request_transition(db, id, "draft", "cancelled", &e2))
                coh_log_warn("request %s: cannot cancel draft: %s", id, e2.msg);
        }
    }
    if (!rc)
        rc = coh_db_request_transition(db, id, "draft", "open", err);
    json_decref(spec);
    if (rc) {
        json_decref(*codes);
        *codes = NULL;
    }
    return rc;
}

/*
 * Abandoned drafts. Creating a request inserts a draft, posts its escrow, then opens it, each
 * step committed on its own; a creation answered 503 (database restarted, disk full) can
 * leave a draft behind, and if only the last step failed, its escrow stays locked for a
 * request nobody can see. A creation takes seconds at most (pool wait and statement timeouts
 * bound each step), so a draft older than DRAFT_ABANDONED_S is abandoned: it is cancelled
 * (compare-and-set from 'draft', so a creation still finishing wins) and whatever escrow a
 * cancelled request holds goes back to its owner under the idempotency key refund:<id>, also
 * after a crash between the two steps. The release worker runs it every 10 s.
 */
#define DRAFT_ABANDONED_S 60

int coh_svc_drafts_sweep(coh_db_pool *db, const coh_secbuf *ledger_key, coh_err *err)
{
    PGresult *r = coh_db_drafts_abandon(db, DRAFT_ABANDONED_S, err);
    if (!r)
        return err->code;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        const char *id = PQgetvalue(r, i, 0);
        rc = coh_svc_refund(db, ledger_key, id, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                            (uint32_t)atol(PQgetvalue(r, i, 3)), err);
        if (!rc)
            coh_log_warn("request %s: abandoned draft cancelled, its escrow refunded", id);
    }
    PQclear(r);
    return rc;
}
