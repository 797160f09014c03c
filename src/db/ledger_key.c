/*
 * ledger_key: the ledger's signing key, wrapped under the master key in ledger_keys: loaded
 * (or made once, concurrent starters agreeing on one), rotated with a signed key-rotation
 * entry, and which one is active.
 */
#include "db/ledger_internal.h"

#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRAP_CONTEXT "ledger"

/* Wraps a fresh key; out gets the bytea text of the blob and addr its address. */
static int new_wrapped(coh_secbuf **key, char out[2 + 2 * (32 + COH_CRYPTO_WRAP_OVERHEAD) + 1],
                       char addr[COH_ADDR_HEX_SIZE], const coh_secbuf *master, coh_err *err)
{
    uint8_t blob[32 + COH_CRYPTO_WRAP_OVERHEAD], a[20];
    if (coh_crypto_seckey_generate(key) ||
        coh_crypto_wrap(blob, master, WRAP_CONTEXT, coh_secbuf_data(*key), 32) ||
        coh_crypto_address_from_seckey(a, *key)) {
        coh_secbuf_free(*key);
        *key = NULL;
        return coh_err_set(err, COH_ERR_CRYPTO, "cannot generate the ledger key");
    }
    bytea(out, blob, sizeof blob);
    addr_lower(addr, a);
    return 0;
}

int coh_db_ledger_key_active(char address[COH_ADDR_HEX_SIZE], coh_db_pool *p, coh_err *err)
{
    address[0] = '\0';
    PGresult *r = coh_db_query(p, "SELECT address FROM ledger_keys WHERE active", 0, NULL, err);
    if (!r)
        return err->code;
    if (PQntuples(r) == 1)
        snprintf(address, COH_ADDR_HEX_SIZE, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int coh_db_ledger_key_load(coh_secbuf **key, uint8_t address[20], coh_db_pool *p,
                           const coh_secbuf *master, int create, coh_err *err)
{
    *key = NULL;
    memset(address, 0, 20);
    coh_db_conn *c = coh_db_ledger_borrow(p, err);
    if (!c)
        return err->code;
    int rc = 0;
    PGresult *r = NULL;
    for (int attempt = 0; attempt < 2 && !rc; attempt++) {
        r = coh_db_exec(c,
                        "SELECT address, encode(wrapped_key, 'hex') FROM ledger_keys WHERE active",
                        0, NULL, err);
        if (!r) {
            rc = err->code;
            break;
        }
        if (PQntuples(r) == 1 || !create || attempt == 1)
            break;
        PQclear(r);
        r = NULL;
        char blob[2 + 2 * (32 + COH_CRYPTO_WRAP_OVERHEAD) + 1], addr[COH_ADDR_HEX_SIZE];
        coh_secbuf *fresh = NULL;
        if ((rc = new_wrapped(&fresh, blob, addr, master, err)) != 0)
            break;
        coh_secbuf_free(fresh); /* reloaded below: a concurrent starter may have won */
        const char *params[] = {addr, blob};
        PGresult *ins =
            coh_db_exec(c,
                        "INSERT INTO ledger_keys (address, wrapped_key, active) VALUES ($1, "
                        "$2::bytea, true) ON CONFLICT (active) WHERE active DO NOTHING",
                        2, params, err);
        if (!ins)
            rc = err->code;
        PQclear(ins);
    }
    if (!rc && (!r || PQntuples(r) != 1))
        rc = coh_err_set(err, COH_ERR_NOTFOUND,
                         "no ledger key: run the set-up command or start cohortd once");
    if (!rc) {
        uint8_t blob[32 + COH_CRYPTO_WRAP_OVERHEAD], a[20];
        if (coh_hex_decode_exact(blob, sizeof blob, PQgetvalue(r, 0, 1)) != 0 ||
            coh_crypto_unwrap(key, master, WRAP_CONTEXT, blob, sizeof blob) != 0 ||
            coh_secbuf_len(*key) != 32 || coh_crypto_address_from_seckey(a, *key) != 0 ||
            coh_hex_decode_exact(address, 20, PQgetvalue(r, 0, 0)) != 0 ||
            memcmp(a, address, 20) != 0) {
            coh_secbuf_free(*key);
            *key = NULL;
            memset(address, 0, 20);
            rc = coh_err_set(err, COH_ERR_CRYPTO,
                             "the ledger key does not open under this master key");
        }
    }
    PQclear(r);
    coh_db_release(c);
    return rc;
}

int coh_db_ledger_key_rotate(coh_secbuf **new_key, uint8_t new_address[20], coh_db_pool *p,
                             const coh_secbuf *master, const coh_secbuf *old_key, coh_err *err)
{
    *new_key = NULL;
    memset(new_address, 0, 20);
    char blob[2 + 2 * (32 + COH_CRYPTO_WRAP_OVERHEAD) + 1], addr[COH_ADDR_HEX_SIZE],
        old_addr[COH_ADDR_HEX_SIZE];
    uint8_t old[20], head_hash[32];
    uint64_t head_seq;
    coh_secbuf *fresh = NULL;
    if (coh_crypto_address_from_seckey(old, old_key))
        return coh_err_set(err, COH_ERR_CRYPTO, "the old ledger key is not valid");
    addr_lower(old_addr, old);
    int rc = new_wrapped(&fresh, blob, addr, master, err);
    if (rc)
        return rc;
    coh_db_conn *c = coh_db_acquire(p, 5000, err);
    if (!c) {
        coh_secbuf_free(fresh);
        return err->code;
    }
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    e.kind = COH_LEDGER_KEY_ROTATION;
    const char *params[] = {addr, blob, old_addr};
    int replayed = 0;
    if (!(rc = coh_ledger_account_signer(e.debit, sizeof e.debit, old_addr, err)) &&
        !(rc = coh_ledger_account_signer(e.credit, sizeof e.credit, addr, err)) &&
        !(rc = coh_ledger_idem_key_rotation(e.idempotency_key, sizeof e.idempotency_key, addr,
                                            err)) &&
        !(rc = coh_ledger_entry_check(&e, err)) && !(rc = coh_db_cmd(c, "BEGIN", err)) &&
        !(rc = coh_db_ledger_lock_head(c, &head_seq, head_hash, old, err)) &&
        !(rc = coh_db_ledger_append(&e, &replayed, c, old_key, &head_seq, head_hash, err))) {
        PGresult *r =
            coh_db_exec(c,
                        "WITH old AS (UPDATE ledger_keys SET active = false, retired_at = "
                        "now() WHERE active AND address = $3 RETURNING 1) INSERT INTO "
                        "ledger_keys (address, wrapped_key, active) SELECT $1, $2::bytea, "
                        "true FROM old",
                        3, params, err);
        if (!r)
            rc = err->code;
        else if (atoi(PQcmdTuples(r)) != 1)
            rc = coh_err_set(err, COH_ERR_CONFLICT, "the old ledger key is not the active one");
        PQclear(r);
        if (!rc)
            rc = coh_db_cmd(c, "COMMIT", err);
    }
    coh_db_release(c);
    if (rc) {
        coh_secbuf_free(fresh);
        return rc;
    }
    *new_key = fresh;
    return coh_hex_decode_exact(new_address, 20, addr) ? COH_ERR_CRYPTO : 0;
}

int coh_db_ledger_key_retired(int *retired, coh_db_pool *p, const char *address, coh_err *err)
{
    *retired = 0;
    const char *pp[1] = {address};
    PGresult *r = coh_db_query(
        p, "SELECT EXISTS (SELECT 1 FROM ledger_keys WHERE address = $1 AND NOT active)", 1, pp,
        err);
    if (!r)
        return err->code;
    *retired = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}
