/*
 * claims (db): GET /v1/claims/{address}. The address's cumulative amount is one indexed row of
 * chain_claim_leaves; its proof needs the whole tree of the anchor, which is built from all
 * leaves once per confirmed anchor and kept in a cache shared by the HTTP threads. Requests for
 * the same anchor wait on the one build rather than each building it again, holding no
 * database connection meanwhile. The tree of a million accounts takes 64 MiB.
 */
#include "svc/svc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coh_svc_claims_cache {
    pthread_mutex_t mu;
    long long anchor_id; /* whose tree t is (with its root); 0: none */
    uint8_t root[32];
    coh_ledger_merkle *t;
};

int coh_svc_claims_cache_new(coh_svc_claims_cache **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return COH_ERR_NOMEM;
    pthread_mutex_init(&(*out)->mu, NULL);
    return 0;
}

void coh_svc_claims_cache_free(coh_svc_claims_cache *c)
{
    if (!c)
        return;
    coh_ledger_merkle_free(c->t);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Builds the claims tree of an anchor from its stored leaves and checks it gives its root. */
static int tree_build(coh_ledger_merkle **out, coh_db_pool *p, const char *anchor_id,
                      const uint8_t root[32], coh_err *err)
{
    *out = NULL;
    PGresult *r = coh_db_chain_claims_leaves(p, anchor_id, err);
    if (!r)
        return err->code;
    int rc = coh_db_chain_claims_tree(out, r, err);
    PQclear(r);
    uint8_t got[32];
    if (!rc && *out)
        coh_ledger_merkle_root(got, *out);
    if (!rc && (!*out || memcmp(got, root, 32) != 0)) {
        coh_ledger_merkle_free(*out);
        *out = NULL;
        rc = coh_err_set(err, COH_ERR_DB, "anchor %s: stored leaves do not give its claims root",
                         anchor_id);
    }
    return rc;
}

/* The leaf's proof in the anchor's tree (from the cache, building it when it is another's). */
static int proof_of(json_t **out, coh_svc_claims_cache *cache, coh_db_pool *p,
                    const char *anchor_id, const uint8_t root[32], const uint8_t leaf[32],
                    coh_err *err)
{
    coh_ledger_merkle *own = NULL, *t;
    int rc = 0;
    if (cache) {
        pthread_mutex_lock(&cache->mu);
        if (cache->anchor_id != atoll(anchor_id) || memcmp(cache->root, root, 32) != 0) {
            coh_ledger_merkle *fresh;
            if ((rc = tree_build(&fresh, p, anchor_id, root, err)) == 0) {
                coh_ledger_merkle_free(cache->t);
                cache->t = fresh;
                cache->anchor_id = atoll(anchor_id);
                memcpy(cache->root, root, 32);
            }
        }
        t = cache->t;
    } else {
        rc = tree_build(&own, p, anchor_id, root, err);
        t = own;
    }
    uint8_t proof[64][32];
    size_t np = 0;
    long pos = rc ? -1 : coh_ledger_merkle_find(t, leaf);
    if (!rc && (pos < 0 || coh_ledger_merkle_proof(proof, 64, &np, t, (size_t)pos) != 0))
        rc = coh_err_set(err, COH_ERR_DB, "claims tree does not hold the leaf");
    if (cache)
        pthread_mutex_unlock(&cache->mu);
    coh_ledger_merkle_free(own);
    if (rc)
        return rc;
    *out = json_array();
    char h[COH_HASH_HEX_SIZE];
    for (size_t i = 0; *out && i < np; i++) {
        coh_hex_encode(h, proof[i], 32, 1);
        if (json_array_append_new(*out, json_string(h)) != 0) {
            json_decref(*out);
            *out = NULL;
        }
    }
    return *out ? 0 : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
}

json_t *coh_svc_claim_json(coh_db_pool *p, coh_svc_claims_cache *cache, const char *address,
                           coh_err *err)
{
    /* coh_db_query returns the connection before the proof, which may wait on a build. */
    PGresult *r = coh_db_chain_claim_effective(p, address, err);
    json_t *out = NULL, *proof = NULL;
    uint8_t root[32], addr[20], amt[32], leaf[32];
    if (!r)
        goto done;
    if (PQntuples(r) == 0) {
        coh_err_set(err, COH_ERR_NOTFOUND, "nothing anchored is effective yet");
        goto done;
    }
    if (PQgetisnull(r, 0, 5)) {
        coh_err_set(err, COH_ERR_NOTFOUND, "%s has no claim in the effective anchor", address);
        goto done;
    }
    const char *cumulative = PQgetvalue(r, 0, 5);
    if (coh_hex_decode_exact(root, 32, PQgetvalue(r, 0, 2)) ||
        coh_hex_decode_exact(addr, 20, address + 2) || coh_u256_from_dec(amt, cumulative)) {
        coh_err_set(err, COH_ERR_DB, "chain_anchors: malformed row");
        goto done;
    }
    coh_ledger_claim_leaf(leaf, addr, amt);
    if (proof_of(&proof, cache, p, PQgetvalue(r, 0, 0), root, leaf, err) != 0)
        goto done;
    char rh[COH_HASH_HEX_SIZE], lh[COH_HASH_HEX_SIZE], tx[COH_HASH_HEX_SIZE];
    snprintf(rh, sizeof rh, "0x%s", PQgetvalue(r, 0, 2));
    snprintf(tx, sizeof tx, "0x%s", PQgetvalue(r, 0, 3));
    coh_hex_encode(lh, leaf, 32, 1);
    out = json_pack("{s:s, s:s, s:o, s:s, s:s, s:{s:I, s:I, s:s, s:I, s:b, s:s}}", "address",
                    address, "cumulative_amount", cumulative, "proof", proof, "leaf", lh,
                    "claims_root", rh, "anchor", "id", (json_int_t)atoll(PQgetvalue(r, 0, 0)),
                    "last_seq", (json_int_t)atoll(PQgetvalue(r, 0, 1)), "tx_hash", tx,
                    "block_number", (json_int_t)atoll(PQgetvalue(r, 0, 4)), "confirmed",
                    strcmp(PQgetvalue(r, 0, 6), "t") == 0, "effective_at", PQgetvalue(r, 0, 7));
    if (!out)
        coh_err_set(err, COH_ERR_NOMEM, "out of memory");
done:
    PQclear(r);
    return out;
}
