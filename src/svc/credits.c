/*
 * credits: a contributor's own view of their private credits (GET /v1/me/credits). Each wave-2
 * credit comes with its salt and its inclusion proof against the root its reward entry
 * publishes, so the holder can check, with public data only, that they were paid what they
 * were told; the other leaves of the release are used here to build the proof and never leave.
 */
#include "svc/svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int leaf_of(uint8_t out[32], const json_t *row)
{
    uint8_t addr[20], amount[32], salt[32];
    if (coh_hex_decode_exact(addr, 20, json_string_value(json_array_get(row, 0))) != 0 ||
        coh_u256_from_dec(amount, json_string_value(json_array_get(row, 1))) != 0 ||
        coh_hex_decode_exact(salt, 32, json_string_value(json_array_get(row, 2))) != 0)
        return -1;
    coh_ledger_credit_leaf(out, addr, amount, salt);
    return 0;
}

/* Adds leaf and proof (0x hex) to credit c, proving address's leaf among c's leaves. */
static int add_proof(json_t *c, const char *address, coh_err *err)
{
    json_t *rows = json_object_get(c, "leaves");
    size_t n = json_array_size(rows), mine = n;
    uint8_t(*leaves)[32] = malloc((n + 1) * 32);
    if (!leaves)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, i);
        if (leaf_of(leaves[i], row) != 0) {
            free(leaves);
            return coh_err_set(err, COH_ERR_DB, "a stored credit is malformed");
        }
        if (strcmp(json_string_value(json_array_get(row, 0)), address) == 0)
            mine = i;
    }
    uint8_t leaf[32];
    memcpy(leaf, leaves[mine < n ? mine : 0], 32);
    coh_ledger_merkle *t = NULL;
    int rc = mine < n && coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, n, 1) == 0
                 ? 0
                 : coh_err_set(err, COH_ERR_DB, "a credit is missing from its release");
    free(leaves);
    uint8_t proof[64][32];
    size_t np = 0;
    long pos = rc ? -1 : coh_ledger_merkle_find(t, leaf);
    if (!rc && (pos < 0 || coh_ledger_merkle_proof(proof, 64, &np, t, (size_t)pos) != 0))
        rc = coh_err_set(err, COH_ERR_DB, "no proof for a credit");
    coh_ledger_merkle_free(t);
    if (rc)
        return rc;
    char hex[COH_HASH_HEX_SIZE];
    json_t *pj = json_array();
    for (size_t i = 0; i < np; i++) {
        coh_hex_encode(hex, proof[i], 32, 1);
        json_array_append_new(pj, json_string(hex));
    }
    coh_hex_encode(hex, leaf, 32, 1);
    json_object_set_new(c, "leaf", json_string(hex));
    json_object_set_new(c, "proof", pj);
    return 0;
}

int coh_svc_credits_view(json_t **out, coh_db_pool *db, const char *address, coh_err *err)
{
    *out = coh_db_credits_of(db, address, err);
    if (!*out)
        return err->code;
    size_t i;
    json_t *c;
    int rc = 0;
    json_array_foreach(*out, i, c)
    {
        if (!rc && !json_is_true(json_object_get(c, "wave1")))
            rc = add_proof(c, address, err);
        /* The root and count the public entry carries, as the holder will compare them. */
        const char *ref = json_string_value(json_object_get(c, "credits_ref"));
        uint64_t count;
        uint8_t root[32];
        if (ref && coh_ledger_credits_ref_parse(ref, &count, root) == 0) {
            char hex[COH_HASH_HEX_SIZE];
            coh_hex_encode(hex, root, 32, 1);
            json_object_set_new(c, "release_credits",
                                json_pack("{s:I,s:s}", "count", (json_int_t)count, "root", hex));
        }
        if (json_is_string(json_object_get(c, "salt"))) {
            char salt[COH_HASH_HEX_SIZE] = "0x";
            snprintf(salt + 2, sizeof salt - 2, "%s",
                     json_string_value(json_object_get(c, "salt")));
            json_object_set_new(c, "salt", json_string(salt));
        }
        json_object_del(c, "leaves");
        json_object_del(c, "credits_ref");
    }
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
